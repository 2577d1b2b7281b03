"""Response actions on many machines (isolate, scan, collect, quarantine, …), shared by every
action module that posts one: refuse before any write what the guard refuses, send nothing new
where the same action is already under way or already in force, account for every machine, and
wait for the actions to end within a deadline.

An action's identity is its type **and** its option (the isolation or scan type, the quarantined
file): a pending Quick scan does not stand in for a requested Full one.

Per machine, the outcome is one of:

    created          sent now; the new action's id is reported
    already_pending  the same action (type and option) is Pending or InProgress: nothing new was
                     sent, and that action's id is reported
    already_done     the machine is already isolated (or restricted) by a Succeeded action not
                     undone since: nothing was sent, and that action's id is reported
    blocked          not done: the API refused it while another action is in progress; the
                     blocking action is reported in `blocked_by` when it could be found
    not_found        not done: no such machine
    refused          not done: the API refused it for this machine (its reason)
    unconfirmed      not known: sent, but the answer was lost
    not_sent         not done: the run stopped before it

The first three are the caller's intent in effect; `summary.not_done` counts the rest. A failure
that is not about one machine (auth, permissions, rate limit after retries, the API down, the
tracking listing refused) stops the run and raises the error carrying every machine's report, the
ids of the actions already created included (in the message too, for engines that keep only it).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

from mdepack import bulk, machine_names, odata
from mdepack.api import ActionApi
from mdepack.errors import ApiError, NotFoundError, PermissionDeniedError

TRACKING_ACTION = "list_machine_actions"
ACTIVE = ("Pending", "InProgress")
FINAL = ("Succeeded", "Failed", "TimeOut", "Cancelled")
FAILED = ("Failed", "TimeOut", "Cancelled")
IN_EFFECT = ("created", "already_pending", "already_done")
NOT_DONE = ("blocked", "not_found", "refused", "unconfirmed", "not_sent")
OUTCOMES = IN_EFFECT + NOT_DONE
POLL_FIRST, POLL_GROWTH, POLL_LONGEST = 1.0, 1.5, 30.0
IDS_PER_POLL = 20  # `id eq` clauses OR-ed in one listing call


def act(
    inputs: dict[str, Any],
    api: ActionApi,
    action_type: str,
    body: dict[str, Any],
    *,
    option: str | None = None,
    undone_by: str | None = None,
    exclusive: bool = False,
    check: Callable[[], None] | None = None,
    after: Callable[[ActionApi, list[dict[str, Any]]], None] | None = None,
) -> dict[str, Any]:
    """Post `body` to the action's endpoint for each machine; wait if asked; report each one.

    `option` is what, beside the type, makes the action itself (scan type, isolation type, file).
    `undone_by` names the action type that lifts this one (Unisolate for Isolate): a machine whose
    newest Succeeded action of the two is this one with this option gets nothing new.
    `exclusive`: each request carries work of its own (live response commands), so one under way
    on a machine never stands in for it: the machine is `blocked`, with that action's id.
    `check()` checks what the guard leaves to the action (live response: its library), after
    the guard and before any write or dry-run answer; `after(api, reports)` adds to the reports
    once the wait is over (live response results).
    """
    before = api.calls
    machines = machine_names.for_write(inputs["machine_ids"], api, inputs["max_machines"])
    ids, named = machines.ids, machines.report()
    if check is not None:
        check()
    if inputs["dry_run"]:
        calls = api.calls - before  # resolving names reads; a dry run writes nothing
        planned = _result(action_type, [], dry_run=True, planned=ids, complete=False, calls=calls)
        return planned | named
    tracking = api.sibling(TRACKING_ACTION)
    wanted = _Identity(action_type, option, exclusive)
    history = _history(tracking, [action_type, *filter(None, [undone_by])], ids, undone_by)
    seen = {a["id"] for actions in history.values() for a in actions}
    reports: list[dict[str, Any]] = []
    try:
        for machine_id in ids:
            known = history.get(machine_id, [])
            busy = next((a for a in known if a["status"] in ACTIVE), None) if exclusive else None
            if busy is not None:
                reports.append(_busy(machine_id, busy))
                continue
            pending = next((a for a in known if a["status"] in ACTIVE and wanted.is_(a)), None)
            if pending is not None:
                reports.append(_report(machine_id, pending, "already_pending"))
                continue
            in_force = _in_force(known, action_type, undone_by)
            if in_force is not None and wanted.is_(in_force):
                reports.append(_report(machine_id, in_force, "already_done"))
                continue
            try:
                created = api.post(body, machine_id=machine_id)
            except NotFoundError as error:
                reports.append(_absent(machine_id, "not_found", error.message))
            except ApiError as error:
                if error.status == 400 and _already_in_progress(error):
                    reports.append(_blocked(tracking, machine_id, wanted, error))
                elif error.status == 400:
                    reports.append(_absent(machine_id, "refused", error.message))
                else:
                    lost = "unconfirmed" if bulk.may_have_applied(error) else "not_sent"
                    reports.append(_absent(machine_id, lost, error.message))
                    raise
            else:
                # The API may answer a duplicate with the action it already has (201, old id).
                again = _action_id(created) in seen
                reports.append(
                    _report(machine_id, created, "already_pending" if again else "created")
                )
        complete = _wait(tracking, reports, _wait_seconds(api, inputs.get("wait_seconds", 0)))
        if after is not None:
            after(api, reports)
    except ApiError as error:
        done = {r["machine_id"] for r in reports}
        reports += [
            _absent(i, "not_sent", "the run stopped before it") for i in ids if i not in done
        ]
        raise _stopped(error, action_type, reports, api.calls - before) from None
    return _result(action_type, reports, complete=complete, calls=api.calls - before) | named


class _Identity:
    """What makes two machine actions the same request: type and option."""

    def __init__(self, action_type: str, option: str | None, unique: bool = False) -> None:
        self.type = action_type
        self.option = option.lower() if option else None
        self.unique = unique  # no other action is ever this request (live response)

    def is_(self, action: dict[str, Any]) -> bool:
        """True when `action` is this very request (an unknown option is never assumed equal)."""
        if self.unique or action.get("type") != self.type:
            return False
        return self.option is None or option_of(action) == self.option


def option_of(action: dict[str, Any]) -> str | None:
    """A MachineAction's option, lower-case: its quarantined file, else its scope."""
    related = action.get("relatedFileInfo")
    if isinstance(related, dict) and related.get("fileIdentifier"):
        return str(related["fileIdentifier"]).lower()
    scope = action.get("scope")
    return str(scope).lower() if scope else None


def _history(
    tracking: ActionApi, types: list[str], ids: list[str], undone_by: str | None
) -> dict[str, list[dict[str, Any]]]:
    """Per machine among `ids`, its actions of these types that matter here (Pending and
    InProgress; Succeeded too where an action can be in force), in one listing."""
    statuses = [*ACTIVE, "Succeeded"] if undone_by else list(ACTIVE)
    clauses = [odata.eq("type", types), odata.eq("status", statuses)]
    if len(ids) == 1:
        clauses.append(odata.eq("machineId", ids[0]))
    wanted = set(ids)
    found: dict[str, list[dict[str, Any]]] = {}
    try:
        for page in tracking.pages({"$filter": odata.all_of(clauses)}):
            for action in page:
                machine_id = str(action.get("machineId", "")).lower()
                if machine_id in wanted and isinstance(action.get("id"), str):
                    found.setdefault(machine_id, []).append(_normal(action))
    except PermissionDeniedError:
        # An app allowed to act but not to read actions (Machine.Read.All): the API's own
        # 400 still stops a duplicate, and the report says `blocked`.
        return {}
    return found


def _in_force(
    actions: list[dict[str, Any]], action_type: str, undone_by: str | None
) -> dict[str, Any] | None:
    """The newest Succeeded action of the type or of its undoing, when it is of the type."""
    if undone_by is None:
        return None
    done = [a for a in actions if a["status"] == "Succeeded"]
    newest = max(done, key=_created_at, default=None)
    return newest if newest is not None and newest.get("type") == action_type else None


def _blocked(
    tracking: ActionApi, machine_id: str, wanted: _Identity, error: ApiError
) -> dict[str, Any]:
    """The report for a 400 "already in progress": the same action under way is
    `already_pending`; anything else, or nothing found, is `blocked` (not done)."""
    params = {
        "$filter": odata.all_of(
            [odata.eq("machineId", machine_id), odata.eq("status", list(ACTIVE))]
        )
    }
    try:
        active = [_normal(a) for a in tracking.collection(params) if isinstance(a.get("id"), str)]
    except ApiError as lookup:
        reason = f"{error.message}; the blocking action could not be looked up: {lookup.message}"
        return _absent(machine_id, "blocked", reason)
    same = next((a for a in active if wanted.is_(a)), None)
    if same is not None:
        return _report(machine_id, same, "already_pending")
    blocker = next((a for a in active if a.get("type") == wanted.type), None)
    blocker = blocker or (active[0] if active else None)
    report = _absent(machine_id, "blocked", error.message)
    if blocker is not None:
        report["blocked_by"] = _blocked_by(blocker)
    return report


def _blocked_by(action: dict[str, Any]) -> dict[str, Any]:
    """What a `blocked` report says of the action in the way."""
    return {
        "action_id": action["id"],
        "type": action.get("type"),
        "option": option_of(action),
        "status": action.get("status"),
    }


def _busy(machine_id: str, active: dict[str, Any]) -> dict[str, Any]:
    """The report for a machine whose session under way leaves no room for a new one."""
    report = _absent(
        machine_id,
        "blocked",
        f"the machine already has a {active.get('type')} action {active.get('status')}; "
        "nothing new was sent (one session a machine)",
    )
    report["blocked_by"] = _blocked_by(active)
    return report


def _wait_seconds(api: ActionApi, asked: int) -> float:
    """`wait_seconds`, cut to what is left before the client's wait deadline (if it has one)."""
    deadline = api.client.wait_deadline
    if deadline is None:
        return float(asked)
    return max(0.0, min(float(asked), deadline - api.client.clock.monotonic()))


def _wait(tracking: ActionApi, reports: list[dict[str, Any]], seconds: float) -> bool:
    """Poll the open actions until all are final or `seconds` pass: about one poll per action per
    second at first, backing off as the wait grows; the pacer keeps it inside the rate budget."""
    clock = tracking.client.clock
    deadline = clock.monotonic() + seconds
    interval = POLL_FIRST
    open_ = [r for r in reports if r["action_id"] and r["status"] not in FINAL]
    if open_:
        tracking.client.tell(
            seconds, f"waiting up to {seconds:.0f} s for {len(open_)} actions to finish"
        )
    while True:
        waiting = [r for r in reports if r["action_id"] and r["status"] not in FINAL]
        if not waiting:
            return True
        remaining = deadline - clock.monotonic()
        if remaining <= 0:
            return False
        clock.sleep(min(interval, remaining))
        _refresh(tracking, waiting)
        interval = min(interval * POLL_GROWTH, POLL_LONGEST)


def _refresh(tracking: ActionApi, reports: list[dict[str, Any]]) -> None:
    by_id = {r["action_id"]: r for r in reports}
    for chunk in bulk.batches(list(by_id), IDS_PER_POLL):
        for action in tracking.collection({"$filter": odata.eq("id", chunk)}):
            report = by_id.get(str(action.get("id", "")).lower())
            if report is not None:
                report["status"] = action.get("status")


def _already_in_progress(error: ApiError) -> bool:
    return (
        error.code == "ActiveRequestAlreadyExists" or "already in progress" in error.message.lower()
    )


def _normal(action: dict[str, Any]) -> dict[str, Any]:
    return {**action, "id": str(action["id"]).lower()}


def _action_id(action: Any) -> str | None:
    found = action.get("id") if isinstance(action, dict) else None
    return str(found).lower() if found else None


def _created_at(action: dict[str, Any]) -> dt.datetime:
    text = str(action.get("creationDateTimeUtc") or "")
    # Up to 7 fraction digits, as the API writes them; Python reads at most 6.
    text = re.sub(r"(\.\d{6})\d+", r"\1", text).replace("Z", "+00:00")
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return dt.datetime.min.replace(tzinfo=dt.timezone.utc)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def _report(machine_id: str, action: Any, outcome: str) -> dict[str, Any]:
    action = action if isinstance(action, dict) else {}
    return {
        "machine_id": machine_id,
        "action_id": _action_id(action),
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


def _stopped(
    error: ApiError, action_type: str, reports: list[dict[str, Any]], calls: int
) -> ApiError:
    """The error that stopped a run, carrying every machine's report; its message names the
    actions that exist, since some engines keep only an error's type and message."""
    partial = _result(action_type, reports, complete=False, calls=calls)
    existing = [f"{r['machine_id']}: {r['action_id']}" for r in reports if r["action_id"]]
    named = f"; actions: {', '.join(existing)}" if existing else ""
    return error.with_context(
        suffix=f"; {bulk.words(partial['summary'], OUTCOMES)}{named}; see machines for each one",
        machines=reports,
        summary=partial["summary"],
        complete=False,
    )


def _result(
    action_type: str,
    reports: list[dict[str, Any]],
    *,
    complete: bool,
    calls: int,
    dry_run: bool = False,
    planned: list[str] | None = None,
) -> dict[str, Any]:
    summary = bulk.summary(reports, OUTCOMES, done=IN_EFFECT)
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
