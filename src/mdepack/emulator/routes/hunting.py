"""The route of advanced hunting on Microsoft Graph: `POST /v1.0/security/runHuntingQuery` over
the fleet, for the KQL subset of `mdepack.emulator.kql`.

Tables: `DeviceInfo` (one report a machine a day for 30 days: Timestamp, DeviceId, DeviceName,
OSPlatform, OSVersion, PublicIP, ExposureLevel, MachineGroup, SensorHealthState) and
`DeviceFileEvents` (a FileCreated row for every machine a known file was seen on: Timestamp,
DeviceId, DeviceName, ActionType, FileName, FolderPath, SHA1). `Timespan` (an ISO-8601 duration
or start/end; default 30 days) limits rows by Timestamp. The limits: 45 calls a minute (a 429
with Retry-After), and the tenant's CPU quota (`Emulator.exhaust_hunting_cpu`), a 429 naming when
the next 15-minute cycle starts.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from mdepack.emulator import kql
from mdepack.emulator.api import ApiFailure, Reply, Route, route

if TYPE_CHECKING:
    from mdepack.emulator.server import Emulator

HUNTING = "ThreatHunting.Read.All"
DAYS = 30
CYCLE = 15 * 60  # the CPU quota's cycle, in seconds
DEVICE_INFO = [
    ("Timestamp", "DateTime"),
    ("DeviceId", "String"),
    ("DeviceName", "String"),
    ("OSPlatform", "String"),
    ("OSVersion", "String"),
    ("PublicIP", "String"),
    ("ExposureLevel", "String"),
    ("MachineGroup", "String"),
    ("SensorHealthState", "String"),
]
FILE_EVENTS = [
    ("Timestamp", "DateTime"),
    ("DeviceId", "String"),
    ("DeviceName", "String"),
    ("ActionType", "String"),
    ("FileName", "String"),
    ("FolderPath", "String"),
    ("SHA1", "String"),
]
_DURATION = re.compile(
    r"P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?"
)


def run_hunting_query(emulator: Emulator, *, body: Any, claims: dict[str, Any], **_: Any) -> Reply:
    """POST /v1.0/security/runHuntingQuery."""
    blocked = emulator.hunting_cpu_blocked_until
    now = emulator.clock.time()
    if blocked is not None and now < blocked:
        again = dt.datetime.fromtimestamp(blocked, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        raise ApiFailure(
            429,
            "TooManyRequests",
            "Query execution was blocked: the tenant has used all of its allocated CPU resources "
            f"for advanced hunting. Queries can run again at {again}.",
        )
    wait = emulator.hunting_limiter.admit(str(claims.get("tid")))
    if wait is not None:
        seconds = max(1, int(wait + 0.999))
        raise ApiFailure(
            429,
            "TooManyRequests",
            f"Rate limit exceeded: at most {emulator.hunting_limiter.per_minute} hunting calls a "
            f"minute. Try again in {seconds} seconds.",
            {"Retry-After": str(seconds)},
        )
    if not isinstance(body, dict) or not isinstance(body.get("Query"), str):
        raise ApiFailure(400, "BadRequest", "The request body must carry Query, a string.")
    unknown = set(body) - {"Query", "Timespan"}
    if unknown:
        raise ApiFailure(400, "BadRequest", f"Unknown properties: {', '.join(sorted(unknown))}.")
    start, end = _window(body.get("Timespan"), now)
    try:
        query = kql.parse(body["Query"])
        schema, rows = kql.run(query, _tables(emulator, now, start, end))
    except kql.KqlError as error:
        raise ApiFailure(400, "BadRequest", str(error)) from None
    context = f"{emulator.url}/v1.0/$metadata#microsoft.graph.security.huntingQueryResults"
    head = json.dumps({"@odata.context": context, "schema": schema})[:-1]
    encode = json.JSONEncoder(separators=(",", ":")).encode
    return Reply(200, (head + ',"results":[' + ",".join(map(encode, rows)) + "]}").encode())


def exhaust_cpu(emulator: Emulator) -> float:
    """Spend the tenant's CPU quota: queries are refused until the next 15-minute cycle."""
    now = emulator.clock.time()
    emulator.hunting_cpu_blocked_until = (now // CYCLE + 1) * CYCLE
    return emulator.hunting_cpu_blocked_until


def _window(timespan: Any, now: float) -> tuple[float, float]:
    if timespan is None:
        return now - DAYS * 86400, now
    if not isinstance(timespan, str):
        raise ApiFailure(400, "BadRequest", "Timespan must be a string.")
    if "/" in timespan:
        first, _, last = timespan.partition("/")
        return _instant(first), _instant(last)
    match = _DURATION.fullmatch(timespan)
    if not match or timespan in ("P", "PT") or timespan.endswith("T"):
        raise ApiFailure(400, "BadRequest", f"Invalid Timespan '{timespan}'.")
    years, months, weeks, days, hours, minutes, seconds = (float(g or 0) for g in match.groups())
    span = (
        ((years * 365 + months * 30 + weeks * 7 + days) * 24 + hours) * 3600
        + minutes * 60
        + seconds
    )
    return now - span, now


def _instant(text: str) -> float:
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise ApiFailure(400, "BadRequest", f"Invalid Timespan time '{text}'.") from None


def _stamp(seconds: float) -> str:
    moment = dt.datetime.fromtimestamp(seconds, dt.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.0000000Z")


def _tables(emulator: Emulator, now: float, start: float, end: float) -> dict[str, Any]:
    machines = emulator.fleet.machines

    def device_info() -> Iterator[dict[str, Any]]:
        for day in range(DAYS):
            for index, machine in enumerate(machines):
                moment = now - day * 86400 - (index % 3600)
                if not start <= moment <= end:
                    continue
                yield {
                    "Timestamp": _stamp(moment),
                    "DeviceId": machine.get("id"),
                    "DeviceName": machine.get("computerDnsName"),
                    "OSPlatform": machine.get("osPlatform"),
                    "OSVersion": machine.get("osVersion"),
                    "PublicIP": machine.get("lastExternalIpAddress"),
                    "ExposureLevel": machine.get("exposureLevel"),
                    "MachineGroup": machine.get("rbacGroupName"),
                    "SensorHealthState": machine.get("healthStatus"),
                }

    def file_events() -> Iterator[dict[str, Any]]:
        for number, (sha1, ids) in enumerate(sorted(emulator.fleet.files.items())):
            for index, machine in enumerate(emulator.machines(ids)):
                moment = now - 3600 * (1 + number) - index
                if not start <= moment <= end:
                    continue
                yield {
                    "Timestamp": _stamp(moment),
                    "DeviceId": machine.get("id"),
                    "DeviceName": machine.get("computerDnsName"),
                    "ActionType": "FileCreated",
                    "FileName": f"{sha1[:8]}.exe",
                    "FolderPath": f"C:\\Users\\Public\\Downloads\\{sha1[:8]}.exe",
                    "SHA1": sha1,
                }

    return {
        "DeviceInfo": (DEVICE_INFO, device_info),
        "DeviceFileEvents": (FILE_EVENTS, file_events),
    }


ROUTES: list[Route] = [route("POST", "/v1.0/security/runHuntingQuery", HUNTING, run_hunting_query)]
