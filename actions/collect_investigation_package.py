"""POST /api/machines/{id}/collectInvestigationPackage on each machine: collect a forensic investigation package (fetch it with get_investigation_package_uri once the action has Succeeded).

One request per machine (the API takes one machine at a time); the body is PascalCase. See
`mdepack.machine_actions` for duplicates, partial failure and waiting.
"""

from __future__ import annotations

from typing import Any

from mdepack.api import ActionApi
from mdepack.machine_actions import act


def run(inputs: dict[str, Any], api: ActionApi) -> dict[str, Any]:
    """Start the collections."""
    return act(inputs, api, "CollectInvestigationPackage", {"Comment": inputs["comment"]})
