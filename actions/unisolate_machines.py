"""POST /api/machines/{id}/unisolate on each machine: release the machines from isolation.

One request per machine (the API takes one machine at a time); the body is PascalCase. See
`mdepack.machine_actions` for duplicates, partial failure and waiting.
"""

from __future__ import annotations

from typing import Any

from mdepack.api import ActionApi
from mdepack.machine_actions import act


def run(inputs: dict[str, Any], api: ActionApi) -> dict[str, Any]:
    """Release the machines."""
    return act(inputs, api, "Unisolate", {"Comment": inputs["comment"]})
