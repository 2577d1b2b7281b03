"""Fetching a result from a link the API handed out (a live response result's SAS link).

A SAS link is its own credential: the request carries **no** bearer token, goes only to the link
the API returned, over https (plain http only to a loopback host, as for MDE_API_URL), follows no
redirect, and is read within MDE_TIMEOUT and MDE_MAX_RESPONSE_MB. A link is a secret: it never
reaches an error or a log (errors name the host only; `mdepack.redact` masks a link's signature
wherever it appears, and the HTTP libraries' own logs are redacted from here on).
"""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import requests

from mdepack import logs, transport
from mdepack.config import Config, is_loopback
from mdepack.errors import ApiError
from mdepack.retry import Failure

logs.redact_library_logs()


def fetch(url: str, config: Config, session: requests.Session) -> bytes:
    """The body at `url`; ApiError (naming the host, never the link) when it cannot be had."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme != "https" and not (parts.scheme == "http" and is_loopback(host)):
        raise ApiError(
            f"the result link is not https (host {host or 'unknown'}): not fetched",
            code="InsecureLink",
        )
    deadline = time.monotonic() + config.read_timeout
    try:
        answer = session.get(
            url,
            headers={"Accept": "*/*"},
            timeout=(config.connect_timeout, config.read_timeout),
            verify=config.verify,
            allow_redirects=False,
            stream=True,
        )
    except requests.RequestException as exc:
        raise transport.failure_for(exc, f"{parts.scheme}://{parts.netloc}/").error from None
    try:
        content = transport.read_body(answer, deadline, config.max_response_bytes)
    except Failure as failure:
        raise failure.error from None
    if answer.status_code != 200:
        expired = answer.status_code == 403
        raise ApiError(
            f"{host} refused the result link (HTTP {answer.status_code})"
            + ("; it may have expired: ask for a new one" if expired else ""),
            status=answer.status_code,
            code="LinkExpired" if expired else "LinkRefused",
        )
    return content


def expiry(url: str) -> str | None:
    """When a SAS link stops working: its `se` (signed expiry) parameter, if it has one."""
    found = parse_qs(urlsplit(url).query).get("se")
    return found[0] if found else None
