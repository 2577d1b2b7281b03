"""Routes of the custom-indicator resource: submit one, import many (per-item answers), list,
delete one, batch delete; as the public docs describe them.

- Import takes at most 500 indicators a call and 30 calls a minute; each one is checked on its
  own (required fields, type and action values, Audit needs generateAlert, no CIDR ranges, a value
  that fits its type, the tenant's 15,000 active indicators) and answered `isFailed` with a
  `failureReason`, while the rest go in. A value submitted again (same value and type) is updated.
- Batch delete takes at most 500 ids and 30 calls a minute; an unknown id fails the whole call
  with 404 and nothing is deleted.
- Ti.ReadWrite.All sees every indicator; Ti.ReadWrite only those its app created.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import re
import threading
from typing import TYPE_CHECKING, Any

from mdepack.emulator.api import (
    ApiFailure,
    Reply,
    Route,
    batch_size,
    collection,
    entity_reply,
    integer,
    json_reply,
    route,
)
from mdepack.emulator.routes.filters import filtered

if TYPE_CHECKING:
    from mdepack.emulator.server import Emulator

TI = "Ti.ReadWrite"
TI_ALL = "Ti.ReadWrite.All"
ROLES = {TI, TI_ALL}
MAX_BATCH = 500
MAX_ACTIVE = 15_000
# The server's own list, apart from the client's rules, so a disagreement shows in the tests.
TYPES = (
    "FileSha1",
    "FileSha256",
    "FileMd5",
    "CertificateThumbprint",
    "IpAddress",
    "DomainName",
    "Url",
)
ACTIONS = ("Warn", "Block", "Audit", "BlockAndRemediate", "Allowed", "Alert", "AlertAndBlock")
SEVERITIES = ("Informational", "Low", "Medium", "High")
REQUIRED = ("indicatorValue", "indicatorType", "action", "title", "description")
FIELDS = frozenset(
    {
        "id",
        "indicatorValue",
        "indicatorType",
        "action",
        "severity",
        "createdBy",
        "title",
        "generateAlert",
        "expirationTime",
        "creationTimeDateTimeUtc",
    }
)
_HEX = {"FileSha1": 40, "FileSha256": 64, "FileMd5": 32, "CertificateThumbprint": 40}


class IndicatorStore:
    """The tenant's indicators by id, and the id of each (value, type)."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.keys: dict[tuple[str, str], str] = {}
        self.next_id = 995
        self.lock = threading.Lock()

    def upsert(
        self, emulator: Emulator, request: dict[str, Any], app: str | None
    ) -> dict[str, Any]:
        """Create the indicator, or update the one with the same value and type."""
        problem = _problem(request)
        if problem:
            raise ValueError(problem)
        key = (str(request["indicatorValue"]).lower(), request["indicatorType"])
        now = _now(emulator)
        with self.lock:
            existing = self.keys.get(key)
            if existing is None and len(self.items) >= MAX_ACTIVE:
                raise ValueError(f"The tenant has reached the limit of {MAX_ACTIVE} indicators.")
            if existing is None:
                existing = str(self.next_id)
                self.next_id += 1
                self.keys[key] = existing
                self.items[existing] = {
                    "id": existing,
                    "createdBy": app,
                    "createdBySource": "PublicApi",
                    "sourceType": "AadApp",
                    "creationTimeDateTimeUtc": now,
                }
            item = self.items[existing]
            item.update(
                {
                    "indicatorValue": request["indicatorValue"],
                    "indicatorType": request["indicatorType"],
                    "action": request["action"],
                    "title": request["title"],
                    "description": request["description"],
                    "severity": request.get("severity", "Informational"),
                    "expirationTime": request.get("expirationTime"),
                    "recommendedActions": request.get("recommendedActions"),
                    "rbacGroupNames": request.get("rbacGroupNames", []),
                    "generateAlert": bool(request.get("generateAlert", False)),
                    "application": None,
                    "lastUpdateTime": now,
                    "lastUpdatedBy": app,
                }
            )
            return dict(item)

    def delete(self, ids: list[str]) -> None:
        """Delete all of `ids`, or none: 404 when any is unknown."""
        with self.lock:
            unknown = [i for i in ids if i not in self.items]
            if unknown:
                raise ApiFailure(404, "NotFound", f"Indicator {unknown[0]} was not found.")
            for indicator_id in ids:
                item = self.items.pop(indicator_id)
                self.keys.pop((str(item["indicatorValue"]).lower(), item["indicatorType"]), None)


def _problem(request: Any) -> str | None:
    """Why the API would refuse this indicator, or None."""
    if not isinstance(request, dict):
        return "An indicator must be a JSON object."
    for name in REQUIRED:
        if not isinstance(request.get(name), str) or not request[name].strip():
            return f"The field {name} is required."
    kind, value, action = request["indicatorType"], request["indicatorValue"], request["action"]
    if kind not in TYPES:
        return f"Invalid indicatorType '{kind}'."
    if action not in ACTIONS:
        return f"Invalid action '{action}'."
    if "severity" in request and request["severity"] not in SEVERITIES:
        return f"Invalid severity '{request['severity']}'."
    if action == "Audit" and request.get("generateAlert") is not True:
        return "generateAlert must be true for the Audit action."
    if "/" in value and kind == "IpAddress":
        return "CIDR ranges are not supported."
    if kind in _HEX and not re.fullmatch(rf"[0-9a-fA-F]{{{_HEX[kind]}}}", value):
        return f"'{value}' is not a valid {kind}."
    if kind == "IpAddress":
        try:
            ipaddress.ip_address(value)
        except ValueError:
            return f"'{value}' is not a valid IP address."
    return None


def submit(emulator: Emulator, *, body: Any, claims: dict[str, Any], **_: Any) -> Reply:
    """POST /api/indicators: one indicator, created or updated."""
    try:
        item = emulator.indicators.upsert(emulator, body, claims.get("appid"))
    except ValueError as exc:
        raise ApiFailure(400, "InvalidRequestBody", str(exc)) from None
    return entity_reply(emulator, "Indicators", item)


def import_many(emulator: Emulator, *, body: Any, claims: dict[str, Any], **_: Any) -> Reply:
    """POST /api/indicators/import {Indicators: [...]}: one answer per indicator."""
    _admit(emulator, emulator.indicator_limiter, claims)
    requests = body.get("Indicators") if isinstance(body, dict) else None
    if not isinstance(requests, list) or not requests:
        raise ApiFailure(400, "InvalidRequestBody", "Indicators must be a non-empty list.")
    batch_size(requests, MAX_BATCH, "indicators")
    answers = []
    for request in requests:
        value = request.get("indicatorValue") if isinstance(request, dict) else None
        try:
            item = emulator.indicators.upsert(emulator, request, claims.get("appid"))
        except ValueError as exc:
            answers.append(
                {"id": None, "indicator": value, "isFailed": True, "failureReason": str(exc)}
            )
        else:
            answers.append(
                {"id": item["id"], "indicator": value, "isFailed": False, "failureReason": None}
            )
    return json_reply(
        {
            "@odata.context": f"{emulator.url}/api/$metadata#Collection(microsoft.windowsDefenderATP.api.ImportIndicatorResult)",
            "value": answers,
        }
    )


def list_indicators(
    emulator: Emulator, *, query: dict[str, str], claims: dict[str, Any], **_: Any
) -> Reply:
    """GET /api/indicators: `$filter`, `$top` (at most 10,000), `$skip`."""
    store = emulator.indicators
    with store.lock:
        items = [dict(i) for i in store.items.values()]
    if TI_ALL not in claims.get("roles", []):
        items = [i for i in items if i.get("createdBy") == claims.get("appid")]
    items = filtered(items, query, FIELDS, "Indicator")
    top, skip = integer(query, "$top", 10_000), integer(query, "$skip", 0)
    if top > 10_000:
        raise ApiFailure(400, "BadRequest", "The limit of '10000' for Top query has been exceeded.")
    return collection(
        emulator, "Indicators", [json.dumps(i).encode() for i in items[skip : skip + top]]
    )


def delete_one(emulator: Emulator, indicator_id: str, **_: Any) -> Reply:
    """DELETE /api/indicators/{id}: 204, or 404."""
    emulator.indicators.delete([indicator_id])
    return Reply(204, b"")


def batch_delete(emulator: Emulator, *, body: Any, claims: dict[str, Any], **_: Any) -> Reply:
    """POST /api/indicators/BatchDelete {IndicatorIds}: 204; 404 if any id is unknown."""
    _admit(emulator, emulator.indicator_delete_limiter, claims)
    ids = body.get("IndicatorIds") if isinstance(body, dict) else None
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        raise ApiFailure(400, "InvalidRequestBody", "IndicatorIds must be a non-empty list of ids.")
    batch_size(ids, MAX_BATCH, "indicator ids")
    emulator.indicators.delete(list(dict.fromkeys(ids)))
    return Reply(204, b"")


def _admit(emulator: Emulator, limiter: Any, claims: dict[str, Any]) -> None:
    wait = limiter.admit(f"{claims.get('tid')}+{claims.get('appid')}")
    if wait is not None:
        raise limiter.quota_failure(wait)


def _now(emulator: Emulator) -> str:
    moment = dt.datetime.fromtimestamp(emulator.clock.time(), dt.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


ROUTES: list[Route] = [
    route("POST", "/api/indicators", ROLES, submit),
    route("POST", "/api/indicators/import", ROLES, import_many),
    route("POST", "/api/indicators/BatchDelete", ROLES, batch_delete),
    route("GET", "/api/indicators", ROLES, list_indicators),
    route("DELETE", "/api/indicators/*", ROLES, delete_one),
]
