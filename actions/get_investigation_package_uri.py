"""GET /api/machineactions/{id}/getPackageUri: a short-lived link to a collected investigation
package. The endpoint has its own budget, 2 calls a minute and 120 an hour (the manifest's
`rate`). The API answers 404 until the collection has Succeeded; the link may come wrapped in
quotes (as Microsoft's page shows), which are removed."""

from __future__ import annotations

from typing import Any

from mdepack.api import ActionApi
from mdepack.errors import NotFoundError


def run(inputs: dict[str, Any], api: ActionApi) -> dict[str, Any]:
    """The package's download link."""
    action_id = inputs["action_id"].lower()
    try:
        answer = api.get(action_id=action_id)
    except NotFoundError as error:
        raise error.with_context(
            suffix="; the package exists only once the collection action has Succeeded "
            "(check it with get_machine_action)"
        ) from None
    value = answer.get("value") if isinstance(answer, dict) else answer
    return {"action_id": action_id, "uri": str(value).strip().strip('"')}
