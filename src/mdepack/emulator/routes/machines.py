"""Routes of the machine resource: list (OData), one machine, find by tag, find by IP, and tags."""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from mdepack.emulator.api import (
    READ,
    WRITE,
    ApiFailure,
    Reply,
    Route,
    batch_size,
    body_object,
    collection,
    integer,
    route,
)
from mdepack.emulator.routes.filters import filtered

if TYPE_CHECKING:
    from mdepack.emulator.server import Emulator

MAX_TOP = 10_000
MAX_BATCH = 500
_FIND_BY_IP = re.compile(r"^findbyip\(ip='([^']*)',timestamp=([^)]*)\)$")
IP_WINDOW = dt.timedelta(minutes=15)


def list_machines(emulator: Emulator, *, query: dict[str, str], **_: Any) -> Reply:
    """GET /api/machines: `$filter`, `$top` (at most 10,000), `$skip`; 404 on an empty fleet."""
    machines = emulator.fleet.machines
    if not machines:
        raise ApiFailure(404, "NotFound", "No machines found.")
    machines = filtered(machines, query)
    top = integer(query, "$top", MAX_TOP)
    skip = integer(query, "$skip", 0)
    if top > MAX_TOP:
        raise ApiFailure(
            400,
            "BadRequest",
            f"The limit of '{MAX_TOP}' for Top query has been exceeded. "
            f"The value from the incoming request is '{top}'.",
        )
    # Paging quirks seen in the field: a server-side page cap with @odata.nextLink, and a
    # nextLink that always points at the same page.
    page_size = min(top, emulator.server_page_size or top)
    page = machines[skip : skip + page_size]
    next_link = None
    if emulator.server_page_size and (
        emulator.repeat_next_link or skip + page_size < len(machines)
    ):
        next_skip = emulator.server_page_size if emulator.repeat_next_link else skip + page_size
        link_query = {k: v for k, v in query.items() if k not in ("$skip", "$top")}
        link_query["$skip"] = str(next_skip)
        next_link = f"{emulator.url}/api/machines?{urlencode(link_query)}"
    return machine_collection(emulator, page, next_link)


def machine_collection(
    emulator: Emulator, machines: list[dict[str, Any]], next_link: str | None = None
) -> Reply:
    """An OData collection of machines."""
    return collection(emulator, "Machines", [emulator.serialized(m) for m in machines], next_link)


def find_by_tag(emulator: Emulator, *, query: dict[str, str], **_: Any) -> Reply:
    """GET /api/machines/findbytag?tag=…&useStartsWithFilter=true|false."""
    tag = query.get("tag")
    if not tag:
        raise ApiFailure(400, "MissingRequiredParameter", "Parameter 'tag' is required.")
    prefix = query.get("useStartsWithFilter", "false").lower() == "true"
    found = [
        m
        for m in emulator.fleet.machines
        if any((t.startswith(tag) if prefix else t == tag) for t in m.get("machineTags") or [])
    ]
    return machine_collection(emulator, found)


def find_by_ip(emulator: Emulator, segment: str) -> Reply:
    """GET /api/machines/findbyip(ip='…',timestamp=…): machines that held the address within 15
    minutes of the time. The emulator takes a machine to have held its addresses from its
    firstSeen to its lastSeen, and an Active one (still reporting) until now."""
    match = _FIND_BY_IP.match(segment)
    if match is None:
        raise ApiFailure(400, "InvalidInput", f"Invalid findbyip request: {segment}")
    try:
        ip = str(ipaddress.ip_address(match.group(1)))
    except ValueError:
        raise ApiFailure(
            400, "InvalidIpAddress", f"Ip address {match.group(1)} is invalid."
        ) from None
    try:
        moment = _instant(match.group(2))
    except ValueError:
        raise ApiFailure(400, "InvalidInput", f"Invalid timestamp {match.group(2)}.") from None
    found = []
    for machine in emulator.fleet.machines:
        held = {a.get("ipAddress") for a in machine.get("ipAddresses") or []}
        held.add(machine.get("lastIpAddress"))
        if ip not in held:
            continue
        first, last = machine.get("firstSeen"), machine.get("lastSeen")
        if not (isinstance(first, str) and isinstance(last, str)):
            continue
        until = _instant(last)
        if machine.get("healthStatus") == "Active":  # still reporting: it holds them now too
            until = max(until, dt.datetime.fromtimestamp(emulator.clock.time(), dt.timezone.utc))
        if _instant(first) - IP_WINDOW <= moment <= until + IP_WINDOW:
            found.append(machine)
    return machine_collection(emulator, found)


def get_machine(emulator: Emulator, ref: str, **_: Any) -> Reply:
    """GET /api/machines/{id or computer DNS name}; findbyip(…) shares the path shape."""
    if ref.startswith("findbyip("):
        return find_by_ip(emulator, ref)
    machine = emulator.find_machine(ref)
    if machine is None:
        raise ApiFailure(404, "ResourceNotFound", f"Machine {ref} was not found.")
    return machine_entity(emulator, machine)


def machine_entity(emulator: Emulator, machine: dict[str, Any]) -> Reply:
    """One machine as the API answers it, `@odata.context` first (from the cached JSON)."""
    context = f'{{"@odata.context":"{emulator.url}/api/$metadata#Machines/$entity",'.encode()
    return Reply(200, context + emulator.serialized(machine)[1:])


def tag_one(emulator: Emulator, ref: str, *, body: Any, **_: Any) -> Reply:
    """POST /api/machines/{id}/tags {Value, Action}: the updated machine."""
    value, action = _tag_request(body, {"Value", "Action"})
    machine = emulator.machine(ref)
    if machine is None:
        raise ApiFailure(404, "ResourceNotFound", f"Machine {ref} was not found.")
    emulator.apply_tag(machine, value, action)
    return machine_entity(emulator, machine)


def tag_many(emulator: Emulator, *, body: Any, **_: Any) -> Reply:
    """POST /api/machines/AddOrRemoveTagForMultipleMachines: at most 500 ids; the updated machines."""
    value, action = _tag_request(body, {"Value", "Action", "MachineIds"})
    ids = body.get("MachineIds")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise ApiFailure(400, "InvalidRequestBody", "MachineIds must be a list of machine ids.")
    batch_size(ids, MAX_BATCH, "machines")
    updated = []
    for machine_id in ids:
        machine = emulator.machine(machine_id)
        if machine is not None:
            emulator.apply_tag(machine, value, action)
            updated.append(machine)
    return machine_collection(emulator, updated)


def _tag_request(body: Any, keys: set[str]) -> tuple[str, str]:
    request = body_object(body, keys, keys)
    value, action = request["Value"], request["Action"]
    if not isinstance(value, str) or not value:
        raise ApiFailure(400, "InvalidInput", "Value must be a non-empty tag.")
    if action not in ("Add", "Remove"):
        raise ApiFailure(400, "InvalidInput", f"Action must be Add or Remove, not {action!r}.")
    return value, action


def _instant(text: str) -> dt.datetime:
    # Up to 7 fraction digits, as the API writes them; Python reads at most 6.
    text = re.sub(r"(\.\d{6})\d+", r"\1", text.strip())
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment


ROUTES: list[Route] = [
    route("GET", "/api/machines", {READ, WRITE}, list_machines),
    route("GET", "/api/machines/findbytag", {READ, WRITE}, find_by_tag),
    route("POST", "/api/machines/AddOrRemoveTagForMultipleMachines", WRITE, tag_many),
    route("GET", "/api/machines/*", {READ, WRITE}, get_machine),
    route("POST", "/api/machines/*/tags", WRITE, tag_one),
]
