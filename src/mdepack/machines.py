"""The result shape shared by every action that returns machines.

A record whose `id` is not a Defender machine id (40 hex) cannot be chained to a later step;
rather than failing the whole result over it, it is dropped, logged as a warning, and reported by
its position in `skipped`. Every other field is passed through as the API sent it.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Iterable
from typing import Any

from mdepack import logs, spelling
from mdepack.errors import InputError

Machine = dict[str, Any]
_MACHINE_ID = re.compile(r"^[0-9a-fA-F]{40}$")
log = logging.getLogger("mdepack.api")


def usable(
    machines: Iterable[Any], skipped: list[dict[str, Any]] | None = None, start: int = 0
) -> list[Machine]:
    """The records that are machines with a valid id; the others go to `skipped` and the log."""
    kept: list[Machine] = []
    for index, machine in enumerate(machines, start):
        machine_id = machine.get("id") if isinstance(machine, dict) else None
        if isinstance(machine_id, str) and _MACHINE_ID.match(machine_id):
            kept.append(machine)
            continue
        entry = {"index": index, "id": machine_id, "reason": "id is not 40 hexadecimal characters"}
        logs.event(log, "skipped_record", logging.WARNING, index=index, id=machine_id)
        if skipped is not None:
            skipped.append(entry)
    return kept


@functools.cache
def known_fields() -> tuple[str, ...]:
    """The Machine fields the pack's schema names (documented and seen in real answers)."""
    from mdepack import manifest

    machine = manifest.load().schema("schemas/common.json")["$defs"]["Machine"]
    return tuple(sorted(machine["properties"]))


def unknown_fields(fields: Iterable[str]) -> list[tuple[str, str | None]]:
    """(name, did-you-mean or None) for each name in `fields` that is not a Machine field."""
    known = known_fields()
    result = []
    for name in fields:
        if name in known:
            continue
        close = next(iter(spelling.closest(name, known, most=1)), None)
        result.append((name, close))
    return result


def check_fields(fields: Iterable[str], field: str = "fields") -> None:
    """Refuse, before any call, a `fields` list naming a field no Machine has (a typo would
    silently drop the data a later step needs)."""
    unknown = unknown_fields(fields)
    if unknown:
        name, close = unknown[0]
        hint = f"; did you mean {close!r}?" if close else f" (known: {', '.join(known_fields())})"
        raise InputError(
            f"{field}: {name!r} is not a Machine field{hint}",
            field=field,
            rule="Machine field names",
        )


def project(machines: Iterable[Machine], fields: list[str] | None) -> list[Machine]:
    """Keep only `fields` of each machine (and always `id`, which later steps chain on)."""
    if not fields:
        return list(machines)
    keep = ["id", *(f for f in fields if f != "id")]
    return [{key: machine[key] for key in keep if key in machine} for machine in machines]


def collection(machines: Iterable[Any], fields: list[str] | None) -> dict[str, Any]:
    """`{machines, count}` with the requested fields, and `skipped` when records were dropped."""
    skipped: list[dict[str, Any]] = []
    kept = project(usable(machines, skipped), fields)
    return with_skipped({"machines": kept, "count": len(kept)}, skipped)


def with_skipped(result: dict[str, Any], skipped: list[dict[str, Any]]) -> dict[str, Any]:
    """`result`, plus `skipped` when any record was dropped."""
    return {**result, "skipped": skipped} if skipped else result
