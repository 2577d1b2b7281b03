"""GET /api/machineactions/{id}/GetLiveResponseResultDownloadLink(index={n}): a fresh download
link for one command of a live response session (valid about 30 minutes; ask again for a new one)
and, for a RunScript, its transcript downloaded and parsed. The link is a secret: it is in this
output only, never in an error or a log."""

from __future__ import annotations

from typing import Any

from mdepack import live_response
from mdepack.api import ActionApi
from mdepack.errors import InputError


def run(inputs: dict[str, Any], api: ActionApi) -> dict[str, Any]:
    """The command's status and its result."""
    action_id, index = inputs["action_id"], inputs["index"]
    commands = live_response.results(api, action_id, fetch=False)
    command = next((c for c in commands if c["index"] == index), None)
    if command is None:
        rule = f"must be the index of one of the session's {len(commands)} commands"
        raise InputError(f"index: {rule}", field="index", rule=rule)
    if live_response.has_result(command):
        command.update(live_response.result(api, action_id, index, command["type"], with_link=True))
    return {"action_id": action_id, "command": command}
