"""The baseline for `mdepack run run_hunting_query --jsonl`: plain requests posting the same
query with the same bearer token, printing each row as one compact JSON line."""

import json
import os
import sys

import requests

base, token, ca = (
    os.environ["MDE_GRAPH_URL"],
    os.environ["MDE_GRAPH_ACCESS_TOKEN"],
    os.environ["MDE_CA_BUNDLE"],
)
query = json.loads(sys.argv[1])["query"]
response = requests.post(
    f"{base}/v1.0/security/runHuntingQuery",
    json={"Query": query},
    headers={"Authorization": f"Bearer {token}"},
    verify=ca,
    timeout=200,
)
response.raise_for_status()
write = sys.stdout.write
for row in response.json()["results"]:
    write(json.dumps(row) + "\n")
