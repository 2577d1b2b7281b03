"""Faults on demand: a schedule (the next N matching calls) or a probability, per path and method.

A fault answers with a status (and optional Retry-After and body), delays the answer, drops the
connection without answering (before or after acting on the request), sends a body cut short or
one byte at a time, or acts on the request and answers with a body of its own.
"""

from __future__ import annotations

import random
import re
import threading
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Fault:
    """One rule. `path` is a regular expression searched in the request path."""

    path: str = ".*"
    method: str | None = None
    status: int | None = None
    times: int | None = 1  # None: every matching call
    after: int = 0  # let this many matching calls through first
    probability: float | None = None
    delay: float = 0.0
    drop: bool = False
    truncate: bool = False
    retry_after: str | None = None
    message: str | None = None
    body: dict[str, Any] | None = None  # an error answer's whole JSON body, as sent
    reply: bytes | None = None  # act on the request, then answer `status` (default 200) with this
    drop_after: bool = False  # act on the request, then close without answering
    trickle: float = 0.0  # send the answer one byte every this many seconds
    hits: int = 0
    seen: int = 0

    def matches(self, method: str, path: str, rng: random.Random) -> bool:
        """True when this rule applies to the request, consuming one of its `times`."""
        if self.method and self.method.upper() != method:
            return False
        if not re.search(self.path, path):
            return False
        self.seen += 1
        if self.seen <= self.after:
            return False
        if self.times is not None and self.hits >= self.times:
            return False
        if self.probability is not None and rng.random() >= self.probability:
            return False
        self.hits += 1
        return True


@dataclass
class FaultPlan:
    """The rules in force; the first that matches a request applies."""

    rules: list[Fault] = field(default_factory=list)
    rng: random.Random = field(default_factory=lambda: random.Random(7))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, fault: Fault) -> Fault:
        """Add a rule and return it (its `hits` show how often it fired)."""
        with self.lock:
            self.rules.append(fault)
        return fault

    def clear(self) -> None:
        """Remove every rule."""
        with self.lock:
            self.rules.clear()

    def pick(self, method: str, path: str) -> Fault | None:
        """The rule that applies to this request, if any."""
        with self.lock:
            for rule in self.rules:
                if rule.matches(method, path, self.rng):
                    return rule
        return None
