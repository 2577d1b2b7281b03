"""Live response commands and results, shared by the live response actions.

Commands are given as `{"type": "PutFile", "file_name"}`, `{"type": "RunScript", "script_name",
"args"}` and `{"type": "GetFile", "path"}`, and sent as the API's `{"type", "params": [{"key",
"value"}]}`. Refused before any write: a field that is not its type's, commands out of the API's
order (PutFile, then RunScript, then GetFile), and a script or file that is not in the library
(read once).

Results: a session's commands as the MachineAction reports them (a failed command skips the
rest, which stay Created); for a completed RunScript, its transcript downloaded from the link the
API returns (`exit_code`, `script_output`, `script_errors`); for a completed GetFile, the link and
when it expires. A transcript that cannot be had (not JSON, too large, refused) is reported with
`transcript_error`, never raised: the script has run, and that is what the report must say.
"""

from __future__ import annotations

import json
from typing import Any

from mdepack import downloads
from mdepack.api import ActionApi
from mdepack.errors import ApiError, InputError

ORDER = ("PutFile", "RunScript", "GetFile")
# command type -> (input field, API parameter key) for each of its fields, the first required
FIELDS: dict[str, tuple[tuple[str, str], ...]] = {
    "PutFile": (("file_name", "FileName"),),
    "RunScript": (("script_name", "ScriptName"), ("args", "Args")),
    "GetFile": (("path", "Path"),),
}
LIBRARY_ACTION = "list_library_files"
RESULT_ACTION = "get_live_response_result"
ACTION_ACTION = "get_machine_action"


def api_commands(commands: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The commands in the API's shape, after checking each one's fields and their order."""
    rank = 0
    sent = []
    for number, command in enumerate(commands):
        kind = command["type"]
        where = f"commands[{number}]"
        allowed = {name for name, _ in FIELDS[kind]}
        for name in command:
            if name != "type" and name not in allowed:
                rule = f"a {kind} takes {', '.join(sorted(allowed))}, not {name}"
                raise InputError(f"{where}.{name}: {rule}", field=f"{where}.{name}", rule=rule)
        required = FIELDS[kind][0][0]
        if required not in command:
            rule = f"a {kind} needs {required}"
            raise InputError(f"{where}: {rule}", field=f"{where}.{required}", rule=rule)
        if ORDER.index(kind) < rank:
            rule = "commands run in the API's order: PutFile, then RunScript, then GetFile"
            raise InputError(
                f"{where}: {rule} ({kind} after {ORDER[rank]})", field=where, rule=rule
            )
        rank = ORDER.index(kind)
        params = [
            {"key": key, "value": command[name]} for name, key in FIELDS[kind] if name in command
        ]
        sent.append({"type": kind, "params": params})
    return sent


def check_library(commands: list[dict[str, Any]], api: ActionApi) -> None:
    """InputError when a RunScript or PutFile names a file the library does not hold."""
    named = [
        (number, name, command[name])
        for number, command in enumerate(commands)
        for name in ("script_name", "file_name")
        if name in command
    ]
    if not named:
        return
    files = api.sibling(LIBRARY_ACTION).collection()
    held = {str(f.get("fileName", "")).lower(): f.get("fileName") for f in files}
    for number, name, value in named:
        if value.lower() not in held:
            listed = ", ".join(sorted(str(v) for v in held.values())) or "nothing"
            rule = "must name a file in the live response library (upload_library_file adds one)"
            raise InputError(
                f"commands[{number}].{name}: {rule}; {value!r} is not there (it holds: {listed})",
                field=f"commands[{number}].{name}",
                rule=rule,
            )


def results(api: ActionApi, action_id: str, fetch: bool) -> list[dict[str, Any]]:
    """Each command of a session as the API reports it; with `fetch`, each completed command's
    result (a RunScript's transcript, a GetFile's link)."""
    action = api.sibling(ACTION_ACTION).get(action_id=action_id)
    reports = []
    for position, command in enumerate(action.get("commands") or []):
        reports.append(_command(command, position))
    if fetch:
        for report in reports:
            if has_result(report):
                report.update(result(api, action_id, report["index"], report["type"]))
    return reports


def has_result(command: dict[str, Any]) -> bool:
    """True for a command whose result can be downloaded: a completed RunScript or GetFile."""
    return command["status"] == "Completed" and command["type"] in ("RunScript", "GetFile")


def result(
    api: ActionApi, action_id: str, index: int, kind: str, with_link: bool = False
) -> dict[str, Any]:
    """One command's result: for a RunScript its transcript (and, `with_link`, its link), for a
    GetFile its link; each link with when it expires."""
    link = api.sibling(RESULT_ACTION).get(action_id=action_id, index=str(index))
    url = link.get("value") if isinstance(link, dict) else link
    if not isinstance(url, str) or not url:
        return {"transcript_error": "the API gave no download link"}
    found = {"download_url": url, "expires_at": downloads.expiry(url)}
    if kind == "GetFile":
        return found
    return {**(found if with_link else {}), **transcript(url, api)}


def transcript(url: str, api: ActionApi) -> dict[str, Any]:
    """A RunScript's transcript from its link: exit code, output and errors, or why not."""
    client = api.client
    try:
        content = downloads.fetch(url, client.config, client.session)
    except ApiError as error:
        return {"transcript_error": error.message}
    try:
        document = json.loads(content)
    except ValueError:
        return {"transcript_error": f"the transcript is not JSON ({len(content)} bytes)"}
    if not isinstance(document, dict):
        return {"transcript_error": "the transcript is not a JSON object"}
    found: dict[str, Any] = {}
    for key in ("exit_code", "script_output", "script_errors"):
        if key in document:
            found[key] = document[key]
    return found


def _command(command: dict[str, Any], position: int) -> dict[str, Any]:
    found = command.get("command")
    given: dict[str, Any] = found if isinstance(found, dict) else {}
    kind = str(given.get("type", ""))
    params = {
        p.get("key"): p.get("value") for p in given.get("params") or [] if isinstance(p, dict)
    }
    report: dict[str, Any] = {
        "index": command.get("index", position),
        "type": kind,
        "status": command.get("commandStatus"),
        "errors": [str(e) for e in command.get("errors") or []],
    }
    for name, key in FIELDS.get(kind, ()):
        if key in params:
            report[name] = params[key]
    return report
