"""GET /api/machines: list machines, filtered with OData `$filter`, paged by `$top`/`$skip`.

Each structured filter becomes one clause; a list of values is OR-ed, clauses are AND-ed. Values
are escaped by `mdepack.odata`; `odata_filter` is the explicit escape hatch for raw OData text.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mdepack import odata
from mdepack.api import ActionApi
from mdepack.machines import project, usable, with_skipped

# input name -> the Machine property it filters with `eq`
EQUALS = {
    "computer_dns_name": "computerDnsName",
    "health_status": "healthStatus",
    "os_platform": "osPlatform",
    "risk_score": "riskScore",
    "exposure_level": "exposureLevel",
    "device_value": "deviceValue",
    "onboarding_status": "onboardingStatus",
    "rbac_group_id": "rbacGroupId",
    "last_ip_address": "lastIpAddress",
}


# Spellings the API's own pages and bodies use, sent as the API's canonical value.
CANONICAL = {"onboarded": "Onboarded"}


def build_filter(inputs: dict[str, Any]) -> str | None:
    """The `$filter` text for the structured filters in `inputs`, or None when there are none."""
    clauses = [
        odata.eq(prop, _canonical(inputs[name])) for name, prop in EQUALS.items() if name in inputs
    ]
    if "computer_dns_name_prefix" in inputs:
        clauses.append(odata.startswith("computerDnsName", inputs["computer_dns_name_prefix"]))
    if "machine_tag" in inputs:
        clauses.append(odata.has_tag(inputs["machine_tag"]))
    if "last_seen_after" in inputs:
        clauses.append(odata.compare("lastSeen", "gt", inputs["last_seen_after"]))
    if "last_seen_before" in inputs:
        clauses.append(odata.compare("lastSeen", "lt", inputs["last_seen_before"]))
    if "odata_filter" in inputs:
        clauses.append(odata.raw_clause(inputs["odata_filter"]))
    return odata.all_of(clauses) or None


def _canonical(value: Any) -> Any:
    if isinstance(value, list):
        return [CANONICAL.get(v, v) if isinstance(v, str) else v for v in value]
    return CANONICAL.get(value, value) if isinstance(value, str) else value


def stream(
    inputs: dict[str, Any], api: ActionApi, skipped: list[dict[str, Any]] | None = None
) -> Iterator[list[dict[str, Any]]]:
    """Yield the matching machines page by page (`mdepack run --jsonl` keeps memory flat)."""
    expression = build_filter(inputs)
    params = {"$filter": expression} if expression else {}
    seen = 0
    for page in api.pages(params, inputs.get("max_results")):
        yield project(usable(page, skipped, seen), inputs.get("fields"))
        seen += len(page)


def run(inputs: dict[str, Any], api: ActionApi) -> dict[str, Any]:
    """List every machine matching the filters, up to `max_results`."""
    skipped: list[dict[str, Any]] = []
    machines = [machine for page in stream(inputs, api, skipped) for machine in page]
    return with_skipped({"machines": machines, "count": len(machines)}, skipped)
