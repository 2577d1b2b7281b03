"""POST /api/machines/{id}/runAntiVirusScan on each machine: start a Microsoft Defender Antivirus scan, Quick or Full.

One request per machine (the API takes one machine at a time); the body is PascalCase. See
`mdepack.machine_actions` for duplicates, partial failure and waiting.
"""

from __future__ import annotations

from typing import Any

from mdepack.api import ActionApi
from mdepack.machine_actions import act


def run(inputs: dict[str, Any], api: ActionApi) -> dict[str, Any]:
    """Start the scans."""
    return act(
        inputs,
        api,
        "RunAntiVirusScan",
        {"Comment": inputs["comment"], "ScanType": inputs["scan_type"]},
        option=inputs["scan_type"],
    )
