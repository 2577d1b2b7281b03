"""What the Microsoft Graph security API answers differently from the Defender API.

Its error body is `{"error": {"code", "message", "innerError": {"request-id", ...}}}` (the request
id is under `innerError`, not `target`), and advanced hunting's 429 means one of two quotas: the
call count (retried after the server's wait, like any 429) or the tenant's CPU quota, which blocks
queries until the next 15-minute cycle. The second is raised at once as `HuntingQuotaError` with
the time queries may run again: retrying within the call cannot help, and each retry would count.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from mdepack.errors import HuntingQuotaError
from mdepack.policies import AnswerPolicy, Response
from mdepack.retry import Failure, server_wait

# The words Graph and the hunting service use for the CPU quota (and none of the call count's).
_CPU_QUOTA = re.compile(r"\bCPU\b|allocated resources", re.I)
_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z")


class GraphAnswerPolicy(AnswerPolicy):
    """Defender's answer policy with Graph's request id and its CPU-quota 429."""

    def failure(self, response: Response) -> Failure:
        """The typed error of a non-2xx Graph answer."""
        failure = super().failure(response)
        error = failure.error
        request_id = graph_request_id(response.content)
        if request_id is not None:
            error = error.with_context(target=request_id)
            error.target = request_id
        if response.status == 429 and _CPU_QUOTA.search(error.message):
            retry_at = self._retry_at(response, error.message)
            suffix = f"; queries may run again at {retry_at}" if retry_at else ""
            quota = HuntingQuotaError(
                f"advanced hunting: the tenant's CPU quota is spent{suffix} (HTTP 429: "
                f"{error.message.removesuffix(' (HTTP 429)')})",
                status=429,
                code=error.code,
                target=error.target,
                retry_at=retry_at,
            )
            return Failure(quota, False)
        return Failure(error, failure.retryable, failure.wait)

    def _retry_at(self, response: Response, message: str) -> str | None:
        found = _INSTANT.search(message)
        if found:
            return found.group(0)
        wait = server_wait(response.headers.get("Retry-After"), message, self.clock.time())
        if wait is None:
            return None
        instant = dt.datetime.fromtimestamp(self.clock.time() + wait, dt.timezone.utc)
        return instant.strftime("%Y-%m-%dT%H:%M:%SZ")


def graph_request_id(content: bytes) -> str | None:
    """`error.innerError["request-id"]` of a Graph error body, if it has one."""
    try:
        document: Any = json.loads(content)
    except ValueError:
        return None
    error = document.get("error") if isinstance(document, dict) else None
    inner = error.get("innerError") if isinstance(error, dict) else None
    value = inner.get("request-id") if isinstance(inner, dict) else None
    return value if isinstance(value, str) and value else None
