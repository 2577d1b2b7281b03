"""The baseline for `mdepack run tag_machines --input -`: plain requests + json reading the same
input from stdin, posting the same batches of 500 with the same bearer token, printing the same
result compactly."""

import json
import os
import sys

import requests

base, token, ca = (
    os.environ["MDE_API_URL"],
    os.environ["MDE_ACCESS_TOKEN"],
    os.environ["MDE_CA_BUNDLE"],
)
request = json.load(sys.stdin)
ids, tag, action = request["machine_ids"], request["tag"], request["action"]
session = requests.Session()
updated = []
for start in range(0, len(ids), 500):
    batch = ids[start : start + 500]
    response = session.post(
        f"{base}/api/machines/AddOrRemoveTagForMultipleMachines",
        json={"Value": tag, "Action": action, "MachineIds": batch},
        headers={"Authorization": f"Bearer {token}"},
        verify=ca,
        timeout=60,
    )
    returned = {machine["id"] for machine in json.loads(response.content)["value"]}
    updated += [machine_id for machine_id in batch if machine_id in returned]
done = set(updated)
not_found = [machine_id for machine_id in ids if machine_id not in done]
result = {"action": action, "tag": tag, "updated": updated, "not_found": not_found}
sys.stdout.write(json.dumps({**result, "count": len(updated)}) + "\n")
