"""GET /api/machines/{id}: one machine, by its id or its computer DNS name. 404 is an error."""

from __future__ import annotations

from typing import Any

from mdepack.api import ActionApi


def run(inputs: dict[str, Any], api: ActionApi) -> dict[str, Any]:
    """Fetch the machine."""
    return {"machine": api.get(machine_id=inputs["machine_id"])}
