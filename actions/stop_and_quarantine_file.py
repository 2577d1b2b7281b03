"""POST /api/machines/{id}/StopAndQuarantineFile on each machine: stop the file's processes and quarantine it, by SHA-1.

One request per machine (the API takes one machine at a time); the body is PascalCase. See
`mdepack.machine_actions` for duplicates, partial failure and waiting.
"""

from __future__ import annotations

from typing import Any

from mdepack.api import ActionApi
from mdepack.machine_actions import act


def run(inputs: dict[str, Any], api: ActionApi) -> dict[str, Any]:
    """Stop and quarantine the file."""
    return act(
        inputs,
        api,
        "StopAndQuarantineFile",
        {"Comment": inputs["comment"], "Sha1": inputs["sha1"].lower()},
        option=inputs["sha1"],
    )
