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


def test_each_class_carries_its_exit_code_and_http_status() -> None:
    from mdepack import errors

    expected = {
        errors.InputError: (2, 400),
        errors.ConfigError: (2, 400),
        errors.GuardError: (2, 400),
        errors.AuthError: (1, 502),
        errors.PermissionDeniedError: (1, 403),
        errors.NotFoundError: (1, 502),
        errors.RateLimitError: (1, 429),
        errors.TransientError: (1, 502),
        errors.OutputValidationError: (1, 502),
        errors.NotFound: (1, 404),
        errors.MethodNotAllowed: (1, 405),
        errors.InternalError: (1, 500),
    }
    for kind, (exit_code, status) in expected.items():
        assert (kind.exit_code, kind.http_status) == (exit_code, status), kind.__name__
    # every status a trigger can answer through the exports is described there (405 is the
    # Lambda URL's own answer to a GET, outside the documented operations)
    assert {k.http_status for k in expected} - {405} == set(errors.HTTP_STATUSES)


def test_an_unexpected_exception_becomes_an_internal_error_without_secrets() -> None:
    from mdepack.errors import internal

    register_secret(SECRET)
    body = internal(KeyError(f"no {SECRET}")).to_dict()["error"]
    assert body == {"type": "InternalError", "message": "KeyError: 'no ***'"}
