"""Clocks the runtime and the emulator wait on. Tests and benchmarks inject a manual or scaled
clock, so rate limits and backoff are exercised without sleeping for real minutes."""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    """What the pacer, the retry loop and the emulator need of time."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back."""

    def time(self) -> float:
        """Seconds since the epoch (token expiry)."""

    def sleep(self, seconds: float) -> None:
        """Wait this long."""


class SystemClock:
    """Real time."""

    def monotonic(self) -> float:
        """Seconds from time.monotonic()."""
        return time.monotonic()

    def time(self) -> float:
        """Seconds from time.time()."""
        return time.time()

    def sleep(self, seconds: float) -> None:
        """Sleep for real."""
        if seconds > 0:
            time.sleep(seconds)


class ManualClock:
    """A clock that moves only when slept on or advanced: a 60-second wait returns at once."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._now = start
        self._lock = threading.Lock()
        self.slept: list[float] = []

    def monotonic(self) -> float:
        """The current manual time."""
        with self._lock:
            return self._now

    def time(self) -> float:
        """The current manual time, as epoch seconds."""
        return self.monotonic()

    def sleep(self, seconds: float) -> None:
        """Record the wait and move the clock forward by it."""
        with self._lock:
            self.slept.append(seconds)
            self._now += max(0.0, seconds)

    def advance(self, seconds: float) -> None:
        """Move the clock forward without recording a wait."""
        with self._lock:
            self._now += seconds


class ScaledClock:
    """Real time running `factor` times faster: with factor 10 a minute passes in 6 seconds.

    Clocks made with the same `start` (a `time.time()` value) agree across processes, so several
    processes and a server can share one scaled budget (the shared-budget tests and benchmark).
    """

    def __init__(self, factor: float, start: float | None = None) -> None:
        self.factor = factor
        self._shared = start is not None
        self._origin = time.monotonic()
        self._epoch = time.time() if start is None else start

    def monotonic(self) -> float:
        """Scaled seconds since this clock was made (or since `start`)."""
        if self._shared:
            return (time.time() - self._epoch) * self.factor
        return (time.monotonic() - self._origin) * self.factor

    def time(self) -> float:
        """Scaled epoch seconds."""
        return self._epoch + self.monotonic()

    def sleep(self, seconds: float) -> None:
        """Sleep for the real fraction of the scaled wait."""
        if seconds > 0:
            time.sleep(seconds / self.factor)


# The one real clock of the process: pacers are per clock, so sharing it shares the budget.
SYSTEM_CLOCK = SystemClock()
