"""The exports, checked by the platforms' own tooling: OpenAPI 3.1 and the Swagger 2.0 connector
with openapi-spec-validator, plus the pack's own checks (no 2020-12 keyword in 2.0; the trigger's
real answers fit the documented schemas)."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from conftest import run_cli
from openapi_spec_validator import validate

from mdepack import manifest
from mdepack.emulator import Emulator
from mdepack.exports import openapi
from mdepack.triggers.http import respond

pytestmark = pytest.mark.slow
V2_UNKNOWN = {
    "$defs",
    "$schema",
    "$id",
    "const",
    "anyOf",
    "oneOf",
    "prefixItems",
    "contains",
    "if",
    "then",
    "else",
    "not",
    "dependentRequired",
    "unevaluatedProperties",
    "patternProperties",
}


def leaks(node: Any, where: str = "") -> list[str]:
    """Places where a Draft 2020-12 construct stands in a Swagger 2.0 document."""
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{where}.{key}"
            if key in V2_UNKNOWN:
                found.append(here)
            if key == "type" and isinstance(value, list):
                found.append(here)
            if key in ("exclusiveMinimum", "exclusiveMaximum") and not isinstance(value, bool):
                found.append(here)
            if key == "$ref" and not str(value).startswith("#/definitions/"):
                found.append(f"{here}={value}")
            found += leaks(value, here)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            found += leaks(item, f"{where}[{index}]")
    return found


def test_openapi_31_is_valid_with_one_operation_per_action_and_playbook() -> None:
    result = run_cli("export", "openapi")
    assert result.code == 0, result.stderr
    document = result.json
    validate(document)
    assert document["openapi"] == "3.1.0"
    operations = {p["post"]["operationId"]: path for path, p in document["paths"].items()}
    for name in manifest.load().actions:
        assert operations[name] == f"/actions/{name}"
    assert operations["playbook_isolate_machines_by_file_hash"] == (
        "/playbooks/isolate_machines_by_file_hash"
    )
    isolate = document["paths"]["/actions/isolate_machines"]["post"]
    assert set(isolate["responses"]) == {"200", "400", "403", "404", "429", "500", "502"}
    assert "Retry-After" in isolate["responses"]["429"]["headers"]


def test_swagger_20_is_valid_and_speaks_no_2020_12() -> None:
    result = run_cli("export", "openapi", "--swagger", "--host", "contoso-mde.azurewebsites.net")
    assert result.code == 0, result.stderr
    document = result.json
    validate(document)
    assert document["swagger"] == "2.0" and document["host"] == "contoso-mde.azurewebsites.net"
    assert leaks(document) == []
    body = document["paths"]["/actions/isolate_machines"]["post"]["parameters"][0]
    assert body["in"] == "body" and body["x-ms-summary"] == "Input"
    isolate = document["definitions"]["isolate_machines_input"]["properties"]
    assert isolate["comment"]["x-ms-visibility"] == "important"
    assert isolate["dry_run"]["x-ms-visibility"] == "advanced"
    action_id = document["definitions"]["MachineActionReport"]["properties"]["action_id"]
    assert action_id["x-nullable"] is True  # anyOf [GUID, null]
    # What 2.0 cannot say is said, on stderr, not emitted as invalid 2.0.
    assert "note: machine_ref.anyOf: several forms: widened" in result.stderr


def test_converter_cases() -> None:
    notes: list[str] = []
    converted = openapi._to_v2(
        {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "properties": {
                "a": {"const": "x"},
                "b": {"type": ["integer", "null"], "exclusiveMinimum": 0},
                "c": {"anyOf": [{"$ref": "#/definitions/X"}, {"type": "null"}]},
                "d": {"prefixItems": [{"type": "string"}]},
            },
        },
        "T",
        notes,
    )
    props = converted["properties"]
    assert props["a"] == {"enum": ["x"], "type": "string"}
    assert props["b"] == {
        "type": "integer",
        "x-nullable": True,
        "minimum": 0,
        "exclusiveMinimum": True,
    }
    assert props["c"] == {"allOf": [{"$ref": "#/definitions/X"}], "x-nullable": True}
    assert props["d"] == {} and notes == [
        "T.d: dropped `prefixItems`, which Swagger 2.0 cannot express"
    ]


@pytest.mark.parametrize(
    ("name", "inputs"),
    [
        (
            "get_file_machines",
            lambda e: {"sha1": e.fleet.file_with(2), "fields": ["computerDnsName"]},
        ),
        (
            "isolate_machines",
            lambda e: {"machine_ids": [e.fleet.machines[0]["id"]], "comment": "x"},
        ),
        ("get_file", lambda e: {"hash": e.fleet.file_with(1)}),
    ],
)
def test_the_triggers_answers_fit_the_documented_schemas(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch, name: str, inputs: Any
) -> None:
    for key, value in emulator.env().items():
        monkeypatch.setenv(key, value)
    document = openapi.openapi()
    status, _, body = respond("actions", name, json.dumps(inputs(emulator)))
    assert status == 200, body
    schema = {"$ref": f"#/components/schemas/{name}_output", "components": document["components"]}
    jsonschema.Draft202012Validator(schema).validate(json.loads(body))
    _, _, error = respond("actions", name, "{}")
    schema["$ref"] = "#/components/schemas/Error"
    jsonschema.Draft202012Validator(schema).validate(json.loads(error))
