"""The manifest is the single source of truth: every entry must resolve."""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path

import jsonschema
import pytest

from mdepack import manifest, schemas
from mdepack.client import ApiClient
from mdepack.emulator import Emulator
from mdepack.invoke import prepared
from mdepack.paths import placeholders

PACK = manifest.load()
ACTIONS = sorted(PACK.actions)


def test_the_actions_are_declared() -> None:
    assert ACTIONS == [
        "cancel_machine_action",
        "collect_investigation_package",
        "delete_indicators",
        "find_machines_by_ip",
        "find_machines_by_tag",
        "get_alert",
        "get_file",
        "get_file_machines",
        "get_investigation_package_uri",
        "get_live_response_result",
        "get_machine",
        "get_machine_action",
        "get_user_machines",
        "isolate_machines",
        "list_alerts",
        "list_indicators",
        "list_library_files",
        "list_machine_actions",
        "list_machines",
        "restrict_code_execution",
        "run_antivirus_scan",
        "run_hunting_query",
        "run_live_response",
        "stop_and_quarantine_file",
        "submit_indicators",
        "tag_machines",
        "unisolate_machines",
        "unrestrict_code_execution",
        "update_alert",
        "upload_library_file",
    ]


@pytest.mark.parametrize("name", ACTIONS)
def test_entrypoint_resolves_to_a_run_function_taking_inputs_and_api(name: str) -> None:
    function = PACK.function(name)
    assert list(inspect.signature(function).parameters) == ["inputs", "api"]
    assert function.__module__ == f"mdepack._actions.{name}"


@pytest.mark.parametrize("name", ACTIONS)
def test_schemas_are_valid_draft_2020_12(name: str) -> None:
    action = PACK.action(name)
    for relative in (action.input, action.output):
        schema = PACK.schema(relative)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        jsonschema.Draft202012Validator.check_schema(schema)


def test_every_schema_file_is_valid_and_every_ref_resolves() -> None:
    for relative in PACK.schema_files():
        schema = PACK.schema(relative)
        jsonschema.Draft202012Validator.check_schema(schema)
        base = schemas.uri(relative)
        for ref in re.findall(r'"\$ref": "([^"]+)"', json.dumps(schema)):
            from mdepack.schemas import inline

            resolved = inline({"$ref": ref}, base)
            assert resolved, f"{relative}: {ref} resolves to nothing"


@pytest.mark.parametrize("name", ACTIONS)
def test_manifest_entry_is_complete(name: str) -> None:
    action = PACK.action(name)
    assert action.method in ("GET", "POST", "PATCH")
    assert action.path.startswith("/v1.0/security/" if action.api == "graph" else "/api/")
    roles = {
        "Machine.Read.All",
        "Machine.ReadWrite.All",
        "Machine.Isolate",
        "Machine.Scan",
        "Machine.RestrictExecution",
        "Machine.CollectForensics",
        "Machine.StopAndQuarantine",
        "File.Read.All",
        "Ti.ReadWrite.All",
        "Machine.LiveResponse",
        "Library.Manage",
        "ThreatHunting.Read.All",
        "SecurityAlert.Read.All",
        "SecurityAlert.ReadWrite.All",
    }
    assert action.permission in roles or action.name == "cancel_machine_action"
    reads_by_post = action.name == "run_hunting_query"  # a query is sent as a POST body
    writes = action.method in ("POST", "PATCH") and not reads_by_post
    assert action.side_effects == ("write" if writes else "read")
    assert not (action.destructive and not action.writes)
    # Each path placeholder is filled from an input: the one of its name, or, for an action on
    # many machines, each of machine_ids in turn.
    schema = PACK.schema(action.input)
    for name_ in placeholders(action.path):
        per_machine = name_ == "machine_id" and "machine_ids" in schema.get("required", [])
        assert name_ in schema["properties"] or per_machine


@pytest.mark.parametrize("name", ACTIONS)
def test_manifest_example_is_valid_input(name: str) -> None:
    prepared(name).input.check_input(PACK.action(name).example)


@pytest.mark.parametrize("name", ACTIONS)
def test_input_schemas_refuse_unknown_fields(name: str) -> None:
    assert PACK.schema(PACK.action(name).input)["additionalProperties"] is False


def test_chained_types_are_named_once_with_semantic_tags() -> None:
    defs = PACK.schema("schemas/common.json")["$defs"]
    assert defs["sha1"]["x-contains"] == ["sha1", "hash"]
    assert defs["machine_id"]["x-contains"] == ["defender atp device id"]
    machine_ids = PACK.schema("schemas/tag_machines.input.json")["properties"]["machine_ids"]
    assert machine_ids["items"] == {"$ref": "common.json#/$defs/machine_ref"}  # id or DNS name
    assert defs["machine_ref"]["x-contains"] == ["defender atp device id", "host name"]
    assert defs["Machine"]["properties"]["id"] == {"$ref": "#/$defs/machine_id"}


def test_unknown_action_is_refused_naming_the_known_ones() -> None:
    from mdepack.errors import InputError

    with pytest.raises(InputError, match=r"unknown action .nope. .known: .*list_machines"):
        PACK.action("nope")


def test_pack_root_is_the_checkout_here() -> None:
    assert (manifest.pack_root() / "manifest.yaml").is_file()
    assert not (Path(manifest.__file__).parent / "actions").exists()


def test_an_action_is_resolved_once_per_process(
    emulator: Emulator, client: ApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mdepack.invoke import invoke, prepared

    machine = emulator.fleet.machines[0]["id"]
    invoke("get_machine", {"machine_id": machine}, client=client)  # resolved here, once
    looked_up: list[str] = []
    real = manifest.Manifest.action

    def counting(self: manifest.Manifest, name: str) -> manifest.Action:
        looked_up.append(name)
        return real(self, name)

    monkeypatch.setattr(manifest.Manifest, "action", counting)
    for _ in range(3):
        invoke("get_machine", {"machine_id": machine}, client=client)
    assert looked_up == []  # nothing downstream takes the name again
    assert prepared("get_machine") is prepared("get_machine")
