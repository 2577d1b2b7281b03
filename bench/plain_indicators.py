"""The baseline for `submit_indicators`: plain requests posting the same import calls of 500
with the same bearer token, and printing each value's id or failure compactly. Importable, so
the benchmark can run it in-process on the time-scaled emulator; as a script it reads
{"values": [...], "action": ..., "title": ..., "description": ...} on stdin."""

import json
import os
import sys
from typing import Any

import requests


def submit(base: str, token: str, ca: str, request: dict[str, Any]) -> str:
    session = requests.Session()
    results = []
    values = list(dict.fromkeys(v.lower() for v in request["values"]))
    for start in range(0, len(values), 500):
        batch = values[start : start + 500]
        indicators = [
            {
                "indicatorValue": value,
                "indicatorType": "FileSha256",
                "action": request["action"],
                "title": request["title"],
                "description": request["description"],
            }
            for value in batch
        ]
        response = session.post(
            f"{base}/api/indicators/import",
            json={"Indicators": indicators},
            headers={"Authorization": f"Bearer {token}"},
            verify=ca,
            timeout=60,
        )
        response.raise_for_status()
        for item in json.loads(response.content)["value"]:
            if item["isFailed"]:
                results.append({"value": item["indicator"], "failed": item["failureReason"]})
            else:
                results.append({"value": item["indicator"], "id": item["id"]})
    return json.dumps({"indicators": results, "count": len(results)})


if __name__ == "__main__":
    env = os.environ
    line = submit(
        env["MDE_API_URL"], env["MDE_ACCESS_TOKEN"], env["MDE_CA_BUNDLE"], json.load(sys.stdin)
    )
    sys.stdout.write(line + "\n")
