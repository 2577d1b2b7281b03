"""AWS Lambda handler: `mdepack.triggers.aws_lambda.handler`.

- Direct invocation (Step Functions, SDK): `{"action": NAME, "input": {...}}` returns the action's
  output, `{"playbook": NAME, "input": {...}}` a shipped playbook's outputs. A failure raises the
  pack's error, so a Step Functions `Retry`/`Catch` matches on its class name
  (`"ErrorEquals": ["RateLimitError"]`).
- API Gateway or a function URL (payload 1.0 or 2.0): `POST /actions/{action}` or
  `POST /playbooks/{playbook}` with the input as the JSON body; the answer is
  `{statusCode, headers, body}` (see :mod:`mdepack.triggers.http` for the statuses).

A wait for response actions (`wait_seconds`) ends `WAIT_MARGIN_SECONDS` before the function's
own timeout, so the report of the actions created is returned, never cut off by the runtime; a
failure after actions were created names their ids in its message, which is all of an error
that Lambda keeps (`errorType`, `errorMessage`).
"""

from __future__ import annotations

import base64
import re
from typing import Any

_ROUTE = re.compile(r"/(actions|playbooks)/([^/]+)/?$")
# Time kept back from the function's timeout for the last poll and the report.
WAIT_MARGIN_SECONDS = 5.0


def handler(event: dict[str, Any], context: Any = None) -> Any:
    """The Lambda entry point."""
    client = _client(context)
    if _is_http(event):
        return _http(event, client)
    from mdepack.errors import InputError

    if "action" in event:
        from mdepack.invoke import invoke

        return invoke(str(event["action"]), event.get("input", {}), client=client)
    if "playbook" in event:
        from mdepack.triggers.http import resolve

        try:
            playbook = resolve("playbooks", str(event["playbook"]), client)
        except LookupError:
            raise InputError(
                f"playbook: no shipped playbook {event['playbook']!r}",
                field="playbook",
                rule="must name a shipped playbook",
            ) from None
        return playbook(event.get("input", {}))
    raise InputError(
        'event: expected {"action": NAME, "input": {...}}, {"playbook": NAME, ...} or an HTTP event',
        field="event",
        rule="a known event shape",
    )


def _client(context: Any) -> Any:
    """A client whose waits end before the function does, when the runtime says how long it has
    (`context.get_remaining_time_in_millis()`); otherwise None, and the usual client is made."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if not callable(remaining):
        return None
    from mdepack.client import ApiClient
    from mdepack.clock import SYSTEM_CLOCK
    from mdepack.config import Config
    from mdepack.errors import ConfigError

    try:
        config = Config.from_env()
    except ConfigError:
        return None  # said where the call is made, in the answer's own shape
    seconds = remaining() / 1000 - WAIT_MARGIN_SECONDS
    return ApiClient(config, wait_deadline=SYSTEM_CLOCK.monotonic() + seconds)


def _is_http(event: dict[str, Any]) -> bool:
    return "httpMethod" in event or "rawPath" in event or "routeKey" in event


def _http(event: dict[str, Any], client: Any = None) -> dict[str, Any]:
    from mdepack.errors import MethodNotAllowed, NotFound
    from mdepack.triggers.http import error_answer, respond

    method = event.get("httpMethod") or event.get("requestContext", {}).get("http", {}).get(
        "method", ""
    )
    path = event.get("rawPath") or event.get("path") or ""
    match = _ROUTE.search(path)
    if match is None:
        routes = "POST /actions/{action} or /playbooks/{playbook}"
        status, headers, body = error_answer(NotFound(routes))
    elif str(method).upper() != "POST":
        status, headers, body = error_answer(MethodNotAllowed("use POST"))
        headers["Allow"] = "POST"
    else:
        raw = event.get("body")
        if raw and event.get("isBase64Encoded"):
            raw = base64.b64decode(raw)
        status, headers, body = respond(match.group(1), match.group(2), raw, client)
    return {"statusCode": status, "headers": headers, "body": body, "isBase64Encoded": False}
