"""What every write to many items shares: the `max_machines` guard (with the operator's
ceiling), batching, the rule that decides whether a failed request may have been applied, and the
per-outcome summary whose `not_done` says what was asked but is not in effect."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from mdepack.errors import ApiError, GuardError

T = TypeVar("T")

# Answers after which the write may have gone in although the call failed: no answer at all
# (dropped, timed out), an unreadable 2xx, and server errors that can come mid-way (500, 502, 504).
_MAY_HAVE_APPLIED = frozenset({500, 502, 504})


def distinct_ids(
    ids: Iterable[str], max_machines: int, ceiling: int | None, field: str = "machine_ids"
) -> list[str]:
    """The distinct ids (lower-case, first-seen order), or GuardError before any write.

    `max_machines` is the caller's limit; `ceiling` (MDE_MAX_MACHINES_CEILING) is the operator's,
    which no input can raise.
    """
    unique = list(dict.fromkeys(i.lower() for i in ids))
    limit, source = max_machines, "max_machines"
    if ceiling is not None and ceiling < limit:
        limit, source = ceiling, "the operator's ceiling MDE_MAX_MACHINES_CEILING"
    at_most(len(unique), limit, source, field, "machines", "ids")
    return unique


def at_most(count: int, limit: int, source: str, field: str, noun: str, items: str) -> None:
    """GuardError, before any write, when `count` distinct `noun` exceed `limit` (named by
    `source`, e.g. max_indicators)."""
    if count > limit:
        raise GuardError(
            f"{field}: {count} distinct {noun} is more than {source} ({limit}); "
            "nothing was changed",
            field=field,
            rule=f"at most {source} distinct {items}",
        )


def batches(items: list[T], size: int) -> list[list[T]]:
    """`items` in consecutive chunks of at most `size`."""
    return [items[i : i + size] for i in range(0, len(items), size)]


def may_have_applied(error: ApiError) -> bool:
    """True when a request that failed may still have been applied by the server."""
    status = error.status
    return status is None or 200 <= status < 300 or status in _MAY_HAVE_APPLIED


def summary(
    reports: Iterable[dict[str, Any]], outcomes: Sequence[str], done: Sequence[str]
) -> dict[str, int]:
    """Counts of each outcome, and `not_done`: every outcome that is not in `done`."""
    counts = dict.fromkeys(outcomes, 0)
    for report in reports:
        counts[report["outcome"]] += 1
    counts["not_done"] = sum(n for name, n in counts.items() if name not in done)
    return counts


def words(counts: dict[str, int], names: Iterable[str] | None = None) -> str:
    """`1 created, 3 not sent`: the non-zero counts (of `names`, or all but not_done)."""
    keys = list(names) if names is not None else [k for k in counts if k != "not_done"]
    return ", ".join(f"{counts[k]} {k.replace('_', ' ')}" for k in keys if counts.get(k))


def not_done(output: Any) -> bool:
    """True when a write's output reports items where what was asked is not in effect (its
    summary's `not_done`, or response actions that ended Failed, TimeOut or Cancelled)."""
    if not isinstance(output, dict) or output.get("dry_run") is True:
        return False  # a dry run was asked to send nothing, and did so
    counts = output.get("summary")
    return isinstance(counts, dict) and bool(counts.get("failed") or counts.get("not_done"))
