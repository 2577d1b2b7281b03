"""GET /api/indicators: custom indicators, filtered with OData `$filter` built from values
(escaped like list_machines), paged by `$top`/`$skip`. An app holding Ti.ReadWrite (not .All)
sees only the indicators it created."""

from __future__ import annotations

from typing import Any

from mdepack import odata
from mdepack.api import ActionApi

# input name -> the Indicator property it filters with `eq`
EQUALS = {
    "value": "indicatorValue",
    "indicator_type": "indicatorType",
    "action": "action",
    "severity": "severity",
    "created_by": "createdBy",
    "title": "title",
}


def run(inputs: dict[str, Any], api: ActionApi) -> dict[str, Any]:
    """The matching indicators, up to `max_results`."""
    clauses = [odata.eq(prop, inputs[name]) for name, prop in EQUALS.items() if name in inputs]
    params = {"$filter": odata.all_of(clauses)} if clauses else {}
    found = [item for page in api.pages(params, inputs.get("max_results")) for item in page]
    return {"indicators": found, "count": len(found)}
