"""The wire under the client: one pooled session per trust setting, a body read with a whole-
response deadline and a size cap, and the mapping of transport failures to the pack's errors.

- Every request must finish within its deadline (`MDE_TIMEOUT`): the body is read in pieces and
  the deadline is checked between them, so a server that trickles bytes cannot hold a call.
- An answer larger than `MDE_MAX_RESPONSE_MB` is refused as soon as it is known to be (from
  Content-Length, or while reading), and is not retried.
- A TLS certificate that cannot be verified is not a passing fault: it fails at once, naming the
  host and MDE_CA_BUNDLE. Timeouts and dropped or refused connections are transient.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3.exceptions

from mdepack.errors import ApiError, TransientError
from mdepack.retry import Failure

CHUNK = 64 * 1024
_VERIFY_FAILED = ("CERTIFICATE_VERIFY_FAILED", "certificate verify failed", "doesn't match")


class PackSession(requests.Session):
    """A session whose CA bundle and timeout apply to every request, MSAL's included.

    `requests` lets REQUESTS_CA_BUNDLE override `Session.verify`; passing `verify=` per request
    is the only way a chosen CA wins, so this session does it for callers that do not (MSAL).
    """

    def __init__(self, verify: str | bool, timeout: tuple[float, float]) -> None:
        super().__init__()
        self.pack_verify = verify
        self.pack_timeout = timeout

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        """Send with the pack's CA bundle and timeout unless the caller gave its own."""
        kwargs.setdefault("verify", self.pack_verify)
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.pack_timeout
        return super().request(method, url, *args, **kwargs)


_sessions: dict[tuple[Any, ...], PackSession] = {}
_sessions_lock = threading.Lock()


def shared_session(verify: str | bool, timeout: tuple[float, float]) -> PackSession:
    """One connection pool per process and trust setting: warm invocations reuse connections."""
    key = (verify, timeout)
    with _sessions_lock:
        if key not in _sessions:
            _sessions[key] = PackSession(verify, timeout)
        return _sessions[key]


def read_body(response: requests.Response, deadline: float, limit: int) -> bytes:
    """The whole body of a streamed response, within `deadline` (time.monotonic) and `limit` bytes.

    On success the connection goes back to the pool; on any failure it is closed.
    """
    return b"".join(read_chunks(response, deadline, limit))


def read_chunks(response: requests.Response, deadline: float, limit: int) -> Iterator[bytes]:
    """The body of a streamed response piece by piece, within `deadline` and `limit` bytes in
    all: a Failure as soon as either is passed. The connection goes back to the pool once the
    body is read, and is closed on any failure (or when the reader stops early)."""
    host = urlsplit(response.url).hostname or "the API"
    finished = False
    try:
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > limit:
            raise Failure(_too_large(host, limit), False)
        size = 0
        while True:
            if time.monotonic() > deadline:
                raise Failure(
                    TransientError(
                        f"{host} did not finish its answer within the deadline (MDE_TIMEOUT)",
                        code="Timeout",
                    ),
                    True,
                )
            try:
                part = response.raw.read1(CHUNK)
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                raise failure_for(exc, response.url) from None
            if not part:
                break
            size += len(part)
            if size > limit:
                raise Failure(_too_large(host, limit), False)
            yield part
        finished = True
    finally:
        if finished:
            response.raw.release_conn()
        else:
            response.close()


def failure_for(exc: BaseException, url: str) -> Failure:
    """The pack's error for a request that got no usable answer from `url`."""
    host = urlsplit(url).hostname or url
    text = str(exc)
    if isinstance(exc, (requests.exceptions.SSLError, urllib3.exceptions.SSLError)) and any(
        marker in text for marker in _VERIFY_FAILED
    ):
        reason = "hostname mismatch" if "doesn't match" in text else "certificate verify failed"
        return Failure(
            ApiError(
                f"TLS: the certificate of {host} could not be verified ({reason}); if it is "
                "signed by a private CA, set MDE_CA_BUNDLE to that CA's PEM file",
                code="CertificateVerifyFailed",
            ),
            False,
        )
    if isinstance(exc, (requests.Timeout, urllib3.exceptions.TimeoutError)):
        return Failure(
            TransientError(f"{host} did not answer in time (MDE_TIMEOUT)", code="Timeout"), True
        )
    if isinstance(exc, urllib3.exceptions.ProtocolError) and "IncompleteRead" in text:
        return Failure(TransientError(f"{host}'s answer was cut short", code="BadBody"), True)
    split = urlsplit(url)
    where = f"{host}:{split.port or (443 if split.scheme == 'https' else 80)}"
    return Failure(
        TransientError(f"connection to {where} failed: {_reason(text)}", code="ConnectionError"),
        True,
    )


def _reason(text: str) -> str:
    for marker, reason in (
        ("Connection refused", "connection refused"),
        ("Name or service not known", "host name not resolved"),
        ("Temporary failure in name resolution", "host name not resolved"),
        ("Connection reset", "connection reset"),
        ("RemoteDisconnected", "closed without answering"),
        ("Connection aborted", "connection aborted"),
        ("No route to host", "no route to host"),
        ("SSL", "TLS handshake failed"),
    ):
        if marker in text:
            return reason
    return "connection error"


def _too_large(host: str, limit: int) -> ApiError:
    return ApiError(
        f"{host}'s answer is larger than {limit // (1024 * 1024)} MiB (MDE_MAX_RESPONSE_MB); "
        "narrow the request (filters, fields, max_results) or raise the cap",
        code="ResponseTooLarge",
    )
