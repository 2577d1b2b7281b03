"""GET /api/machineactions/{id}: one machine action, with its current status. 404 is an error."""

from __future__ import annotations

from typing import Any

from mdepack.api import ActionApi


def run(inputs: dict[str, Any], api: ActionApi) -> dict[str, Any]:
    """Fetch the action."""
    return {"action": api.get(action_id=inputs["action_id"].lower())}
