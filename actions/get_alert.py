"""GET /v1.0/security/alerts_v2/{id} (Microsoft Graph): one alert with its evidence, and the
Defender machine ids of the devices in it, so a playbook chains straight into machine actions.
A device without an `mdeDeviceId` (not onboarded to Defender for Endpoint) is named apart: no
machine action can reach it."""

from __future__ import annotations

from typing import Any

from mdepack.api import ActionApi

DEVICE = "#microsoft.graph.security.deviceEvidence"


def run(inputs: dict[str, Any], api: ActionApi) -> dict[str, Any]:
    """Fetch the alert."""
    alert = api.get(alert_id=inputs["alert_id"])
    machine_ids: dict[str, None] = {}
    without: list[str | None] = []
    for evidence in alert.get("evidence") or []:
        if not isinstance(evidence, dict) or evidence.get("@odata.type") != DEVICE:
            continue
        machine_id = evidence.get("mdeDeviceId")
        if isinstance(machine_id, str) and machine_id:
            machine_ids.setdefault(machine_id.lower())
        else:
            without.append(evidence.get("deviceDnsName"))
    return {
        "alert": alert,
        "machine_ids": list(machine_ids),
        "count": len(machine_ids),
        "devices_without_machine_id": without,
    }
