"""PATCH /v1.0/security/alerts_v2/{id} (Microsoft Graph), then, with `comment`, POST its
`comments` endpoint: change an alert's status, classification, determination or owner, and say why.

The PATCH body carries only the fields given; a classification and determination that do not go
together are refused before any call. The comment goes after the change, so a comment never
claims a change that was refused; when the change is made and the comment fails, the error says
so (`updated` names what was applied, `comment_added` is false).
"""

from __future__ import annotations

from typing import Any

from mdepack.api import ActionApi
from mdepack.errors import ApiError, InputError

# input name -> the alert property the PATCH sets
FIELDS = {
    "status": "status",
    "classification": "classification",
    "determination": "determination",
    "assigned_to": "assignedTo",
}
# The determinations each classification allows (Graph's alert resource).
DETERMINATIONS = {
    "truePositive": (
        "multiStagedAttack",
        "maliciousUserActivity",
        "compromisedAccount",
        "malware",
        "phishing",
        "unwantedSoftware",
        "other",
    ),
    "informationalExpectedActivity": (
        "securityTesting",
        "lineOfBusinessApplication",
        "confirmedActivity",
        "other",
    ),
    "falsePositive": ("notMalicious", "notEnoughDataToValidate", "other"),
}
COMMENT_TYPE = "microsoft.graph.security.alertComment"


def check_pair(inputs: dict[str, Any]) -> None:
    """InputError when a determination is given without a classification that allows it."""
    if "determination" not in inputs:
        return
    determination, classification = inputs["determination"], inputs.get("classification")
    if classification is None:
        rule = "needs classification (the determination refines it)"
        raise InputError(f"determination: {rule}", field="determination", rule=rule)
    allowed = DETERMINATIONS[classification]
    if determination not in allowed:
        rule = f"must be one of {', '.join(allowed)} when classification is {classification}"
        raise InputError(f"determination: {rule}", field="determination", rule=rule)


def run(inputs: dict[str, Any], api: ActionApi) -> dict[str, Any]:
    """Update the alert, then add the comment."""
    check_pair(inputs)
    alert_id = inputs["alert_id"]
    patch = {prop: inputs[name] for name, prop in FIELDS.items() if name in inputs}
    result: dict[str, Any] = {"alert_id": alert_id, "updated": [], "comment_added": False}
    if patch:
        result["alert"] = api.patch(patch, alert_id=alert_id)
        result["updated"] = list(patch)
    if "comment" in inputs:
        body = {"@odata.type": COMMENT_TYPE, "comment": inputs["comment"]}
        try:
            api.endpoint("comments").post(body, alert_id=alert_id)
        except ApiError as error:
            if not patch:
                raise
            done = ", ".join(patch)
            raise error.with_context(
                prefix=f"the alert was updated ({done}) but the comment was not added: ",
                updated=list(patch),
                comment_added=False,
            ) from None
        result["comment_added"] = True
    return result
