"""Routes of the machine-action resource: the response actions posted on a machine (isolate,
scan, collect, quarantine, …), and tracking them (list, get, cancel, package URI).

An action's status moves with the emulator's clock: Pending for `action_pending_seconds`, then
InProgress for `action_run_seconds`, then its outcome (`action_outcome`, or per machine in
`action_outcomes`: Succeeded, Failed or TimeOut), unless cancelled first. A second request of the
same identity for a machine while one is Pending or InProgress gets 400 "Action is already in
progress". An action's identity is its type and its option (the isolation or scan type, the file
of a quarantine), as the API documents it; `action_identity="type"` makes the emulator stricter,
refusing any second action of a type whatever its option, as some tenants have been seen to. The
investigation package's URI is there only once a collection has succeeded.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
import threading
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mdepack.emulator import odata
from mdepack.emulator.api import (
    READ,
    WRITE,
    ApiFailure,
    Reply,
    Route,
    body_object,
    collection,
    entity_reply,
    integer,
    json_reply,
    route,
)
from mdepack.emulator.routes.filters import filtered

if TYPE_CHECKING:
    from mdepack.emulator.server import Emulator

ISOLATE = "Machine.Isolate"
SCAN = "Machine.Scan"
RESTRICT = "Machine.RestrictExecution"
FORENSICS = "Machine.CollectForensics"
QUARANTINE = "Machine.StopAndQuarantine"
OFFBOARD = "Machine.Offboard"
LIVE_RESPONSE = "Machine.LiveResponse"
RESPONSE_ROLES = [ISOLATE, SCAN, RESTRICT, FORENSICS, QUARANTINE, OFFBOARD]
# Cancel takes any of the roles its page lists, live response's included.
CANCEL_ROLES = {*RESPONSE_ROLES, LIVE_RESPONSE}
IDENTITIES = ("type_and_option", "type")
ACTIVE = ("Pending", "InProgress")
ENTITY_SET = "MachineActions"
_SHA1 = re.compile(r"^[0-9a-fA-F]{40}$")


@dataclass(frozen=True)
class Kind:
    """One kind of response action: its path word, type, body keys and role."""

    path: str
    type: str
    role: str
    extra: tuple[str, ...] = ()  # body keys besides Comment
    scopes: dict[str, tuple[str, ...]] = field(default_factory=dict)  # allowed values by key
    defaults: dict[str, str] = field(default_factory=dict)  # optional keys and their value

    @property
    def required(self) -> set[str]:
        """The body keys a request must carry."""
        return {"Comment", *(k for k in self.extra if k not in self.defaults)}


KINDS = [
    Kind(
        "isolate",
        "Isolate",
        ISOLATE,
        ("IsolationType",),
        {"IsolationType": ("Full", "Selective", "UnManagedDevice")},
        {"IsolationType": "Full"},
    ),
    Kind("unisolate", "Unisolate", ISOLATE),
    Kind(
        "runAntiVirusScan", "RunAntiVirusScan", SCAN, ("ScanType",), {"ScanType": ("Quick", "Full")}
    ),
    Kind("restrictCodeExecution", "RestrictCodeExecution", RESTRICT),
    Kind("unrestrictCodeExecution", "UnrestrictCodeExecution", RESTRICT),
    Kind("collectInvestigationPackage", "CollectInvestigationPackage", FORENSICS),
    Kind("StopAndQuarantineFile", "StopAndQuarantineFile", QUARANTINE, ("Sha1",)),
    Kind("offboard", "Offboard", OFFBOARD),
]


@dataclass
class StoredAction:
    """One machine action and the times its status is computed from."""

    document: dict[str, Any]
    created: float  # the clock's monotonic time
    outcome: str
    cancelled_at: float | None = None
    commands: list[dict[str, Any]] | None = None  # a live response session's commands
    failing: int | None = None  # the index of its command that fails


class ActionStore:
    """Every machine action the emulator has accepted, in creation order."""

    def __init__(self) -> None:
        self.actions: dict[str, StoredAction] = {}
        self.lock = threading.Lock()

    def status(self, emulator: Emulator, stored: StoredAction) -> tuple[str, float]:
        """(status, monotonic time it took that status) now."""
        if stored.commands is not None:
            status, since, _commands = emulator.live_response_status(stored)
            return status, since
        pending, running = emulator.action_pending_seconds, emulator.action_run_seconds
        now = emulator.clock.monotonic()
        if stored.cancelled_at is not None:
            return "Cancelled", stored.cancelled_at
        if now < stored.created + pending:
            return "Pending", stored.created
        if now < stored.created + pending + running:
            return "InProgress", stored.created + pending
        return stored.outcome, stored.created + pending + running

    def view(self, emulator: Emulator, stored: StoredAction) -> dict[str, Any]:
        """The MachineAction as the API returns it now."""
        if stored.commands is not None:
            status, since, commands = emulator.live_response_status(stored)
            extra: dict[str, Any] = {"commands": commands}
        else:
            (status, since), extra = self.status(emulator, stored), {}
        return {
            **stored.document,
            "status": status,
            "lastUpdateDateTimeUtc": stamp(emulator, since),
            **extra,
        }

    def active(
        self, emulator: Emulator, machine_id: str, kind: str, option: str | None
    ) -> StoredAction | None:
        """The Pending or InProgress action on this machine that a new one of this type and
        option collides with (by the emulator's `action_identity` rule), if any."""
        by_type = emulator.action_identity == "type"
        for stored in reversed(list(self.actions.values())):
            document = stored.document
            same = document["machineId"] == machine_id and document["type"] == kind
            same = same and (by_type or option_of(document) == option)
            if same and self.status(emulator, stored)[0] in ACTIVE:
                return stored
        return None


def option_of(document: dict[str, Any]) -> str | None:
    """An action's option: the quarantined file, else its scope (isolation or scan type)."""
    related = document.get("relatedFileInfo")
    if isinstance(related, dict) and related.get("fileIdentifier"):
        return str(related["fileIdentifier"]).lower()
    scope = document.get("scope")
    return str(scope) if scope else None


def create(
    emulator: Emulator, ref: str, *, body: Any, claims: dict[str, Any], kind: Kind, **_: Any
) -> Reply:
    """POST /api/machines/{id}/{action}: 201 with the new MachineAction."""
    request = {**kind.defaults, **body_object(body, {"Comment", *kind.extra}, kind.required)}
    comment = request["Comment"]
    if not isinstance(comment, str) or not comment.strip():
        raise ApiFailure(400, "InvalidRequestBody", "Comment must be a non-empty string.")
    for key, allowed in kind.scopes.items():
        if request[key] not in allowed:
            raise ApiFailure(
                400, "InvalidRequestBody", f"{key} must be one of {', '.join(allowed)}."
            )
    sha1 = request.get("Sha1")
    if "Sha1" in kind.extra and not (isinstance(sha1, str) and _SHA1.match(sha1)):
        raise ApiFailure(
            400, "InvalidHashValue", f"Hash value {sha1} is invalid. Only SHA1 is supported."
        )
    machine = emulator.machine(ref)
    if machine is None:
        raise ApiFailure(404, "ResourceNotFound", f"Machine {ref} was not found.")
    store = emulator.actions
    scope = next((request[k] for k in kind.scopes), None)
    option = sha1.lower() if isinstance(sha1, str) else scope
    with store.lock:
        if store.active(emulator, machine["id"], kind.type, option) is not None:
            raise ApiFailure(400, "ActiveRequestAlreadyExists", "Action is already in progress")
        now = emulator.clock.monotonic()
        document = new_action(emulator, machine, kind.type, comment, claims, now, scope)
        if sha1:
            document["relatedFileInfo"] = {
                "fileIdentifier": sha1.lower(),
                "fileIdentifierType": "Sha1",
            }
        outcome = emulator.action_outcomes.get(machine["id"], emulator.action_outcome)
        stored = StoredAction(document, now, outcome)
        store.actions[document["id"]] = stored
    return entity_reply(emulator, ENTITY_SET, store.view(emulator, stored), 201)


def list_actions(emulator: Emulator, *, query: dict[str, str], **_: Any) -> Reply:
    """GET /api/machineactions: `$filter` on id, status, machineId, type, requestor,
    creationDateTimeUtc; `$top` (at most 10,000), `$skip`; newest first."""
    store = emulator.actions
    with store.lock:
        views = [store.view(emulator, s) for s in reversed(list(store.actions.values()))]
    views = filtered(views, query, odata.ACTION_FIELDS, "PublicMachineAction")
    top = integer(query, "$top", 10_000)
    skip = integer(query, "$skip", 0)
    if top > 10_000:
        raise ApiFailure(400, "BadRequest", "The limit of '10000' for Top query has been exceeded.")
    items = [json.dumps(v).encode() for v in views[skip : skip + top]]
    return collection(emulator, "MachineActions", items)


def new_action(
    emulator: Emulator,
    machine: dict[str, Any],
    action_type: str,
    comment: str,
    claims: dict[str, Any],
    now: float,
    scope: str | None = None,
) -> dict[str, Any]:
    """A new MachineAction of `action_type` on `machine`, Pending, as the API answers it."""
    return {
        "id": str(uuid.uuid4()),
        "type": action_type,
        "title": None,
        "requestor": claims.get("appid"),
        "requestorComment": comment,
        "status": "Pending",
        "machineId": machine["id"],
        "computerDnsName": machine.get("computerDnsName"),
        "creationDateTimeUtc": stamp(emulator, now),
        "lastUpdateDateTimeUtc": stamp(emulator, now),
        "cancellationRequestor": None,
        "cancellationComment": None,
        "cancellationDateTimeUtc": None,
        "errorHResult": 0,
        "scope": scope,
        "externalId": None,
        "requestSource": "PublicApi",
        "relatedFileInfo": None,
        "commands": [],
        "troubleshootInfo": None,
    }


def get_action(emulator: Emulator, action_id: str, **_: Any) -> Reply:
    """GET /api/machineactions/{id}."""
    return entity_reply(
        emulator, ENTITY_SET, emulator.actions.view(emulator, _stored(emulator, action_id))
    )


def cancel(
    emulator: Emulator, action_id: str, *, body: Any, claims: dict[str, Any], **_: Any
) -> Reply:
    """POST /api/machineactions/{id}/cancel {Comment}: only a Pending or InProgress action."""
    request = body_object(body, {"Comment"}, {"Comment"})
    stored = _stored(emulator, action_id)
    store = emulator.actions
    with store.lock:
        status, _since = store.status(emulator, stored)
        if status not in ACTIVE:
            raise ApiFailure(
                400,
                "InvalidRequest",
                f"Machine action {action_id} has ended ({status}) and cannot be cancelled.",
            )
        now = emulator.clock.monotonic()
        stored.cancelled_at = now
        stored.document.update(
            cancellationRequestor=claims.get("appid"),
            cancellationComment=request["Comment"],
            cancellationDateTimeUtc=stamp(emulator, now),
        )
    return entity_reply(emulator, ENTITY_SET, store.view(emulator, stored))


def package_uri(emulator: Emulator, action_id: str, *, claims: dict[str, Any], **_: Any) -> Reply:
    """GET /api/machineactions/{id}/getPackageUri: 2 calls a minute and 120 an hour; 404 until
    the collection has succeeded. The value comes wrapped in quotes, as Microsoft's page shows."""
    wait = emulator.package_limiter.admit(f"{claims.get('tid')}+{claims.get('appid')}")
    if wait is not None:
        raise emulator.package_limiter.quota_failure(wait)
    stored = _stored(emulator, action_id)
    status, _since = emulator.actions.status(emulator, stored)
    if stored.document["type"] != "CollectInvestigationPackage" or status != "Succeeded":
        raise ApiFailure(
            404, "ResourceNotFound", f"No investigation package for machine action {action_id}."
        )
    uri = (
        "https://userrequests-us.securitycenter.windows.com:443/safedownload/"
        f"WDATP_Investigation_Package.zip?token={secrets.token_urlsafe(24)}"
    )
    return json_reply(
        {"@odata.context": f"{emulator.url}/api/$metadata#Edm.String", "value": f'"{uri}"'}
    )


def _stored(emulator: Emulator, action_id: str) -> StoredAction:
    stored = emulator.actions.actions.get(action_id.lower())
    if stored is None:
        raise ApiFailure(404, "ResourceNotFound", f"Machine action {action_id} was not found.")
    return stored


def stamp(emulator: Emulator, monotonic: float) -> str:
    """A moment of the emulator's monotonic clock as the API writes times (7 fraction digits)."""
    return epoch_stamp(emulator.clock.time() - (emulator.clock.monotonic() - monotonic))


def epoch_stamp(seconds: float) -> str:
    """A moment since the epoch as the API writes times (7 fraction digits)."""
    moment = dt.datetime.fromtimestamp(seconds, dt.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def _creator(kind: Kind) -> Any:
    def handler(emulator: Emulator, ref: str, **kwargs: Any) -> Reply:
        return create(emulator, ref, kind=kind, **kwargs)

    return handler


TRACK = {READ, WRITE, *RESPONSE_ROLES}
ROUTES: list[Route] = [
    *(route("POST", f"/api/machines/*/{k.path}", k.role, _creator(k)) for k in KINDS),
    route("GET", "/api/machineactions", TRACK, list_actions),
    route("GET", "/api/machineactions/*", TRACK, get_action),
    route("POST", "/api/machineactions/*/cancel", CANCEL_ROLES, cancel),
    # The package URI is a read: Machine.Read.All or Machine.ReadWrite.All, not CollectForensics.
    route("GET", "/api/machineactions/*/getPackageUri", {READ, WRITE}, package_uri),
    route("GET", "/api/machineactions/*/GetPackageUri", {READ, WRITE}, package_uri),
]
