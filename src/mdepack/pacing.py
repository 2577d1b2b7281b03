"""A process-wide call budget per tenant and app, so the pack waits instead of drawing 429s.

Defender counts 100 calls a minute and 1,500 an hour per application and tenant. Every action in
a process (a warm Lambda, a playbook) shares one pacer per key. A call holds its slot from the
moment it is sent, and the slot is stamped again when the answer arrives, so the server, which
counts on arrival, never sees more than the budget inside its window.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from mdepack.clock import Clock

MINUTE = 60.0
HOUR = 3600.0


@dataclass
class Slot:
    """One call's place in the windows; `at` is when it last counted."""

    at: float


@dataclass
class RatePacer:
    """Sliding-window pacer for a minute and an hour budget."""

    per_minute: int
    per_hour: int
    clock: Clock
    _minute: deque[Slot] = field(default_factory=deque)
    _hour: deque[Slot] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def acquire(self, on_wait: Callable[[float, str], None] | None = None) -> Slot:
        """Wait until a call may go, take a slot for it, and return the slot.

        `on_wait(seconds, budget)` hears of a wait before it starts (the CLI tells a person).
        """
        while True:
            with self._lock:
                now = self.clock.monotonic()
                _expire(self._minute, now - MINUTE)
                _expire(self._hour, now - HOUR)
                wait = max(
                    _wait(self._minute, self.per_minute, now, MINUTE),
                    _wait(self._hour, self.per_hour, now, HOUR),
                )
                if wait <= 0:
                    slot = Slot(now)
                    self._minute.append(slot)
                    self._hour.append(slot)
                    return slot
                budget = (
                    f"{self.per_minute} calls a minute"
                    if len(self._minute) >= self.per_minute
                    else f"{self.per_hour} calls an hour"
                )
            if on_wait is not None:
                on_wait(wait, budget)
            self.clock.sleep(wait)

    def done(self, slot: Slot) -> None:
        """Stamp the slot with the time the answer came back."""
        with self._lock:
            slot.at = max(slot.at, self.clock.monotonic())


def _expire(window: deque[Slot], older_than: float) -> None:
    while window and window[0].at <= older_than:
        window.popleft()


def _wait(window: deque[Slot], limit: int, now: float, span: float) -> float:
    if len(window) < limit:
        return 0.0
    # The slot that must leave for one more call to fit; slots are stamped late, so take the max.
    leaving = max(slot.at for slot in list(window)[: len(window) - limit + 1])
    return leaving + span - now + 1e-6


class Pacer(Protocol):
    """What the client asks of a budget: a slot before a call, a stamp when its answer is in."""

    def acquire(self, on_wait: Callable[[float, str], None] | None = None) -> Slot:
        """Wait until a call may go; its slot."""
        ...

    def done(self, slot: Slot) -> None:
        """The call's answer came back."""
        ...


_pacers: dict[tuple[str, ...], Pacer] = {}
_pacers_lock = threading.Lock()


def pacer_for(
    key: tuple[str, ...], per_minute: int, per_hour: int, clock: Clock, store: str | None = None
) -> Pacer:
    """The one pacer of this process for a tenant + app (and budget): its own, or with `store`
    (MDE_RATE_STORE) the budget every process shares (`mdepack.shared_budget`)."""
    full_key = (*key, str(per_minute), str(per_hour), str(id(clock)), store or "")
    with _pacers_lock:
        if full_key not in _pacers:
            if store:
                from mdepack.shared_budget import SharedPacer  # redis only when configured

                name = "mdepack:budget:" + ":".join(key)
                _pacers[full_key] = SharedPacer(store, name, per_minute, per_hour, clock)
            else:
                _pacers[full_key] = RatePacer(per_minute, per_hour, clock)
        return _pacers[full_key]
