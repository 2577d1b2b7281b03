"""What every write to many machines shares: the `max_machines` guard (with the operator's
ceiling), batching, and the rule that decides whether a failed request may have been applied."""

from __future__ import annotations

from collections.abc import Iterable

from mdepack.errors import ApiError, GuardError

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
    if len(unique) > limit:
        raise GuardError(
            f"{field}: {len(unique)} distinct machines is more than {source} ({limit}); "
            "nothing was changed",
            field=field,
            rule=f"at most {source} distinct ids",
        )
    return unique


def batches(ids: list[str], size: int) -> list[list[str]]:
    """`ids` in consecutive chunks of at most `size`."""
    return [ids[i : i + size] for i in range(0, len(ids), size)]


def may_have_applied(error: ApiError) -> bool:
    """True when a request that failed may still have been applied by the server."""
    status = error.status
    return status is None or 200 <= status < 300 or status in _MAY_HAVE_APPLIED
