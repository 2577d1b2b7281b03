"""POST /api/machines/AddOrRemoveTagForMultipleMachines: add or remove one tag on many machines.

Body keys are PascalCase and case-sensitive (`Value`, `Action`, `MachineIds`); at most 500 ids a
call. Duplicate ids are sent once; more distinct ids than `max_machines` are refused before any
write. Ids sent that the API does not return are reported as `not_found`. If a call fails after
the client's retries, the error says which ids were applied and which were not.
"""

from __future__ import annotations

from typing import Any

from mdepack.api import ActionApi
from mdepack.client import collection_items
from mdepack.errors import ApiError, GuardError

BATCH = 500


def run(inputs: dict[str, Any], api: ActionApi) -> dict[str, Any]:
    """Tag the machines in batches of 500."""
    ids = list(dict.fromkeys(i.lower() for i in inputs["machine_ids"]))
    if len(ids) > inputs["max_machines"]:
        raise GuardError(
            f"machine_ids: {len(ids)} distinct machines is more than max_machines "
            f"({inputs['max_machines']}); nothing was changed",
            field="machine_ids",
            rule="at most max_machines distinct ids",
        )
    batches = [ids[i : i + BATCH] for i in range(0, len(ids), BATCH)]
    result: dict[str, Any] = {"action": inputs["action"], "tag": inputs["tag"]}
    if inputs["dry_run"]:
        return result | {
            "updated": [],
            "not_found": [],
            "count": 0,
            "dry_run": True,
            "planned": ids,
            "calls": len(batches),
        }
    updated: list[str] = []
    sent: list[str] = []
    for number, batch in enumerate(batches):
        body = {"Value": inputs["tag"], "Action": inputs["action"], "MachineIds": batch}
        try:
            answer = api.post(body)
        except ApiError as error:
            not_applied = [i for later in batches[number:] for i in later]
            missing = [i for i in sent if i not in set(updated)]
            error.details.update(applied=updated, not_applied=not_applied, not_found=missing)
            error.message = (
                f"{error.message}; applied to {len(updated)} of {len(ids)} machines "
                f"({len(missing)} not found), not applied to {len(not_applied)}"
            )
            raise
        returned = {str(m.get("id", "")).lower() for m in collection_items(answer)}
        updated += [i for i in batch if i in returned]
        sent += batch
    not_found = [i for i in ids if i not in set(updated)]
    return result | {
        "updated": updated,
        "not_found": not_found,
        "count": len(updated),
        "dry_run": False,
        "calls": len(batches),
    }
