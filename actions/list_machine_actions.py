"""GET /api/machineactions: machine actions, newest first, filtered with OData `$filter` built
from values (escaped like list_machines), paged by `$top`/`$skip`."""

from __future__ import annotations

from typing import Any

from mdepack import odata
from mdepack.api import ActionApi

# input name -> the MachineAction property it filters with `eq`
EQUALS = {"machine_id": "machineId", "type": "type", "status": "status", "requestor": "requestor"}


def run(inputs: dict[str, Any], api: ActionApi) -> dict[str, Any]:
    """The matching actions, up to `max_results`."""
    clauses = [
        odata.eq(prop, _lower_ids(name, inputs[name]))
        for name, prop in EQUALS.items()
        if name in inputs
    ]
    params = {"$filter": odata.all_of(clauses)} if clauses else {}
    actions = [a for page in api.pages(params, inputs.get("max_results")) for a in page]
    return {"actions": actions, "count": len(actions)}


def _lower_ids(name: str, value: Any) -> Any:
    if name != "machine_id":
        return value
    return [v.lower() for v in value] if isinstance(value, list) else value.lower()
