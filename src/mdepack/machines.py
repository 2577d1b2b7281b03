"""The result shape shared by every action that returns machines."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

Machine = dict[str, Any]


def project(machines: Iterable[Machine], fields: list[str] | None) -> list[Machine]:
    """Keep only `fields` of each machine (and always `id`, which later steps chain on)."""
    if not fields:
        return list(machines)
    keep = ["id", *(f for f in fields if f != "id")]
    return [{key: machine[key] for key in keep if key in machine} for machine in machines]


def collection(machines: Iterable[Machine], fields: list[str] | None) -> dict[str, Any]:
    """`{machines, count}` with the requested fields."""
    kept = project(machines, fields)
    return {"machines": kept, "count": len(kept)}
