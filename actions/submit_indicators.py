"""POST /api/indicators/import: submit custom indicators (block, warn, audit, allow), 500 a call.

Each value's type is told from the value (see `mdepack.indicators`) unless `indicator_type` names
it; values are de-duplicated; more distinct values than `max_indicators` are refused before any
call, as are ranges, unknown kinds, contradicting types, deprecated actions and Audit without an
alert. The endpoint allows 30 calls a minute (the manifest's `rate`), and submitting a value that
exists updates it. The answer names each indicator with `isFailed` and `failureReason`: one value
can fail while the others go in, so every value ends in exactly one outcome — `submitted` (with
its id), `failed` (with the API's reason), `unconfirmed` (sent, not named in the answer) or
`not_sent`. A call failing after retries stops the run and raises the error carrying them all.
"""

from __future__ import annotations

from typing import Any

from mdepack import bulk, indicators
from mdepack.api import ActionApi
from mdepack.errors import ApiError

BATCH = 500
OUTCOMES = ("submitted", "failed", "unconfirmed", "not_sent")
# input name -> the Indicator property it sets, when given
OPTIONAL = {
    "severity": "severity",
    "expiration_time": "expirationTime",
    "generate_alert": "generateAlert",
    "rbac_group_names": "rbacGroupNames",
    "recommended_actions": "recommendedActions",
}


def run(inputs: dict[str, Any], api: ActionApi) -> dict[str, Any]:
    """Submit the values in batches of 500."""
    indicators.check_action(inputs["action"], inputs.get("generate_alert"))
    given = inputs.get("indicator_type")
    found = [indicators.classify(v, given, f"values[{i}]") for i, v in enumerate(inputs["values"])]
    distinct = list({(i.value, i.type): i for i in found}.values())
    bulk.at_most(
        len(distinct), inputs["max_indicators"], "max_indicators", "values", "values", "values"
    )
    reports = [{"value": i.value, "type": i.type, "outcome": "not_sent"} for i in distinct]
    batches = bulk.batches(reports, BATCH)
    if inputs["dry_run"]:
        return _result(inputs, reports, True, len(batches))
    shared = {key: inputs[name] for name, key in OPTIONAL.items() if name in inputs}
    for number, batch in enumerate(batches):
        body = {"Indicators": [_entity(inputs, report, shared) for report in batch]}
        try:
            answer = api.post(body)
        except ApiError as error:
            if bulk.may_have_applied(error):
                for report in batch:
                    report["outcome"] = "unconfirmed"
            partial = _result(inputs, reports, False, number + 1)
            raise error.with_context(
                suffix=f"; {bulk.words(partial['summary'])}; see indicators for each value",
                indicators=reports,
                summary=partial["summary"],
            ) from None
        _record(batch, answer)
    return _result(inputs, reports, False, len(batches))


def _entity(
    inputs: dict[str, Any], report: dict[str, Any], shared: dict[str, Any]
) -> dict[str, Any]:
    return {
        "indicatorValue": report["value"],
        "indicatorType": report["type"],
        "action": inputs["action"],
        "title": inputs["title"],
        "description": inputs["description"],
        **shared,
    }


def _record(batch: list[dict[str, Any]], answer: Any) -> None:
    items = answer.get("value") if isinstance(answer, dict) else answer
    by_value: dict[str, dict[str, Any]] = {}
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and isinstance(item.get("indicator"), str):
            by_value[item["indicator"].lower()] = item
    for report in batch:
        item = by_value.get(report["value"].lower())
        if item is None:
            report["outcome"] = "unconfirmed"
        elif item.get("isFailed"):
            report["outcome"] = "failed"
            report["reason"] = str(item.get("failureReason") or "the API gave no reason")
        else:
            report["outcome"] = "submitted"
            report["id"] = None if item.get("id") is None else str(item["id"])


def _result(
    inputs: dict[str, Any], reports: list[dict[str, Any]], dry_run: bool, calls: int
) -> dict[str, Any]:
    summary = bulk.summary(reports, OUTCOMES, done=("submitted",))
    return {
        "action": inputs["action"],
        "dry_run": dry_run,
        "indicators": reports,
        "summary": summary,
        "count": summary["submitted"],
        "calls": calls,
    }
