"""The baseline for `mdepack run list_machines`: plain requests + json fetching the same pages
with the same bearer token, printing the same JSON document, compactly (stdout is not a terminal)."""

import json
import os
import sys

import requests

base, token, ca = (
    os.environ["MDE_API_URL"],
    os.environ["MDE_ACCESS_TOKEN"],
    os.environ["MDE_CA_BUNDLE"],
)
session = requests.Session()
machines: list = []
skip = 0
while True:
    params = {"$top": 10000, **({"$skip": skip} if skip else {})}
    response = session.get(
        f"{base}/api/machines",
        params=params,
        headers={"Authorization": f"Bearer {token}"},
        verify=ca,
        timeout=60,
    )
    page = json.loads(response.content)["value"]
    machines += page
    skip += len(page)
    if len(page) < 10000:
        break
sys.stdout.write(json.dumps({"machines": machines, "count": len(machines)}) + "\n")
