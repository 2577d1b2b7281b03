"""The pack's error family. Engines match on these class names (Step Functions Retry/Catch), so
the names are stable.

    MdepackError                 base; `to_dict()` gives the {"error": {...}} body
    ├── InputError               invalid input; nothing was sent (exit 2)
    │   ├── ConfigError          invalid MDE_* configuration, named by variable (exit 2)
    │   └── GuardError           valid input that a guard refuses, e.g. too many machines (exit 2)
    ├── ApiError                 the API answered with an error (exit 1); carries status, code, target
    │   ├── AuthError            401, or no token could be obtained
    │   ├── PermissionDeniedError 403: the app lacks a role
    │   ├── NotFoundError        404 where "not found" is not an empty result
    │   ├── RateLimitError       429 after retries
    │   │   └── HuntingQuotaError 429: the tenant's hunting CPU quota is spent (not retried)
    │   └── TransientError       5xx, dropped connection, timeout, truncated body, after retries
    ├── OutputValidationError    the API's answer does not fit the action's output schema (exit 1)
    ├── NotFound                 an HTTP trigger has no such action, playbook or route (404)
    ├── MethodNotAllowed         an HTTP trigger was called with another method than POST (405)
    └── InternalError            a bug in the pack, reported as JSON with nothing secret (exit 1)

Each class carries its `exit_code` (CLI) and `http_status` (HTTP triggers); `HTTP_STATUSES` says
what each status means, for the exports.

Every message passes through :func:`mdepack.redact.redact`, so no secret or token leaves in an error.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any, TypeVar

from mdepack.redact import redact

E = TypeVar("E", bound="MdepackError")


class MdepackError(Exception):
    """Base of every error the pack raises on purpose."""

    exit_code = 1
    http_status = 502

    def __init__(self, message: str, **details: Any) -> None:
        self.message = redact(message)
        self.details: dict[str, Any] = {k: v for k, v in details.items() if v is not None}
        super().__init__(self.message)

    def with_context(self: E, *, prefix: str = "", suffix: str = "", **details: Any) -> E:
        """A copy of this error with words around its message and more details.

        Context is added by building a new error, never by changing one already raised, so
        `str(error)`, `error.message` and `to_dict()` always say the same thing.
        """
        enriched = copy.copy(self)
        enriched.message = redact(f"{prefix}{self.message}{suffix}")
        enriched.details = {**self.details, **{k: v for k, v in details.items() if v is not None}}
        enriched.args = (enriched.message,)
        return enriched

    @property
    def type(self) -> str:
        """The stable error type name engines match on."""
        return type(self).__name__

    def to_dict(self) -> dict[str, Any]:
        """The JSON error body written to stderr or returned by a trigger."""
        body: dict[str, Any] = {"type": self.type, "message": self.message}
        for key, value in self.details.items():
            body[key] = _plain(value)
        return {"error": body}


class InputError(MdepackError):
    """Invalid input: names the field and the rule it breaks. Nothing was sent."""

    exit_code = 2
    http_status = 400

    def __init__(self, message: str, *, field: str | None = None, rule: str | None = None) -> None:
        super().__init__(message, field=field, rule=rule)
        self.field = field
        self.rule = rule


class ConfigError(InputError):
    """The MDE_* configuration is wrong or incomplete: names the variable. Nothing was sent."""


class GuardError(InputError):
    """Valid input that a safety guard refuses (for example more machines than max_machines)."""


class ApiError(MdepackError):
    """The API answered with an error. `code`, `target` (request id) and `status` come from it."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        target: str | None = None,
        **details: Any,
    ) -> None:
        super().__init__(message, status=status, code=code, target=target, **details)
        self.status = status
        self.code = code
        self.target = target


class AuthError(ApiError):
    """401 from the API, or the token authority refused the credentials."""


class PermissionDeniedError(ApiError):
    """403: the app registration lacks the role the endpoint needs."""

    http_status = 403


class NotFoundError(ApiError):
    """404 where the action treats "not found" as a failure (one machine by id)."""


class RateLimitError(ApiError):
    """429 after the retry budget was spent."""

    http_status = 429


class HuntingQuotaError(RateLimitError):
    """429 from advanced hunting for the tenant's CPU quota, not the call count: queries are
    blocked until the next 15-minute cycle, so retrying at once cannot help. `retry_at` (ISO-8601
    UTC) says when queries may run again, when the API said."""


class TransientError(ApiError):
    """A failure that may pass: 5xx, dropped connection, timeout, truncated body."""


class OutputValidationError(MdepackError):
    """The API's answer does not fit the action's output schema."""


class NotFound(MdepackError):
    """An HTTP trigger was asked for an action, playbook or route it does not have."""

    http_status = 404


class MethodNotAllowed(MdepackError):
    """An HTTP trigger takes POST only."""

    http_status = 405


class InternalError(MdepackError):
    """A bug in the pack: an exception none of the classes above describes."""

    http_status = 500


def internal(error: BaseException) -> InternalError:
    """An unexpected exception as a typed error: its class and text, secrets redacted."""
    return InternalError(f"{type(error).__name__}: {error}")


# What each status a trigger answers means, as the exports describe them.
HTTP_STATUSES = {
    400: "Invalid input or a guard refused it (InputError, GuardError); nothing was sent.",
    403: "The app lacks a role the endpoint needs (PermissionDeniedError).",
    404: "No such action or playbook (NotFound).",
    429: "The API's rate limit outlasted the retries (RateLimitError); see Retry-After.",
    502: "Any other API failure: auth, not found, 5xx, timeouts, odd answers.",
    500: "A bug in the pack (InternalError).",
}


def _plain(value: Any) -> Any:
    """A detail as JSON-ready data: strings redacted at any depth, dataclass reports as dicts."""
    if isinstance(value, str):
        return redact(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value
