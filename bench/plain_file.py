"""The baseline for a cold `mdepack run get_file_machines`: a plain script importing requests,
jsonschema and yaml, making the same call with the same token."""

import json
import os
import sys

import jsonschema  # noqa: F401 - what a hand-written step would import
import requests
import yaml  # noqa: F401

base, token, ca = (
    os.environ["MDE_API_URL"],
    os.environ["MDE_ACCESS_TOKEN"],
    os.environ["MDE_CA_BUNDLE"],
)
sha1 = sys.argv[1]
response = requests.get(
    f"{base}/api/files/{sha1}/machines",
    headers={"Authorization": f"Bearer {token}"},
    verify=ca,
    timeout=60,
)
machines = json.loads(response.content)["value"]
sys.stdout.write(json.dumps({"machines": machines, "count": len(machines)}) + "\n")
