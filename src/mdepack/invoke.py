"""`invoke(name, inputs)`: the one way an action runs, from the CLI, a trigger or a playbook.

An action's name is resolved once per process into a :class:`PreparedAction`: its manifest
entry, its `run` function (and `stream`, if any), its compiled input and output validators and
its input defaults. Nothing downstream takes the name again. A call validates the inputs (bad
input: InputError and no HTTP call), fills the defaults, runs the action against its endpoint,
validates the output and returns a plain dict.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mdepack import manifest as manifest_module
from mdepack import schemas, spelling, validation
from mdepack.api import ActionApi
from mdepack.client import ApiClient
from mdepack.config import Config
from mdepack.errors import InputError
from mdepack.manifest import Action, ActionFunction


@dataclass(frozen=True)
class PreparedAction:
    """An action resolved once: everything a call needs, with no lookup by name left."""

    action: Action
    run: ActionFunction
    stream: Callable[..., Any] | None
    items: str  # the output key the pages of `stream` fill
    input: validation.Validator
    output: validation.Validator
    defaults: dict[str, Any]
    spellings: dict[str, dict[str, str]]  # property -> {lower-case value: the API's spelling}

    def inputs(self, given: Any) -> dict[str, Any]:
        """`given` validated, with the defaults filled in and enum values in the API's spelling
        (`active` -> `Active`, `full` -> `Full`); InputError before any call."""
        if not isinstance(given, dict):
            raise InputError(
                "input: must be a JSON object", field="input", rule="must be an object"
            )
        given = spelling.respelt(given, self.spellings)
        self.input.check_input(given)
        if "fields" in given:
            from mdepack.machines import check_fields

            check_fields(given["fields"])
        return {**self.defaults, **given}

    def api(self, client: ApiClient) -> ActionApi:
        """The action's endpoint on `client`."""
        return ActionApi(client, self.action)

    def call(self, inputs: dict[str, Any], client: ApiClient) -> dict[str, Any]:
        """Run on inputs already prepared; the output, validated."""
        output = self.run(inputs, self.api(client))
        self.output.check_output(output, self.action.name)
        return output


def prepared(name: str) -> PreparedAction:
    """The action called `name`, resolved once per process (InputError for an unknown name)."""
    if not isinstance(name, str):  # a JSON event can name an action with a list or a number
        manifest_module.load().action(name)  # raises, naming the known actions
    return _prepared(name)


@functools.cache
def _prepared(name: str) -> PreparedAction:
    pack = manifest_module.load()
    action = pack.action(name)
    compiled = validation.schema_set()
    return PreparedAction(
        action=action,
        run=pack.function(name),
        stream=pack.streamer(name),
        items=pack.streamed_items(name),
        input=compiled.validator(action.input),
        output=compiled.validator(action.output),
        defaults=validation.action_defaults(action.input),
        spellings=spelling.enum_spellings(schemas.inlined(action.input)),
    )


def prepare(name: str, inputs: Any) -> dict[str, Any]:
    """Validate `inputs` for action `name` and return them with defaults filled in."""
    return prepared(name).inputs(inputs)


def invoke(
    name: str,
    inputs: Any,
    *,
    client: ApiClient | None = None,
    config: Config | None = None,
) -> dict[str, Any]:
    """Run action `name` with `inputs` and return its validated output.

    Configuration is read from the environment unless a `client` or `config` is given; it is
    read only after the inputs are valid, so bad input is refused even where nothing is set up.
    """
    action = prepared(name)
    ready = action.inputs(inputs)
    return action.call(ready, client or ApiClient(config or Config.from_env()))
