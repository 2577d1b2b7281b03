"""POST /api/machines/{id}/runliveresponse on each machine: run library scripts, put library
files and get files, then bring the results back.

A live response session is a machine action (type LiveResponse) on the response-action runtime
(`mdepack.machine_actions`): the guard (`max_machines`, default 1), dry run, one outcome a
machine, bounded waits, no lost action ids. One session a machine: a machine with one under way
is `blocked`, with that session's id, and nothing is sent to it (the new commands did not run).
Commands are checked before any write (`mdepack.live_response`): their fields, their order, and
that each script or file is in the library. After a wait, each session's commands are reported,
and when it Succeeded each RunScript's transcript is downloaded (exit code, output, errors) and
each GetFile's link is given with its expiry. The endpoint allows 10 calls a minute (`rate`).
"""

from __future__ import annotations

from typing import Any

from mdepack import live_response
from mdepack.api import ActionApi
from mdepack.errors import ApiError
from mdepack.machine_actions import act


def run(inputs: dict[str, Any], api: ActionApi) -> dict[str, Any]:
    """Start the sessions; with a wait, report their commands and results."""
    commands = live_response.api_commands(inputs["commands"])
    body = {"Commands": commands, "Comment": inputs["comment"]}
    return act(
        inputs,
        api,
        "LiveResponse",
        body,
        exclusive=True,
        check=lambda: live_response.check_library(inputs["commands"], api),
        after=_results,
    )


def _results(api: ActionApi, reports: list[dict[str, Any]]) -> None:
    for report in reports:
        if report["outcome"] != "created" or report["status"] not in ("Succeeded", "Failed"):
            continue
        try:
            report["commands"] = live_response.results(
                api, report["action_id"], fetch=report["status"] == "Succeeded"
            )
        except ApiError as error:  # the session ran: say so, and why its results are missing
            report["result_error"] = error.message
