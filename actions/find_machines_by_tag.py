"""GET /api/machines/findbytag?tag=…&useStartsWithFilter=…: machines carrying a tag (or, with
`starts_with`, a tag that starts with it)."""

from __future__ import annotations

from typing import Any

from mdepack.api import ActionApi
from mdepack.machines import collection


def run(inputs: dict[str, Any], api: ActionApi) -> dict[str, Any]:
    """Machines with the tag."""
    params = {"tag": inputs["tag"], "useStartsWithFilter": str(inputs["starts_with"]).lower()}
    return collection(api.collection(params), inputs.get("fields"))
