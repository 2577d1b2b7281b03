"""Error bodies: stable type names, JSON-ready details, secrets redacted at any depth."""

from __future__ import annotations

from dataclasses import dataclass

from mdepack.errors import ApiError, TransientError
from mdepack.redact import register_secret

SECRET = "s3cr3t-for-error-tests-0123456789"


@dataclass
class Report:
    id: str
    note: str


def test_details_are_plain_json_with_secrets_masked_at_any_depth() -> None:
    register_secret(SECRET)
    error = TransientError(
        f"failed with {SECRET}",
        code="X",
        nested={"inner": [f"token {SECRET}"]},
        steps=[Report("a", f"saw {SECRET}")],
    )
    body = error.to_dict()["error"]
    assert body["type"] == "TransientError" and isinstance(error, ApiError)
    assert body["nested"] == {"inner": ["token ***"]}
    assert body["steps"] == [{"id": "a", "note": "saw ***"}]
    assert SECRET not in str(body)
