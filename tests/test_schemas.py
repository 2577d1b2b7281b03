"""Output schemas accept what real responses contain, and stay strict where chaining relies on it."""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonschema
import pytest
from conftest import load_fixture
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from mdepack import schemas, validation
from mdepack.emulator import fleet
from mdepack.errors import OutputValidationError
from mdepack.invoke import prepared

REAL = load_fixture("machine_real.json")
DOCS = load_fixture("machine_docs.json")
SPARSE = load_fixture("machine_sparse.json")


def collection(*machines: dict[str, Any]) -> dict[str, Any]:
    return {"machines": list(machines), "count": len(machines)}


@pytest.mark.parametrize("machine", [REAL, DOCS, SPARSE], ids=["real", "docs", "sparse"])
def test_collection_output_accepts_real_machine_shapes(machine: dict[str, Any]) -> None:
    prepared("list_machines").output.check_output(collection(machine), "list_machines")
    prepared("get_machine").output.check_output({"machine": machine}, "get_machine")


def test_integer_and_string_rbac_group_id_and_both_onboarding_spellings() -> None:
    assert isinstance(REAL["rbacGroupId"], int) and isinstance(DOCS["rbacGroupId"], str)
    assert REAL["onboardingStatus"] == "Onboarded" and DOCS["onboardingStatus"] == "onboarded"
    prepared("list_machines").output.check_output(collection(REAL, DOCS), "list_machines")


def test_emulator_fleet_fits_the_output_schema() -> None:
    machines = fleet.generate(300, seed=5).machines
    assert prepared("list_machines").output.is_valid(collection(*machines))


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"id": "not-a-machine-id"}, "machines[0].id"),
        ({"id": None}, "machines[0].id"),
        ({"machineTags": "VIP"}, "machines[0].machineTags"),
        ({"osBuild": "22631"}, "machines[0].osBuild"),
    ],
)
def test_output_is_strict_where_a_later_step_relies_on_it(
    change: dict[str, Any], where: str
) -> None:
    machine = {**copy.deepcopy(REAL), **change}
    with pytest.raises(OutputValidationError) as caught:
        prepared("list_machines").output.check_output(collection(machine), "list_machines")
    assert caught.value.details["field"] == where


def _reference_validator(relative: str) -> jsonschema.Draft202012Validator:
    pack = validation.schema_set()
    registry = Registry().with_resources(
        (uri, Resource.from_contents(doc, default_specification=DRAFT202012))
        for uri, doc in pack.resources
    )
    return jsonschema.Draft202012Validator({"$ref": schemas.uri(relative)}, registry=registry)


def _corpus() -> list[tuple[str, Any]]:
    machines = fleet.generate(40, seed=9).machines
    cases: list[tuple[str, Any]] = [
        ("schemas/list_machines.output.json", collection(*machines)),
        ("schemas/list_machines.output.json", collection(REAL, DOCS, SPARSE)),
        ("schemas/list_machines.output.json", {"machines": [], "count": 0}),
        ("schemas/list_machines.output.json", {"machines": [{"id": "x"}], "count": 1}),
        ("schemas/list_machines.output.json", {"machines": [REAL], "count": -1}),
        ("schemas/list_machines.output.json", {"machines": [REAL]}),
        ("schemas/list_machines.output.json", {"machines": [REAL], "count": 1, "extra": 1}),
        (
            "schemas/list_machines.output.json",
            {"machines": [{**REAL, "ipAddresses": [{"ipAddress": 5}]}], "count": 1},
        ),
        ("schemas/get_machine.output.json", {"machine": SPARSE}),
        ("schemas/get_machine.output.json", {"machine": {**REAL, "isAadJoined": "yes"}}),
        (
            "schemas/tag_machines.output.json",
            {
                "action": "Add",
                "tag": "t",
                "updated": [REAL["id"]],
                "not_found": [],
                "count": 1,
                "dry_run": False,
            },
        ),
        (
            "schemas/tag_machines.output.json",
            {
                "action": "Toggle",
                "tag": "t",
                "updated": [],
                "not_found": [],
                "count": 0,
                "dry_run": False,
            },
        ),
        (
            "schemas/tag_machines.input.json",
            {"machine_ids": [REAL["id"]], "tag": "x" * 201, "action": "Add"},
        ),
        (
            "schemas/tag_machines.input.json",
            {"machine_ids": [REAL["id"]], "tag": "bad\ttag", "action": "Add"},
        ),
        ("schemas/tag_machines.input.json", {"machine_ids": [], "tag": "t", "action": "Add"}),
        ("schemas/get_user_machines.input.json", {"user": "CONTOSO\\user1"}),
        ("schemas/get_user_machines.input.json", {"user": "../etc"}),
        ("schemas/get_user_machines.input.json", {"user": "a b"}),
        ("schemas/get_file_machines.input.json", {"sha1": "A" * 40}),
        ("schemas/get_file_machines.input.json", {"sha1": "a" * 64}),
        ("schemas/get_file_machines.input.json", {"sha1": "g" * 40}),
        ("schemas/get_machine.input.json", {"machine_id": "desktop-000001.contoso.com"}),
        ("schemas/get_machine.input.json", {"machine_id": "a/b"}),
        (
            "schemas/list_machines.input.json",
            {"health_status": ["Active", "Inactive"], "rbac_group_id": [0, 140]},
        ),
        ("schemas/list_machines.input.json", {"health_status": []}),
        ("schemas/list_machines.input.json", {"risk_score": "Severe"}),
        ("schemas/list_machines.input.json", {"last_seen_after": "2024-01-01"}),
        ("schemas/list_machines.input.json", {"rbac_group_id": True}),
    ]
    for machine in machines[:10]:
        broken = copy.deepcopy(machine)
        broken["id"] = broken["id"][:-1]
        cases.append(("schemas/list_machines.output.json", collection(broken)))
    return cases


def test_compiled_validator_gives_the_same_verdicts_as_the_reference_library() -> None:
    corpus = _corpus()
    verdicts = {True: 0, False: 0}
    for relative, instance in corpus:
        fast = validation.schema_set().validator(relative).is_valid(instance)
        reference = _reference_validator(relative).is_valid(instance)
        assert fast == reference, f"{relative}: {json.dumps(instance)[:200]}"
        verdicts[fast] += 1
    assert verdicts[True] >= 5 and verdicts[False] >= 15
