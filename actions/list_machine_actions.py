"""GET /api/machineactions: machine actions, newest first, filtered with OData `$filter` built
from values (escaped like list_machines), paged by `$top`/`$skip`."""

from __future__ import annotations

from typing import Any

from mdepack import machine_names, odata
from mdepack.api import ActionApi

# input name -> the MachineAction property it filters with `eq`
EQUALS = {"machine_id": "machineId", "type": "type", "status": "status", "requestor": "requestor"}


def run(inputs: dict[str, Any], api: ActionApi) -> dict[str, Any]:
    """The matching actions, up to `max_results`; machines by id or computer DNS name."""
    if "machine_id" in inputs:
        refs = odata.as_list(inputs["machine_id"])
        inputs = {**inputs, "machine_id": machine_names.resolve(refs, api, "machine_id").ids}
    clauses = [odata.eq(prop, inputs[name]) for name, prop in EQUALS.items() if name in inputs]
    params = {"$filter": odata.all_of(clauses)} if clauses else {}
    actions = [a for page in api.pages(params, inputs.get("max_results")) for a in page]
    return {"actions": actions, "count": len(actions)}
