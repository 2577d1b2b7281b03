"""`invoke(name, inputs)`: the one way an action runs, from the CLI, a trigger or a playbook.

Look the action up in the manifest, validate the inputs (bad input: InputError and no HTTP call),
fill schema defaults, run it against its endpoint, validate the output, return a plain dict.
"""

from __future__ import annotations

from typing import Any

from mdepack import manifest as manifest_module
from mdepack import validation
from mdepack.api import ActionApi
from mdepack.client import ApiClient
from mdepack.config import Config
from mdepack.errors import InputError


def prepare(name: str, inputs: Any) -> dict[str, Any]:
    """Validate `inputs` for action `name` and return them with defaults filled in."""
    pack = manifest_module.load()
    action = pack.action(name)
    if not isinstance(inputs, dict):
        raise InputError("input: must be a JSON object", field="input", rule="must be an object")
    validation.action_validator(name, "input").check_input(inputs)
    if "fields" in inputs:
        from mdepack.machines import check_fields

        check_fields(inputs["fields"])
    return {**validation.action_defaults(action.input), **inputs}


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
    prepared = prepare(name, inputs)
    pack = manifest_module.load()
    client = client or ApiClient(config or Config.from_env())
    output = pack.function(name)(prepared, ActionApi(client, pack.action(name)))
    validation.action_validator(name, "output").check_output(output, name)
    return output
