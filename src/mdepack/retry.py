"""When to retry a call and how long to wait: the server's word first, then capped backoff.

429: `Retry-After` (seconds or an HTTP date), else the seconds named in the message ("You can send
requests again in 8 seconds", "Try again in 3 seconds"), else exponential backoff with jitter.
500/502/503/504, dropped connections, timeouts and truncated bodies: backoff. 400, 403 and 404 are
answers, never retried; nor are TLS verification failures or oversized answers. 401 refreshes the
token once, then fails.

The loop lives here, around one attempt, as azure-core's RetryPolicy wraps the next send: the
client only says what one attempt is.
"""

from __future__ import annotations

import logging
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import TypeVar

from mdepack import logs
from mdepack.clock import Clock
from mdepack.errors import ApiError, RateLimitError

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_AGAIN_IN = re.compile(r"again in (\d+(?:\.\d+)?) seconds?", re.I)
T = TypeVar("T")
log = logging.getLogger("mdepack.api")


class Failure(Exception):
    """One failed attempt: the error it would raise, whether another attempt may help, and the
    wait the server asked for."""

    def __init__(self, error: ApiError, retryable: bool, wait: float | None = None) -> None:
        super().__init__(error.message)
        self.error = error
        self.retryable = retryable
        self.wait = wait


@dataclass
class RetryPolicy:
    """Attempts and a total waiting budget per call; `max_attempts=1` turns retries off."""

    max_attempts: int
    budget: float
    base: float = 1.0
    cap: float = 30.0
    rng: random.Random = field(default_factory=random.Random)

    def backoff(self, attempt: int) -> float:
        """Equal-jitter exponential backoff after failed attempt number `attempt` (1-based)."""
        ceiling = min(self.cap, self.base * 2 ** (attempt - 1))
        return float(ceiling / 2 + self.rng.uniform(0, ceiling / 2))

    def run(
        self,
        attempt: Callable[[int], T],
        *,
        clock: Clock,
        refresh: Callable[[], object],
        method: str,
        path: str,
        on_wait: Callable[[float, str], None] | None = None,
    ) -> T:
        """Call `attempt(n)` until it returns, retrying each retryable Failure within budget;
        `on_wait(seconds, reason)` hears of each wait before it starts."""
        started = clock.monotonic()
        refreshed = False
        number = 0
        while True:
            number += 1
            try:
                return attempt(number)
            except Failure as failure:
                error = failure.error
                if error.status == 401 and not refreshed:
                    refreshed = True
                    refresh()
                    continue
                if not failure.retryable:
                    raise error from None
                wait = failure.wait if failure.wait is not None else self.backoff(number)
                spent = clock.monotonic() - started
                if number >= self.max_attempts or spent + wait > self.budget:
                    retry_after = round(wait, 3) if isinstance(error, RateLimitError) else None
                    raise error.with_context(attempts=number, retry_after=retry_after) from None
                logs.event(
                    log,
                    "retry",
                    method=method,
                    path=path,
                    attempt=number,
                    wait=wait,
                    reason=error.code or error.type,
                )
                if on_wait is not None:
                    on_wait(wait, f"{error.type} {error.code or ''}".strip())
                clock.sleep(wait)


def server_wait(retry_after: str | None, message: str | None, now: float) -> float | None:
    """Seconds the server asked us to wait, from the header or the message, if it said."""
    if retry_after:
        value = retry_after.strip()
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                return max(0.0, parsedate_to_datetime(value).timestamp() - now)
            except (TypeError, ValueError):
                pass
    if message:
        match = _AGAIN_IN.search(message)
        if match:
            return float(match.group(1))
    return None
