"""Response actions on many machines (isolate, scan, collect, quarantine, …), shared by every
action module that posts one: refuse before any write what the guard refuses, send nothing new
where an action of the same type is already Pending or InProgress, account for every machine,
and wait for the actions to end within a deadline.

Per machine, the outcome is one of: `created`; `already_pending` (the existing action's id is
reported: the caller's intent is already under way); `not_found`; `refused` (the API said no for
this machine, with its reason); `unconfirmed` (sent, the answer lost); `not_sent` (the run stopped
first). A failure that is not about one machine (auth, permissions, rate limit after retries, the
API down) stops the run and raises the error carrying every machine's outcome.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mdepack import bulk, odata
from mdepack.api import ActionApi
from mdepack.client import collection_items
from mdepack.errors import ApiError, NotFoundError, PermissionDeniedError

TRACKING = "/api/machineactions"
ACTIVE = ("Pending", "InProgress")
FINAL = ("Succeeded", "Failed", "TimeOut", "Cancelled")
FAILED = ("Failed", "TimeOut", "Cancelled")
OUTCOMES = ("created", "already_pending", "not_found", "refused", "unconfirmed", "not_sent")
POLL_FIRST, POLL_GROWTH, POLL_LONGEST = 1.0, 1.5, 30.0
IDS_PER_POLL = 20  # `id eq` clauses OR-ed in one listing call


def act(
    inputs: dict[str, Any], api: ActionApi, action_type: str, body: dict[str, Any]
) -> dict[str, Any]:
    """Post `body` to the action's endpoint for each machine; wait if asked; report each one."""
    ids = bulk.distinct_ids(inputs["machine_ids"], inputs["max_machines"], api.ceiling)
    if inputs["dry_run"]:
        return _result(action_type, [], dry_run=True, planned=ids, complete=False, calls=0)
    before = api.calls
    pending = _active_actions(api, action_type, ids)
    reports: list[dict[str, Any]] = []
    for index, machine_id in enumerate(ids):
        if machine_id in pending:
            reports.append(_report(machine_id, pending[machine_id], "already_pending"))
            continue
        try:
            reports.append(_report(machine_id, api.post(body, machine_id=machine_id), "created"))
        except NotFoundError as error:
            reports.append(_absent(machine_id, "not_found", error.message))
        except ApiError as error:
            if error.status == 400 and _already_in_progress(error):
                found = _active_actions(api, action_type, [machine_id]).get(machine_id)
                reports.append(
                    _report(machine_id, found, "already_pending")
                    if found
                    else _absent(machine_id, "already_pending", error.message)
                )
            elif error.status == 400:
                reports.append(_absent(machine_id, "refused", error.message))
            else:
                lost = "unconfirmed" if bulk.may_have_applied(error) else "not_sent"
                reports.append(_absent(machine_id, lost, error.message))
                reports += [
                    _absent(i, "not_sent", "the run stopped before it") for i in ids[index + 1 :]
                ]
                partial = _result(action_type, reports, complete=False, calls=api.calls - before)
                raise error.with_context(
                    suffix=f"; {_words(partial['summary'])}; see machines for each one",
                    machines=reports,
                    summary=partial["summary"],
                ) from None
    complete = _wait(api, reports, inputs.get("wait_seconds", 0))
    return _result(action_type, reports, complete=complete, calls=api.calls - before)


def _active_actions(
    api: ActionApi, action_type: str, ids: Iterable[str]
) -> dict[str, dict[str, Any]]:
    """The newest Pending or InProgress action of this type per machine, among `ids`."""
    wanted = set(ids)
    clauses = [odata.eq("type", action_type), odata.eq("status", list(ACTIVE))]
    if len(wanted) == 1:
        clauses.append(odata.eq("machineId", next(iter(wanted))))
    params = {"$filter": odata.all_of(clauses)}
    found: dict[str, dict[str, Any]] = {}
    try:
        for page in api.client.pages(TRACKING, params=params):
            for action in page:
                machine_id = str(action.get("machineId", "")).lower()
                if machine_id in wanted and machine_id not in found:
                    found[machine_id] = action
    except PermissionDeniedError:
        # An app allowed to act but not to read actions: the API's 400 still stops a duplicate.
        return {}
    return found


def _wait(api: ActionApi, reports: list[dict[str, Any]], seconds: int) -> bool:
    """Poll the open actions until all are final or `seconds` pass: about one poll per action per
    second at first, backing off as the wait grows; the pacer keeps it inside the rate budget."""
    clock = api.client.clock
    deadline = clock.monotonic() + seconds
    interval = POLL_FIRST
    while True:
        waiting = [r for r in reports if r["action_id"] and r["status"] not in FINAL]
        if not waiting:
            return True
        remaining = deadline - clock.monotonic()
        if remaining <= 0:
            return False
        clock.sleep(min(interval, remaining))
        _refresh(api, waiting)
        interval = min(interval * POLL_GROWTH, POLL_LONGEST)


def _refresh(api: ActionApi, reports: list[dict[str, Any]]) -> None:
    by_id = {r["action_id"]: r for r in reports}
    ids = list(by_id)
    for start in range(0, len(ids), IDS_PER_POLL):
        params = {"$filter": odata.eq("id", ids[start : start + IDS_PER_POLL])}
        answer = api.client.call("GET", TRACKING, params=params)
        for action in collection_items(answer):
            report = by_id.get(str(action.get("id", "")).lower())
            if report is not None:
                report["status"] = action.get("status")


def _already_in_progress(error: ApiError) -> bool:
    return (
        error.code == "ActiveRequestAlreadyExists" or "already in progress" in error.message.lower()
    )


def _report(machine_id: str, action: Any, outcome: str) -> dict[str, Any]:
    action = action if isinstance(action, dict) else {}
    action_id = action.get("id")
    return {
        "machine_id": machine_id,
        "action_id": str(action_id).lower() if action_id else None,
        "status": action.get("status"),
        "outcome": outcome,
    }


def _absent(machine_id: str, outcome: str, reason: str) -> dict[str, Any]:
    return {
        "machine_id": machine_id,
        "action_id": None,
        "status": None,
        "outcome": outcome,
        "reason": reason,
    }


def _result(
    action_type: str,
    reports: list[dict[str, Any]],
    *,
    complete: bool,
    calls: int,
    dry_run: bool = False,
    planned: list[str] | None = None,
) -> dict[str, Any]:
    summary = {name: sum(r["outcome"] == name for r in reports) for name in OUTCOMES}
    statuses = [r["status"] for r in reports if r["action_id"]]
    summary |= {
        "succeeded": statuses.count("Succeeded"),
        "failed": sum(s in FAILED for s in statuses),
        "pending": sum(s not in FINAL for s in statuses),
    }
    result: dict[str, Any] = {
        "type": action_type,
        "dry_run": dry_run,
        "machines": reports,
        "summary": summary,
        "complete": complete,
        "calls": calls,
    }
    if planned is not None:
        result["planned"] = planned
    return result


def _words(summary: dict[str, int]) -> str:
    return ", ".join(
        f"{count} {name.replace('_', ' ')}" for name, count in summary.items() if count
    )
