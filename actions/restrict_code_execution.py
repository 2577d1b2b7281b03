"""POST /api/machines/{id}/restrictCodeExecution on each machine: let only Microsoft-signed files run.

One request per machine (the API takes one machine at a time); the body is PascalCase. See
`mdepack.machine_actions` for duplicates, partial failure and waiting.
"""

from __future__ import annotations

from typing import Any

from mdepack.api import ActionApi
from mdepack.machine_actions import act


def run(inputs: dict[str, Any], api: ActionApi) -> dict[str, Any]:
    """Restrict code execution."""
    return act(
        inputs,
        api,
        "RestrictCodeExecution",
        {"Comment": inputs["comment"]},
        undone_by="UnrestrictCodeExecution",
    )
