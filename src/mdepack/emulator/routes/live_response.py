"""Routes of live response and the library, as the public docs describe them.

- `POST /api/machines/{id}/runliveresponse` `{"Commands": [...], "Comment"}`: a MachineAction of
  type LiveResponse. Commands are PutFile (`FileName`), RunScript (`ScriptName`, `Args`) and
  GetFile (`Path`), in that order; a script or file must be in the library. One session a
  machine (a second gets 400 ActiveRequestAlreadyExists), 25 sessions a tenant at once (429),
  10 calls a minute (429).
- On the clock: Pending for `action_pending_seconds`, then each command runs for
  `live_response_command_seconds` (Created -> Completed); the command at
  `live_response_failures[machine_id]` fails (Failed, with an error) and those after it are skipped
  (they stay Created); the action ends Succeeded or Failed.
- `GET /api/machineactions/{id}/GetLiveResponseResultDownloadLink(index=N)`: `{"value": link}` for a
  completed RunScript or GetFile. The link is served by the emulator itself under
  `/liveresponse/`, needs no token (a request carrying one is refused, as a SAS is the whole
  credential), and expires after 30 minutes on the clock (403); asking again gives a new link.
  A RunScript's transcript is JSON (`script_name`, `exit_code`, `script_output`, `script_errors`)
  unless `live_response_transcripts[script_name]` gives other bytes.
- Library: `GET /api/libraryfiles`, `POST /api/libraryfiles` (multipart: File, Description,
  ParametersDescription, HasParameters, OverrideIfExists; at most 20 MB), `DELETE
  /api/libraryfiles/{fileName}`.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mdepack.emulator.api import (
    READ,
    WRITE,
    ApiFailure,
    Reply,
    Route,
    body_object,
    collection,
    entity_reply,
    json_reply,
    route,
)
from mdepack.emulator.routes.machine_actions import (
    ENTITY_SET,
    LIVE_RESPONSE,
    StoredAction,
    new_action,
    stamp,
)

if TYPE_CHECKING:
    from mdepack.emulator.server import Emulator

LIBRARY = "Library.Manage"
ORDER = ("PutFile", "RunScript", "GetFile")
PARAMS = {"PutFile": ("FileName",), "RunScript": ("ScriptName", "Args"), "GetFile": ("Path",)}
REQUIRED = {"PutFile": "FileName", "RunScript": "ScriptName", "GetFile": "Path"}
MAX_SESSIONS = 25
MAX_LIBRARY_BYTES = 20 * 1024 * 1024
LINK_SECONDS = 30 * 60


@dataclass
class LibraryFile:
    """One file of the tenant's live response library."""

    name: str
    content: bytes
    description: str
    parameters_description: str | None
    has_parameters: bool
    created: str
    created_by: str

    def view(self) -> dict[str, Any]:
        """The file as `GET /api/libraryfiles` lists it."""
        return {
            "fileName": self.name,
            "sha256": hashlib.sha256(self.content).hexdigest(),
            "description": self.description,
            "creationTime": self.created,
            "lastUpdatedTime": self.created,
            "createdBy": self.created_by,
            "hasParameters": self.has_parameters,
            "parametersDescription": self.parameters_description,
        }


@dataclass
class Link:
    """A download link the emulator hands out: what it serves, until when."""

    content: bytes
    content_type: str
    expires: float  # the clock's monotonic time


class LiveResponseState:
    """The library, the download links, and how sessions behave."""

    def __init__(self, stamp: str) -> None:
        self.lock = threading.Lock()
        self.library: dict[str, LibraryFile] = {}
        self.links: dict[str, Link] = {}
        self.downloads: list[dict[str, Any]] = []  # each download asked: token, whether expired
        for name, has, about in (
            ("collect_triage.ps1", True, "-Days: how many days of logs to collect"),
            ("remove_persistence.ps1", False, None),
            ("procdump64.exe", False, None),
        ):
            self.library[name.lower()] = LibraryFile(
                name,
                f"# {name}\n".encode(),
                f"{name} (emulator)",
                about,
                has,
                stamp,
                "soc@contoso.com",
            )


def run_live_response(
    emulator: Emulator, ref: str, *, body: Any, claims: dict[str, Any], **_: Any
) -> Reply:
    """POST /api/machines/{id}/runliveresponse: 201 with the LiveResponse MachineAction."""
    wait = emulator.live_response_limiter.admit(str(claims.get("tid")))
    if wait is not None:
        raise emulator.live_response_limiter.quota_failure(wait)
    request = body_object(body, {"Commands", "Comment"}, {"Commands", "Comment"})
    comment = request["Comment"]
    if not isinstance(comment, str) or not comment.strip():
        raise ApiFailure(400, "InvalidRequestBody", "Comment must be a non-empty string.")
    commands = _commands(emulator, request["Commands"])
    machine = emulator.machine(ref)
    if machine is None:
        raise ApiFailure(404, "ResourceNotFound", f"Machine {ref} was not found.")
    store = emulator.actions
    with store.lock:
        sessions = [
            s
            for s in store.actions.values()
            if s.document["type"] == "LiveResponse"
            and store.status(emulator, s)[0] in ("Pending", "InProgress")
        ]
        if any(s.document["machineId"] == machine["id"] for s in sessions):
            raise ApiFailure(400, "ActiveRequestAlreadyExists", "Action is already in progress")
        if len(sessions) >= MAX_SESSIONS:
            raise ApiFailure(
                429,
                "TooManyRequests",
                f"Too many live response sessions: at most {MAX_SESSIONS} at once.",
            )
        now = emulator.clock.monotonic()
        document = new_action(emulator, machine, "LiveResponse", comment, claims, now)
        stored = StoredAction(document, now, "Succeeded")
        stored.commands = commands
        stored.failing = emulator.live_response_failures.get(machine["id"])
        store.actions[document["id"]] = stored
    return entity_reply(emulator, ENTITY_SET, store.view(emulator, stored), 201)


def _commands(emulator: Emulator, given: Any) -> list[dict[str, Any]]:
    if not isinstance(given, list) or not given:
        raise ApiFailure(400, "InvalidRequestBody", "Commands must be a non-empty list.")
    commands, rank = [], 0
    for number, command in enumerate(given):
        if not isinstance(command, dict) or command.get("type") not in ORDER:
            raise ApiFailure(
                400,
                "InvalidRequestBody",
                f"Commands[{number}].type must be one of {', '.join(ORDER)}.",
            )
        kind = command["type"]
        if ORDER.index(kind) < rank:
            raise ApiFailure(
                400,
                "InvalidRequestBody",
                "Commands must run PutFile, then RunScript, then GetFile.",
            )
        rank = ORDER.index(kind)
        params = {
            p.get("key"): p.get("value") for p in command.get("params") or [] if isinstance(p, dict)
        }
        unknown = set(params) - set(PARAMS[kind])
        if unknown or not isinstance(params.get(REQUIRED[kind]), str):
            raise ApiFailure(
                400, "InvalidRequestBody", f"Commands[{number}] ({kind}) needs {REQUIRED[kind]}."
            )
        named = str(params[REQUIRED[kind]])
        if kind != "GetFile" and named.lower() not in emulator.live_response.library:
            raise ApiFailure(
                400,
                "FileNotFoundInLibrary",
                f"{named} is not in the live response library.",
            )
        commands.append(
            {"type": kind, "params": [{"key": k, "value": v} for k, v in params.items()]}
        )
    return commands


def session_status(
    emulator: Emulator, stored: StoredAction
) -> tuple[str, float, list[dict[str, Any]]]:
    """(status, since, commands) of a live response session now."""
    pending, each = emulator.action_pending_seconds, emulator.live_response_command_seconds
    now = emulator.clock.monotonic()
    commands = stored.commands or []
    started = stored.created + pending
    views: list[dict[str, Any]] = []
    status, since = ("Pending", stored.created) if now < started else ("InProgress", started)
    ended = False
    for index, command in enumerate(commands):
        begin, end = started + index * each, started + (index + 1) * each
        view: dict[str, Any] = {
            "index": index,
            "startTime": None,
            "endTime": None,
            "commandStatus": "Created",
            "errors": [],
            "command": command,
        }
        if not ended and now >= begin:
            view["startTime"] = stamp(emulator, begin)
        if not ended and now >= end:
            view["endTime"] = stamp(emulator, end)
            if stored.failing == index:
                view["commandStatus"] = "Failed"
                view["errors"] = [f"{command['type']} failed on the machine (emulated)"]
                status, since, ended = "Failed", end, True
            else:
                view["commandStatus"] = "Completed"
        views.append(view)
    if not ended and commands and now >= started + len(commands) * each:
        status, since = "Succeeded", started + len(commands) * each
    if stored.cancelled_at is not None:
        status, since = "Cancelled", stored.cancelled_at
    return status, since, views


def download_link(emulator: Emulator, action_id: str, index: int) -> Reply:
    """GET /api/machineactions/{id}/GetLiveResponseResultDownloadLink(index=N)."""
    stored = emulator.actions.actions.get(action_id.lower())
    if stored is None or stored.commands is None:
        raise ApiFailure(
            404, "ResourceNotFound", f"Live response action {action_id} was not found."
        )
    _status, _since, views = session_status(emulator, stored)
    if not 0 <= index < len(views):
        raise ApiFailure(400, "InvalidRequest", f"Command index {index} is out of range.")
    view = views[index]
    command = view["command"]
    if view["commandStatus"] != "Completed" or command["type"] == "PutFile":
        raise ApiFailure(
            400,
            "InvalidRequest",
            f"Command {index} has no result to download ({view['commandStatus']}).",
        )
    params = {p["key"]: p["value"] for p in command["params"]}
    if command["type"] == "RunScript":
        name = params["ScriptName"]
        content = (
            emulator.live_response_transcripts.get(name)
            or json.dumps(
                {
                    "script_name": name,
                    "exit_code": 0,
                    "script_output": f"{name} ran on {stored.document['computerDnsName']} {params.get('Args', '')}".strip(),
                    "script_errors": "",
                }
            ).encode()
        )
        kind = "application/json"
    else:
        content, kind = f"contents of {params['Path']}".encode(), "application/octet-stream"
    token = secrets.token_urlsafe(16)
    expires = emulator.clock.monotonic() + LINK_SECONDS
    with emulator.live_response.lock:
        emulator.live_response.links[token] = Link(content, kind, expires)
    expiry = stamp(emulator, expires)[:19] + "Z"
    link = f"{emulator.url}/liveresponse/{token}?sv=2024-08-04&se={expiry}&sr=b&sp=r&sig={secrets.token_urlsafe(32)}"
    return json_reply({"@odata.context": f"{emulator.url}/api/$metadata#Edm.String", "value": link})


def serve_download(emulator: Emulator, path: str, authorization: str | None) -> Reply:
    """GET /liveresponse/{token}?…: the result, without a bearer token, until the link expires."""
    token = path.rsplit("/", 1)[-1]
    state = emulator.live_response
    with state.lock:
        link = state.links.get(token)
        expired = link is not None and emulator.clock.monotonic() >= link.expires
        state.downloads.append(
            {"token": token, "expired": expired, "authorization": authorization is not None}
        )
    if authorization is not None:
        return _blob_error(
            400, "InvalidAuthenticationInfo", "A SAS link takes no Authorization header."
        )
    if link is None or expired:
        return _blob_error(
            403, "AuthenticationFailed", "Signature not valid in the specified time frame."
        )
    return Reply(200, link.content, {"Content-Type": link.content_type})


def _blob_error(status: int, code: str, message: str) -> Reply:
    body = f'<?xml version="1.0" encoding="utf-8"?><Error><Code>{code}</Code><Message>{message}</Message></Error>'
    return Reply(status, body.encode(), {"Content-Type": "application/xml"})


def list_library(emulator: Emulator, **_: Any) -> Reply:
    """GET /api/libraryfiles."""
    with emulator.live_response.lock:
        files = [json.dumps(f.view()).encode() for f in emulator.live_response.library.values()]
    return collection(emulator, "LibraryFiles", files)


def upload_library_file(
    emulator: Emulator, *, body: Any, claims: dict[str, Any], **_: Any
) -> Reply:
    """POST /api/libraryfiles (multipart/form-data)."""
    if not isinstance(body, dict) or not isinstance(body.get("File"), tuple):
        raise ApiFailure(400, "InvalidRequestBody", "The form must carry File (a file part).")
    file_name, content = body["File"]
    if not file_name:
        raise ApiFailure(400, "InvalidRequestBody", "File needs a file name.")
    if len(content) > MAX_LIBRARY_BYTES:
        raise ApiFailure(400, "FileSizeExceeded", "A library file may be at most 20 MB.")
    description = body.get("Description")
    if not isinstance(description, str) or not description.strip():
        raise ApiFailure(
            400, "MissingRequiredParameter", "Missing required parameter: Description."
        )
    override = str(body.get("OverrideIfExists", "false")).lower() == "true"
    state = emulator.live_response
    with state.lock:
        if file_name.lower() in state.library and not override:
            raise ApiFailure(400, "FileAlreadyExists", f"{file_name} is already in the library.")
        stored = LibraryFile(
            file_name,
            content,
            description,
            body.get("ParametersDescription")
            if isinstance(body.get("ParametersDescription"), str)
            else None,
            str(body.get("HasParameters", "false")).lower() == "true",
            stamp(emulator, emulator.clock.monotonic()),
            str(claims.get("appid")),
        )
        state.library[file_name.lower()] = stored
    return json_reply(
        {"@odata.context": f"{emulator.url}/api/$metadata#LibraryFiles/$entity", **stored.view()}
    )


def delete_library_file(emulator: Emulator, file_name: str, **_: Any) -> Reply:
    """DELETE /api/libraryfiles/{fileName}: 204."""
    with emulator.live_response.lock:
        if emulator.live_response.library.pop(file_name.lower(), None) is None:
            raise ApiFailure(404, "ResourceNotFound", f"{file_name} is not in the library.")
    return Reply(204, b"")


def _link_route(emulator: Emulator, action_id: str, call: str, **_: Any) -> Reply:
    prefix, suffix = "GetLiveResponseResultDownloadLink(index=", ")"
    if not (call.startswith(prefix) and call.endswith(suffix) and call[len(prefix) : -1].isdigit()):
        raise ApiFailure(404, "NotFound", f"Resource not found: {call}")
    return download_link(emulator, action_id, int(call[len(prefix) : -1]))


ROUTES: list[Route] = [
    route("POST", "/api/machines/*/runliveresponse", LIVE_RESPONSE, run_live_response),
    route("GET", "/api/libraryfiles", LIBRARY, list_library),
    route("POST", "/api/libraryfiles", LIBRARY, upload_library_file),
    route("DELETE", "/api/libraryfiles/*", LIBRARY, delete_library_file),
]
# After the other /api/machineactions/{id}/... routes, which it would otherwise shadow.
LINK_ROUTES: list[Route] = [route("GET", "/api/machineactions/*/*", {READ, WRITE}, _link_route)]
