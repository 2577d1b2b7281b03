"""POST /api/machines/AddOrRemoveTagForMultipleMachines: add or remove one tag on many machines.

Body keys are PascalCase and case-sensitive (`Value`, `Action`, `MachineIds`); at most 500 ids a
call. Duplicate ids are sent once; more distinct ids than `max_machines` are refused before any
write. The answer's shape is undocumented, so every id ends in exactly one list:

- `updated`: the answer is a machine list that names it;
- `not_found`: the answer is a machine list that omits it;
- `unconfirmed`: it was sent and the answer does not say (an empty or non-list answer, or a
  failure after which the write may have gone in);
- `not_sent`: never sent, or refused by the API (the run stopped there), the word every bulk
  write uses.

A failure after retries stops the run and raises the error carrying all four lists.
"""

from __future__ import annotations

from typing import Any

from mdepack import bulk, machine_names
from mdepack.api import ActionApi
from mdepack.errors import ApiError

BATCH = 500
OUTCOMES = ("updated", "not_found", "unconfirmed", "not_sent")


def run(inputs: dict[str, Any], api: ActionApi) -> dict[str, Any]:
    """Tag the machines in batches of 500."""
    machines = machine_names.for_write(inputs["machine_ids"], api, inputs["max_machines"])
    ids = machines.ids
    batches = bulk.batches(ids, BATCH)
    result: dict[str, Any] = {"action": inputs["action"], "tag": inputs["tag"], **machines.report()}
    if inputs["dry_run"]:
        empty: dict[str, Any] = {name: [] for name in OUTCOMES}
        return result | empty | {"count": 0, "dry_run": True, "planned": ids, "calls": len(batches)}
    outcome: dict[str, Any] = {name: [] for name in OUTCOMES}
    for number, batch in enumerate(batches):
        body = {"Value": inputs["tag"], "Action": inputs["action"], "MachineIds": batch}
        try:
            answer = api.post(body)
        except ApiError as error:
            outcome["unconfirmed" if bulk.may_have_applied(error) else "not_sent"] += batch
            outcome["not_sent"] += [i for later in batches[number + 1 :] for i in later]
            raise error.with_context(suffix=_summary(outcome, len(ids)), **outcome) from None
        _record(outcome, batch, answer)
    count = len(outcome["updated"])
    return result | outcome | {"count": count, "dry_run": False, "calls": len(batches)}


def _record(outcome: dict[str, list[str]], batch: list[str], answer: Any) -> None:
    machines = answer.get("value") if isinstance(answer, dict) else answer
    if not isinstance(machines, list) or not all(isinstance(m, dict) for m in machines):
        outcome["unconfirmed"] += batch  # 204, empty 200, {"status": ...}, one object
        return
    returned = {str(m.get("id", "")).lower() for m in machines}
    for machine_id in batch:
        outcome["updated" if machine_id in returned else "not_found"].append(machine_id)


def _summary(outcome: dict[str, list[str]], total: int) -> str:
    return (
        f"; of {total} machines: {len(outcome['updated'])} updated, "
        f"{len(outcome['not_found'])} not found, {len(outcome['unconfirmed'])} unconfirmed "
        f"(sent, outcome unknown), {len(outcome['not_sent'])} not sent"
    )
