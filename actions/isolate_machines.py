"""POST /api/machines/{id}/isolate on each machine: cut the machines off the network, all but their connection to Defender (Selective keeps Outlook, Teams and Skype).

One request per machine (the API takes one machine at a time); the body is PascalCase. See
`mdepack.machine_actions` for duplicates, partial failure and waiting.
"""

from __future__ import annotations

from typing import Any

from mdepack.api import ActionApi
from mdepack.machine_actions import act


def run(inputs: dict[str, Any], api: ActionApi) -> dict[str, Any]:
    """Isolate the machines."""
    return act(
        inputs,
        api,
        "Isolate",
        {"Comment": inputs["comment"], "IsolationType": inputs["isolation_type"]},
        option=inputs["isolation_type"],
        undone_by="Unisolate",
    )
