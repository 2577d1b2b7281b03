"""POST /api/machineactions/{id}/cancel {Comment}: cancel a Pending or InProgress action. An
action that has already ended is refused by the API (400), as is an unknown one (404)."""

from __future__ import annotations

from typing import Any

from mdepack.api import ActionApi


def run(inputs: dict[str, Any], api: ActionApi) -> dict[str, Any]:
    """Cancel the action; the answer is the action as it stands."""
    return {
        "action": api.post({"Comment": inputs["comment"]}, action_id=inputs["action_id"].lower())
    }
