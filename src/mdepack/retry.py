"""When to retry a call and how long to wait: the server's word first, then capped backoff.

429: `Retry-After` (seconds or an HTTP date), else the seconds named in the message ("You can send
requests again in 8 seconds"), else exponential backoff with jitter. 500/502/503/504, dropped
connections, read timeouts and truncated bodies: backoff, for idempotent calls only. 400, 403 and
404 are answers, never retried. 401 is handled by the client (one token refresh).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_AGAIN_IN = re.compile(r"again in (\d+(?:\.\d+)?) seconds?", re.I)


@dataclass
class RetryPolicy:
    """Attempts and a total waiting budget per call; `max_attempts=1` turns retries off."""

    max_attempts: int = 4
    budget: float = 120.0
    base: float = 1.0
    cap: float = 30.0
    rng: random.Random = field(default_factory=random.Random)

    def backoff(self, attempt: int) -> float:
        """Equal-jitter exponential backoff after failed attempt number `attempt` (1-based)."""
        ceiling = min(self.cap, self.base * 2 ** (attempt - 1))
        return float(ceiling / 2 + self.rng.uniform(0, ceiling / 2))


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
