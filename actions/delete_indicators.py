"""POST /api/indicators/BatchDelete {IndicatorIds}: delete custom indicators, 500 a call (30 calls
a minute, the manifest's `rate`). Removing an indicator removes a protection, so more distinct ids
than `max_indicators` are refused before any call, and `dry_run` sends nothing.

The API answers a batch naming any unknown id with 404 and deletes none of it; such a batch is
then deleted one id at a time (DELETE /api/indicators/{id}: 204, or 404 for the unknown ones), so
every id ends in exactly one of `deleted`, `not_found`, `unconfirmed` (sent, the answer lost) or
`not_sent`. A call failing after retries stops the run and raises the error carrying them all.
"""

from __future__ import annotations

from typing import Any

from mdepack import bulk
from mdepack.api import ActionApi
from mdepack.errors import ApiError, NotFoundError

BATCH = 500
ONE = "/api/indicators/{indicator_id}"  # the single delete, for a batch the API refused with 404
OUTCOMES = ("deleted", "not_found", "unconfirmed", "not_sent")


def run(inputs: dict[str, Any], api: ActionApi) -> dict[str, Any]:
    """Delete the indicators in batches of 500."""
    ids = list(dict.fromkeys(inputs["indicator_ids"]))
    bulk.at_most(
        len(ids), inputs["max_indicators"], "max_indicators", "indicator_ids", "ids", "ids"
    )
    outcome: dict[str, str] = dict.fromkeys(ids, "not_sent")
    batches = bulk.batches(ids, BATCH)
    if inputs["dry_run"]:
        return _result(outcome, True, len(batches)) | {"planned": ids}
    before = api.calls
    try:
        for batch in batches:
            try:
                api.post({"IndicatorIds": batch})
            except NotFoundError:
                _one_by_one(api, batch, outcome)
            else:
                outcome.update(dict.fromkeys(batch, "deleted"))
    except ApiError as error:
        partial = _result(outcome, False, api.calls - before)
        raise error.with_context(
            suffix=f"; {bulk.words(partial['summary'])}",
            **{name: partial[name] for name in OUTCOMES},
        ) from None
    return _result(outcome, False, api.calls - before)


def _one_by_one(api: ActionApi, batch: list[str], outcome: dict[str, str]) -> None:
    for indicator_id in batch:
        try:
            api.client.call("DELETE", ONE, segments={"indicator_id": indicator_id})
        except NotFoundError:
            outcome[indicator_id] = "not_found"
        except ApiError as error:
            if bulk.may_have_applied(error):
                outcome[indicator_id] = "unconfirmed"
            raise
        else:
            outcome[indicator_id] = "deleted"


def _result(outcome: dict[str, str], dry_run: bool, calls: int) -> dict[str, Any]:
    reports = [{"outcome": word} for word in outcome.values()]
    lists = {name: [i for i, word in outcome.items() if word == name] for name in OUTCOMES}
    summary = bulk.summary(reports, OUTCOMES, done=("deleted",))
    return {
        "dry_run": dry_run,
        **lists,
        "summary": summary,
        "count": summary["deleted"],
        "calls": calls,
    }
