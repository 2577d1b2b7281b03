"""The policies one API call passes through, each doing one thing, composed as azure-core composes
its pipeline. The retry policy (`mdepack.retry`) runs the whole chain once per attempt:

    answer -> token at hand -> pacing -> auth -> log -> transport

- `AnswerPolicy`: a 2xx answer becomes its parsed JSON, any other a typed `Failure` (with the
  server's wait for a 429); a 404 where "not found" is an empty result passes as no data.
- `TokenAtHandPolicy`: makes sure a token is cached before a slot is taken, so the time between a
  slot and its send never holds a token request (a shared budget's margin assumes it is short).
- `PacingPolicy`: waits for a slot in the endpoint's own budget and the tenant's, and stamps the
  slots when the answer is in (the server counts on arrival).
- `AuthPolicy`: the bearer token, fetched after any pacing wait, so a long wait cannot hand the
  server a token that expired while it lasted.
- `LogPolicy`: counts the attempt and logs one line for it, with no secret in it.
- `Transport`: the wire (`mdepack.transport`): one request, its body read within the deadline and
  the size cap.

Another API family or a shared rate store plugs in by giving the client other policies.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import requests

from mdepack import logs, transport
from mdepack.auth import TokenProvider
from mdepack.clock import Clock
from mdepack.config import Config
from mdepack.errors import (
    ApiError,
    AuthError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    TransientError,
)
from mdepack.pacing import Pacer
from mdepack.retry import RETRY_STATUSES, Failure, server_wait

log = logging.getLogger("mdepack.api")
_ERRORS_BY_STATUS: dict[int, type[ApiError]] = {
    401: AuthError,
    403: PermissionDeniedError,
    404: NotFoundError,
    429: RateLimitError,
}


@dataclass(frozen=True)
class Request:
    """One attempt at a call: where it goes and what it carries."""

    method: str
    url: str
    template: str  # the path as the manifest writes it, for the log
    body: Any = None
    missing_ok: bool = False  # a 404 is an empty result, not NotFoundError
    pacer: Pacer | None = None  # the endpoint's own budget, if it has one
    attempt: int = 1
    headers: Mapping[str, str] = field(default_factory=dict)
    streamed: bool = False  # a 2xx body is handed on unread, as `Response.chunks`
    timeout: float | None = None  # the endpoint's own deadline, instead of MDE_TIMEOUT
    # A multipart/form-data body instead of JSON: field -> text, or (file name, bytes).
    form: Mapping[str, str | tuple[str, bytes]] | None = None


@dataclass
class Response:
    """What came back: the status, headers and body, and once read, the JSON data."""

    status: int
    headers: Mapping[str, str]
    content: bytes
    data: Any = None
    chunks: Iterator[bytes] | None = None  # a streamed request's 2xx body, still to be read


Send = Callable[[Request], Response]


class Policy(Protocol):
    """One step of the chain: do its part, and hand the request to `next_`."""

    def send(self, request: Request, next_: Send) -> Response:
        """The response, after this policy's part."""
        ...


def chain(policies: Sequence[Policy], last: Send) -> Send:
    """The policies in order, the first outermost, ending in `last` (the transport)."""
    send = last
    for policy in reversed(policies):
        send = _bound(policy, send)
    return send


def _bound(policy: Policy, next_: Send) -> Send:
    return lambda request: policy.send(request, next_)


class AnswerPolicy:
    """A 2xx answer's JSON as `data`; any other answer as a typed Failure."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def send(self, request: Request, next_: Send) -> Response:
        """The response with its data, or raise the Failure the status means."""
        response = next_(request)
        status = response.status
        if 200 <= status < 300:
            if response.chunks is not None:
                return response
            if response.content:
                try:
                    response.data = json.loads(response.content)
                except ValueError:
                    error = TransientError(
                        "the API's answer was cut short or not JSON", status=status, code="BadBody"
                    )
                    raise Failure(error, True) from None
            return response
        if status == 404 and request.missing_ok:
            return response
        raise self.failure(response)

    def failure(self, response: Response) -> Failure:
        """The typed error of a non-2xx answer, whether to retry it, and the server's wait."""
        status = response.status
        code, message, target = error_body(response.content)
        text = message or f"HTTP {status}"
        kind = _ERRORS_BY_STATUS.get(status, TransientError if status >= 500 else ApiError)
        error = kind(
            f"{text} (HTTP {status})", status=status, code=code or str(status), target=target
        )
        wait = None
        if status == 429:
            wait = server_wait(response.headers.get("Retry-After"), message, self.clock.time())
        # 401 is not retried as such: the retry policy refreshes the token once, then gives up.
        return Failure(error, status in RETRY_STATUSES, wait)


class PacingPolicy:
    """The tenant's budget (and the endpoint's own, when the request names one)."""

    def __init__(self, pacer: Pacer, on_wait: Callable[[float, str], None] | None) -> None:
        self.pacer = pacer
        self.on_wait = on_wait

    def send(self, request: Request, next_: Send) -> Response:
        """Send once both budgets have a slot; stamp the slots with the answer's arrival."""
        own = request.pacer.acquire(self.on_wait) if request.pacer is not None else None
        slot = self.pacer.acquire(self.on_wait)
        try:
            return next_(request)
        finally:
            self.pacer.done(slot)
            if request.pacer is not None and own is not None:
                request.pacer.done(own)


class TokenAtHandPolicy:
    """Fetch a token, if none is cached, before pacing: the first call of a process would
    otherwise take its slot, then spend the token request (and the TLS handshake it brings)
    before the call is sent, and a budget counted on sends would see it arrive late."""

    def __init__(self, tokens: Callable[[], TokenProvider]) -> None:
        self.tokens = tokens

    def send(self, request: Request, next_: Send) -> Response:
        """Send once a token is at hand (AuthPolicy takes it again after any wait)."""
        self.tokens().token()
        return next_(request)


class AuthPolicy:
    """The bearer token, from a provider made on first use."""

    def __init__(self, tokens: Callable[[], TokenProvider]) -> None:
        self.tokens = tokens

    def send(self, request: Request, next_: Send) -> Response:
        """Send with `Authorization: Bearer <token>`."""
        token = self.tokens().token()
        return next_(
            replace(request, headers={**request.headers, "Authorization": f"Bearer {token}"})
        )


class LogPolicy:
    """Counts each attempt and logs it: method, path template, status, attempt, time, request id."""

    def __init__(self, count: Callable[[], None]) -> None:
        self.count = count

    def send(self, request: Request, next_: Send) -> Response:
        """Send, and log what came of it."""
        self.count()
        began = time.perf_counter()
        try:
            response = next_(request)
        except Failure as lost:
            _log_call(request, lost.error.code or "failed", began, None)
            raise
        target = None if 200 <= response.status < 300 else error_body(response.content)[2]
        _log_call(request, response.status, began, target)
        return response


class Transport:
    """The last step: one HTTP request over the shared session, the body read whole within
    MDE_TIMEOUT (the whole exchange, not each socket read) and the size cap."""

    def __init__(self, session: requests.Session, config: Config) -> None:
        self.session = session
        self.config = config

    def __call__(self, request: Request) -> Response:
        """The answer; a Failure when none usable came."""
        read_timeout = request.timeout or self.config.read_timeout
        deadline = time.monotonic() + read_timeout
        try:
            body: dict[str, Any] = (
                {"files": {k: _part(v) for k, v in request.form.items()}}
                if request.form is not None
                else {"json": request.body}
            )
            answer = self.session.request(
                request.method,
                request.url,
                **body,
                headers={**request.headers, "Accept": "application/json"},
                timeout=(self.config.connect_timeout, read_timeout),
                verify=self.config.verify,
                allow_redirects=False,
                stream=True,
            )
        except requests.RequestException as exc:
            raise transport.failure_for(exc, request.url) from None
        limit = self.config.max_response_bytes
        if request.streamed and 200 <= answer.status_code < 300:
            chunks = transport.read_chunks(answer, deadline, limit)
            return Response(answer.status_code, answer.headers, b"", chunks=chunks)
        content = transport.read_body(answer, deadline, limit)
        return Response(answer.status_code, answer.headers, content)


def _part(value: str | tuple[str, bytes]) -> tuple[str | None, str | bytes]:
    """One form field as `requests` sends it: a file part with its name, or plain text."""
    return value if isinstance(value, tuple) else (None, value)


def error_body(content: bytes) -> tuple[str | None, str | None, str | None]:
    """(code, message, target) of an error answer: Defender's `{"error": {...}}`, or the
    gateway's `{"statusCode": 429, "message": "..."}` in front of it."""
    try:
        document = json.loads(content)
    except ValueError:
        return None, None, None
    if not isinstance(document, dict):
        return None, None, None
    error = document.get("error")
    if isinstance(error, dict):
        return _text(error.get("code")), _text(error.get("message")), _text(error.get("target"))
    if error:
        return _text(error), _text(document.get("message")), None
    return _text(document.get("statusCode")), _text(document.get("message")), None


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _log_call(request: Request, status: int | str, began: float, request_id: str | None) -> None:
    logs.event(
        log,
        "api_call",
        method=request.method,
        path=request.template,
        status=status,
        attempt=request.attempt,
        elapsed_ms=(time.perf_counter() - began) * 1000,
        request_id=request_id,
    )
