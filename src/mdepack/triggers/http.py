"""What an HTTP trigger answers, whatever the platform: the status, headers and JSON body for
`POST /actions/{name}` or `POST /playbooks/{name}` with the input as the JSON body.

| outcome | status |
|---|---|
| the output | 200 |
| invalid input, a guard (InputError, GuardError) | 400 |
| unknown action or playbook | 404 |
| the API refused the app's roles (PermissionDeniedError) | 403 |
| the API's rate limit outlasted the retries (RateLimitError) | 429, with Retry-After |
| any other API failure (auth, not found, 5xx, timeouts, bad answers) | 502 |
| a bug | 500 |
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from mdepack.errors import InputError, MdepackError, NotFound, RateLimitError, internal

JSON_HEADERS = {"Content-Type": "application/json"}
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def resolve(kind: str, name: str, client: Any = None) -> Callable[[Any], Any]:
    """What `POST /{kind}/{name}` runs: an action, or a shipped playbook loaded once, on
    `client` when one is given (else one made from the environment).

    Raises LookupError for an unknown action or playbook.
    """
    if kind == "actions":
        from mdepack.manifest import load

        if name not in load().actions:
            raise LookupError(name)
        from mdepack.invoke import invoke

        return lambda inputs: invoke(name, inputs, client=client)
    if kind == "playbooks":
        from mdepack.playbook.runner import run

        playbook = shipped_playbook(name)
        return lambda inputs: run(playbook, inputs, client=client).outputs
    raise LookupError(kind)


def shipped_playbook(name: str) -> Any:
    """A playbook shipped with the pack, by name; never a path a caller chose."""
    from mdepack.manifest import pack_root
    from mdepack.playbook import document

    path = pack_root() / "playbooks" / f"{name.replace('-', '_')}.yaml"
    if not _NAME.match(name) or not path.is_file():
        raise LookupError(name)
    return document.load(path)


def respond(
    kind: str, name: str, body: bytes | str | None, client: Any = None
) -> tuple[int, dict[str, str], str]:
    """(status, headers, JSON body) for one HTTP trigger request."""
    try:
        try:
            target = resolve(kind, name, client)
        except LookupError:
            raise NotFound(f"no {kind.rstrip('s')} named {name!r}") from None
        return 200, dict(JSON_HEADERS), json.dumps(target(_json_body(body)))
    except MdepackError as error:
        return error_answer(error)
    except RecursionError:  # valid JSON too deep for a later walk (validation, defaults)
        return error_answer(too_deep())
    except Exception as error:  # a bug: say so in JSON, with nothing secret in it
        return error_answer(internal(error))


def error_answer(error: MdepackError) -> tuple[int, dict[str, str], str]:
    """(status, headers, JSON body) for one of the pack's errors; 429 says when to come back."""
    headers = dict(JSON_HEADERS)
    if isinstance(error, RateLimitError) and error.details.get("retry_after") is not None:
        headers["Retry-After"] = str(int(error.details["retry_after"] + 0.999))
    return error.http_status, headers, json.dumps(error.to_dict())


def _json_body(body: bytes | str | None) -> Any:
    if body is None or body in (b"", ""):
        return {}
    try:
        return json.loads(body)
    except ValueError:
        raise InputError(
            "input: the request body is not valid JSON", field="input", rule="valid JSON"
        ) from None
    except RecursionError:
        raise too_deep() from None


def too_deep() -> InputError:
    """The error for JSON nested deeper than the parser or the validator can follow."""
    return InputError(
        "input: nested too deeply to read (thousands of levels)",
        field="input",
        rule="JSON nested at most a few hundred levels",
    )
