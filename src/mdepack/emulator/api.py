"""What every API route of the emulator shares: Defender's error answers, replies, the route
table and its dispatch (roles included), OData collections, and the per-app rate limiter."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from mdepack.clock import Clock

if TYPE_CHECKING:
    from mdepack.emulator.server import Emulator

READ = "Machine.Read.All"
WRITE = "Machine.ReadWrite.All"
CONTENT_TYPE = "application/json; odata.metadata=minimal; odata.streaming=true; charset=utf-8"


@dataclass
class Reply:
    """One answer: status, body bytes, headers."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


class ApiFailure(Exception):
    """An error answer in Defender's shape (or, with `body`, a gateway's shape as it is)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
    ):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}
        self.body = body


Handler = Callable[..., Reply]


@dataclass(frozen=True)
class Route:
    """`method` on a path `pattern` (`*` matches one segment), open to any of `roles`."""

    method: str
    pattern: tuple[str, ...]
    roles: frozenset[str]
    handler: Handler


def route(method: str, path: str, roles: set[str] | str, handler: Handler) -> Route:
    """A Route from `/api/a/*/b`-style text."""
    wanted = {roles} if isinstance(roles, str) else roles
    return Route(method, tuple(p for p in path.split("/") if p), frozenset(wanted), handler)


def dispatch(
    emulator: Emulator,
    routes: list[Route],
    method: str,
    path: str,
    query: dict[str, str],
    body: Any,
    claims: dict[str, Any],
) -> Reply:
    """Answer one authorised request from the first route its method and path match."""
    parts = [unquote(p) for p in path.split("/") if p]
    if parts[:2] == ["api", "v1.0"]:
        parts = ["api", *parts[2:]]
    held = set(claims.get("roles", []))
    for candidate in routes:
        if candidate.method != method or len(candidate.pattern) != len(parts):
            continue
        if not all(p in ("*", q) for p, q in zip(candidate.pattern, parts, strict=True)):
            continue
        if not held & candidate.roles:
            raise ApiFailure(
                403,
                "Forbidden",
                f"Missing application roles. API required roles: "
                f"{', '.join(sorted(candidate.roles))}, "
                f"application roles: {', '.join(sorted(held)) or 'none'}.",
            )
        args = [q for p, q in zip(candidate.pattern, parts, strict=True) if p == "*"]
        return candidate.handler(emulator, *args, query=query, body=body, claims=claims)
    raise ApiFailure(404, "NotFound", f"Resource not found: {path}")


def json_reply(document: Any, status: int = 200) -> Reply:
    """A JSON answer."""
    return Reply(status, json.dumps(document).encode())


def entity_reply(emulator: Emulator, entity_set: str, document: Any, status: int = 200) -> Reply:
    """One entity as the API answers it: its `@odata.context` first, then its fields."""
    context = f"{emulator.url}/api/$metadata#{entity_set}/$entity"
    return json_reply({"@odata.context": context, **document}, status)


def collection(
    emulator: Emulator, entity: str, items: list[bytes], next_link: str | None = None
) -> Reply:
    """An OData collection answer from already-serialised items."""
    context = f'{{"@odata.context":"{emulator.url}/api/$metadata#{entity}",'
    if next_link:
        context += f'"@odata.nextLink":{json.dumps(next_link)},'
    return Reply(200, (context + '"value":[').encode() + b",".join(items) + b"]}")


def integer(query: dict[str, str], name: str, default: int) -> int:
    """A non-negative integer query parameter ($top, $skip), or 400 as Defender answers."""
    if name not in query:
        return default
    try:
        value = int(query[name])
    except ValueError:
        raise ApiFailure(400, "ODataError", f"Invalid value for {name}: '{query[name]}'.") from None
    if value < 0:
        raise ApiFailure(400, "ODataError", f"Invalid value for {name}: '{value}'.")
    return value


def batch_size(items: list[Any], most: int, noun: str) -> None:
    """400 MaximumBatchSizeExceeded when a bulk request holds more than `most` items."""
    if len(items) > most:
        raise ApiFailure(
            400,
            "MaximumBatchSizeExceeded",
            f"Maximum batch size is {most} {noun}; the request has {len(items)}.",
        )


def body_object(body: Any, allowed: set[str], required: set[str]) -> dict[str, Any]:
    """A PascalCase request body: unknown keys and missing required ones are refused."""
    if not isinstance(body, dict):
        raise ApiFailure(400, "InvalidRequestBody", "The request body must be a JSON object.")
    unknown = set(body) - allowed
    if unknown:
        raise ApiFailure(
            400,
            "InvalidRequestBody",
            f"Unknown properties in request body: {', '.join(sorted(unknown))}.",
        )
    missing = sorted(required - set(body))
    if missing:
        raise ApiFailure(
            400, "MissingRequiredParameter", f"Missing required parameter: {missing[0]}."
        )
    return body


def error_reply(failure: ApiFailure) -> Reply:
    """Defender's error body, compact as the API writes it (some clients match its text), with a
    request id as `target`."""
    if failure.body is not None:
        return Reply(failure.status, _compact(failure.body), failure.headers)
    target = f"|{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:16]}.1."
    body = {"error": {"code": failure.code, "message": failure.message, "target": target}}
    return Reply(failure.status, _compact(body), failure.headers)


def graph_error_reply(failure: ApiFailure, now: float) -> Reply:
    """Microsoft Graph's error body: code and message, the request id under `innerError`."""
    if failure.body is not None:
        return Reply(failure.status, _compact(failure.body), failure.headers)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now))
    inner = {"date": stamp, "request-id": str(uuid.uuid4()), "client-request-id": str(uuid.uuid4())}
    body = {"error": {"code": failure.code, "message": failure.message, "innerError": inner}}
    return Reply(failure.status, _compact(body), failure.headers)


def _compact(document: Any) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


class RateLimiter:
    """Sliding windows per key (app + tenant): calls a minute and calls an hour (amortised O(1))."""

    def __init__(self, per_minute: int, per_hour: int, clock: Clock, graph: bool = False) -> None:
        self.per_minute, self.per_hour, self.clock = per_minute, per_hour, clock
        self.graph = graph  # answers as Microsoft Graph throttles
        self._minute: dict[str, deque[float]] = {}
        self._hour: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def admit(self, key: str) -> float | None:
        """None when the call may go; else the seconds until it could."""
        with self._lock:
            now = self.clock.monotonic()
            minute = self._minute.setdefault(key, deque())
            hour = self._hour.setdefault(key, deque())
            for window, span in ((minute, 60), (hour, 3600)):
                while window and window[0] <= now - span:
                    window.popleft()
            if len(minute) >= self.per_minute:
                return minute[0] + 60 - now
            if len(hour) >= self.per_hour:
                return hour[0] + 3600 - now
            minute.append(now)
            hour.append(now)
            return None

    def quota_failure(self, wait: float) -> ApiFailure:
        """The 429 Defender answers, with Retry-After and the wait in the message."""
        seconds = max(1, int(wait + 0.999))
        if self.graph:
            return ApiFailure(
                429,
                "TooManyRequests",
                "Too many requests. Please retry after the time given by Retry-After.",
                {"Retry-After": str(seconds)},
            )
        return ApiFailure(
            429,
            "429",
            f"API calls quota exceeded! Maximum allowed {self.per_minute} per 00:01:00 for the key "
            f"Destination+TenantID+AppID. You can send requests again in {seconds} seconds.",
            {"Retry-After": str(seconds)},
        )
