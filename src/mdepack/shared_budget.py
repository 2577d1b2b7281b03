"""One tenant's rate budget shared by every process, in Redis (`MDE_RATE_STORE`).

Defender counts calls per application and tenant, however many workers make them. With a store
configured, every process using the same API, tenant and app (and endpoint, for an endpoint with
its own `rate`) draws from one sliding-window log per key, kept by `pyrate-limiter`'s Redis
bucket. The windows are a little longer than the API's (`MARGIN`): the server counts a call when it
arrives, a moment after it is sent, so a window of sends a couple of seconds longer never lets the
server see more than the budget, which is the headroom the local pacer gets by stamping a slot
again when the answer is in.

The store down, unreachable or slow (each command is bounded by `TIMEOUT`) is not an outage: the
call goes ahead on the process's own pacer, stderr says so once, and the store is tried again
after `RETRY_STORE` seconds.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from mdepack.clock import Clock
from mdepack.errors import ConfigError
from mdepack.pacing import HOUR, MINUTE, RatePacer, Slot

MARGIN = 2.0  # seconds added to each window, for the time between a send and its arrival
TIMEOUT = 0.5  # seconds a store command may take before the process paces on its own
RETRY_STORE = 30.0  # seconds before an unreachable store is tried again


class SharedPacer:
    """The pacer interface (`acquire`, `done`) over a budget kept in Redis, with the process's
    own pacer standing in while the store cannot be reached."""

    def __init__(
        self,
        store: str,
        key: str,
        per_minute: int,
        per_hour: int,
        clock: Clock,
        say: Callable[[str], None] | None = None,
    ) -> None:
        if not all(importlib.util.find_spec(name) for name in ("redis", "pyrate_limiter")):
            raise ConfigError(
                'MDE_RATE_STORE needs the redis extra: pip install "mdepack[redis]"',
                field="MDE_RATE_STORE",
                rule="the redis extra installed",
            )
        self.store = store
        self.key = key
        self.per_minute = per_minute
        self.per_hour = per_hour
        self.clock = clock
        self.local = RatePacer(per_minute, per_hour, clock)
        self._say = say or _stderr
        self._bucket: Any = None
        self._down_until = 0.0
        self._told = False
        self._admitted = 0
        self._lock = threading.RLock()  # _lost is also called while connecting

    def acquire(self, on_wait: Callable[[float, str], None] | None = None) -> Slot:
        """Wait until the shared budget has room for a call, and take it."""
        while True:
            bucket = self._connected()
            if bucket is None:
                return self.local.acquire(on_wait)
            now_ms = int(self.clock.time() * 1000)
            try:
                from pyrate_limiter import RateItem

                decision = bucket.put_decision(RateItem("call", now_ms))
            except Exception as error:  # any store failure: pace locally, say so once
                self._lost(error)
                continue
            if decision.allowed:
                self._admitted += 1
                if self._admitted % 100 == 1:  # now and then, drop entries older than the hour
                    self._tidy(bucket, now_ms)
                return Slot(self.clock.monotonic())
            wait = max(0.05, (decision.retry_after_ms or 1000) / 1000)
            if on_wait is not None:
                on_wait(wait, f"{self._budget(decision)} (shared by every worker)")
            self.clock.sleep(wait)

    def done(self, slot: Slot) -> None:
        """The answer is in: the shared windows already carry the margin; the local pacer stamps
        its own slots."""
        self.local.done(slot)

    def _tidy(self, bucket: Any, now_ms: int) -> None:
        try:
            bucket.leak(now_ms)
            bucket.redis.expire(self.key, int(HOUR + MARGIN) + 60)  # an idle key goes away
        except Exception as error:
            self._lost(error)

    def _connected(self) -> Any:
        with self._lock:
            if self._bucket is not None:
                return self._bucket
            if self.clock.monotonic() < self._down_until:
                return None
            try:
                self._bucket = _bucket(self.store, self.key, self.per_minute, self.per_hour)
            except Exception as error:
                self._lost(error)
                return None
            if self._told:
                self._say(f"mdepack: the shared rate budget at {_where(self.store)} is back")
                self._told = False
            return self._bucket

    def _lost(self, error: BaseException) -> None:
        with self._lock:
            self._bucket = None
            self._down_until = self.clock.monotonic() + RETRY_STORE
            if not self._told:
                self._told = True
                self._say(
                    f"mdepack: the shared rate budget at {_where(self.store)} cannot be reached "
                    f"({type(error).__name__}); pacing this process on its own until it is back"
                )

    def _budget(self, decision: Any) -> str:
        limit = getattr(decision.failing_rate, "limit", self.per_minute)
        return (
            f"{self.per_minute} calls a minute"
            if limit == self.per_minute
            else f"{self.per_hour} calls an hour"
        )


def _bucket(store: str, key: str, per_minute: int, per_hour: int) -> Any:
    import redis
    from pyrate_limiter import Rate
    from pyrate_limiter.buckets import RedisBucket

    client = redis.Redis.from_url(store, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT)
    minute, hour = int((MINUTE + MARGIN) * 1000), int((HOUR + MARGIN) * 1000)
    rates = [Rate(per_minute, minute)]
    if per_hour / hour < per_minute / minute:  # else the hour's budget can never bind
        rates.append(Rate(per_hour, hour))
    client.ping()
    return RedisBucket.init(rates, client, key)


def _where(store: str) -> str:
    """The store's host and port, never its password."""
    parts = urlsplit(store)
    return f"{parts.scheme}://{parts.hostname}:{parts.port or 6379}"


def _stderr(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()
