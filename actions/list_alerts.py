"""GET /v1.0/security/alerts_v2 (Microsoft Graph): alerts, filtered with OData `$filter` built
from values (escaped by `mdepack.odata`; a list of values is OR-ed, filters are AND-ed), paged by
`@odata.nextLink`, pages of 2,000 (the API's most)."""

from __future__ import annotations

from typing import Any

from mdepack import odata
from mdepack.api import ActionApi

PAGE = 2000
# input name -> the alert property it filters with `eq`
EQUALS = {
    "status": "status",
    "severity": "severity",
    "classification": "classification",
    "determination": "determination",
    "service_source": "serviceSource",
    "assigned_to": "assignedTo",
}
# input name -> (the property, the comparison): datetimes go unquoted, as DateTimeOffset
SINCE = {
    "created_after": ("createdDateTime", "ge"),
    "created_before": ("createdDateTime", "le"),
    "updated_after": ("lastUpdateDateTime", "ge"),
}


def build_filter(inputs: dict[str, Any]) -> str | None:
    """The `$filter` text for the structured filters in `inputs`, or None when there are none."""
    clauses = [odata.eq(prop, inputs[name]) for name, prop in EQUALS.items() if name in inputs]
    clauses += [
        odata.compare(prop, op, inputs[name])
        for name, (prop, op) in SINCE.items()
        if name in inputs
    ]
    return odata.all_of(clauses) or None


def run(inputs: dict[str, Any], api: ActionApi) -> dict[str, Any]:
    """The matching alerts, up to `max_results`."""
    expression = build_filter(inputs)
    params = {"$filter": expression} if expression else {}
    pages = api.linked_pages(params, inputs.get("max_results"), page_size=PAGE)
    alerts = [alert for page in pages for alert in page]
    return {"alerts": alerts, "count": len(alerts)}
