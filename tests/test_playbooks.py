"""Playbooks: shipped ones pass the check, broken ones are refused, the chain makes the calls it should."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import make_client

from mdepack.clock import ManualClock
from mdepack.emulator import Emulator
from mdepack.errors import InputError, TransientError
from mdepack.playbook import document
from mdepack.playbook.checker import check_file, errors
from mdepack.playbook.runner import run_file

PLAYBOOKS = sorted((Path(__file__).parent.parent / "playbooks").glob("*.yaml"))
TAG_PATH = "/api/machines/AddOrRemoveTagForMultipleMachines"


@pytest.mark.parametrize("path", PLAYBOOKS, ids=[p.stem for p in PLAYBOOKS])
def test_every_shipped_playbook_passes_the_check(path: Path) -> None:
    assert errors(check_file(path)) == []


def test_four_playbooks_ship_one_of_which_removes_a_tag() -> None:
    assert len(PLAYBOOKS) >= 4
    assert any("action: Remove" in p.read_text() for p in PLAYBOOKS)


HEADER = """name: broken
inputs:
  type: object
  properties:
    sha1: {$ref: "../schemas/common.json#/$defs/sha1"}
    tag: {type: string}
steps:
  - id: related
    action: get_file_machines
    with:
      sha1: ${{ inputs.sha1 }}
"""


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        ("  - id: x\n    action: frobnicate\n", "step 'x': unknown action 'frobnicate'"),
        (
            "  - id: x\n    action: get_machine\n    with: {machine_id: abc, colour: red}\n",
            "input 'colour': unknown input",
        ),
        (
            "  - id: x\n    action: get_machine\n    with: {}\n",
            "input 'machine_id': missing required input",
        ),
        (
            "  - id: x\n    action: get_machine\n    with:\n      machine_id: ${{ steps.y.machine.id }}\n  - id: y\n    action: get_machine\n    with: {machine_id: abc}\n",
            "refers to step 'y', which runs later",
        ),
        (
            "  - id: x\n    action: get_machine\n    with:\n      machine_id: ${{ steps.nope.id }}\n",
            "refers to unknown step 'nope'",
        ),
        (
            "  - id: x\n    action: get_machine\n    with:\n      machine_id: ${{ steps.related.machines[0].hostname }}\n",
            "has no field 'hostname'",
        ),
        (
            "  - id: x\n    action: tag_machines\n    if: ${{ steps.related.count > `0` }}\n    with:\n      machine_ids: ${{ inputs.sha1 }}\n      tag: t\n      action: Add\n",
            "input 'machine_ids': a string cannot fit: it needs an array",
        ),
        (
            "  - id: x\n    action: get_file_machines\n    with:\n      sha1: ${{ steps.related.machines[].id }}\n",
            "input 'sha1': an array cannot fit: it needs a string",
        ),
        (
            "  - id: x\n    action: tag_machines\n    if: ${{ steps.related.count > `0` }}\n    with:\n      machine_ids: ${{ steps.related.machines[].id }}\n      tag: ${{ steps.related.machines[0] }}\n      action: Add\n",
            "input 'tag': a null or object cannot fit: it needs a string",
        ),
        (
            "  - id: x\n    action: get_file_machines\n    if: ${{ steps.related.count > `0` }}\n    with:\n      sha1: ${{ steps.related.machines[0].computerDnsName }}\n",
            "carries host name where it expects hash or sha1",
        ),
        (
            "  - id: x\n    action: tag_machines\n    with:\n      machine_ids: ${{ steps.related.machines[].id }}\n      tag: t\n      action: Add\n",
            "may be an empty list",
        ),
        (
            "  - id: x\n    action: tag_machines\n    if: ${{ steps.related.count > `0` }}\n    with:\n      machine_ids: ${{ steps.related.machines[].id }}\n      tag: t\n      action: Toggle\n",
            "the value 'Toggle' must be Add or Remove",
        ),
        (
            "  - id: x\n    action: get_machine\n    with:\n      machine_id: ${{ steps.related.[ }}\n",
            "is not a JMESPath expression",
        ),
    ],
)
def test_broken_playbooks_are_refused_naming_step_input_reason_and_line(
    tmp_path: Path, step: str, expected: str
) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(HEADER + step)
    found = [str(p) for p in errors(check_file(path))]
    assert any(expected in p for p in found), found
    assert all(":" in p.split(" ")[0] for p in found)  # file:line


def test_a_format_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: bad\nsteps:\n  - id: a\n    action: get_machine\n    colour: red\n")
    (problem,) = check_file(path)
    assert "(line 5)" in problem.message and "steps[0].colour" in problem.message


@pytest.fixture
def fleet_emulator(clock: ManualClock) -> Emulator:
    with Emulator(machines=1300, clock=clock) as emulator:
        yield emulator  # type: ignore[misc]


@pytest.mark.parametrize(("related", "calls", "tag_calls"), [(2, 2, 1), (1200, 4, 3), (0, 1, 0)])
def test_hash_to_tag_makes_exactly_the_calls_it_needs(
    fleet_emulator: Emulator, clock: ManualClock, related: int, calls: int, tag_calls: int
) -> None:
    sha1 = fleet_emulator.fleet.file_with(related)
    result = run_file(
        "tag_machines_by_file_hash",
        {"sha1": sha1, "tag": "ir"},
        client=make_client(fleet_emulator, clock),
    )
    assert len(fleet_emulator.calls()) == calls == result.calls
    assert len(fleet_emulator.calls(TAG_PATH)) == tag_calls
    assert len(result.outputs["tagged"] or []) == related
    assert [s.status for s in result.steps] == (["ok", "ok"] if related else ["ok", "skipped"])


def test_playbook_inputs_are_validated_before_any_call(
    fleet_emulator: Emulator, clock: ManualClock
) -> None:
    with pytest.raises(InputError, match=r"inputs\.sha1: must be a SHA-1"):
        run_file(
            "tag_machines_by_file_hash",
            {"sha1": "abc", "tag": "t"},
            client=make_client(fleet_emulator, clock),
        )
    assert fleet_emulator.calls() == []


def test_a_failing_step_stops_the_run_and_is_named(
    fleet_emulator: Emulator, clock: ManualClock
) -> None:
    fleet_emulator.add_fault(path=TAG_PATH, status=503, times=None)
    with pytest.raises(TransientError) as caught:
        run_file(
            "tag_machines_by_file_hash",
            {"sha1": fleet_emulator.fleet.file_with(2), "tag": "t"},
            client=make_client(fleet_emulator, clock),
        )
    assert caught.value.message.startswith("step 'tag' (tag_machines):")
    assert caught.value.details["step"] == "tag"
    report = caught.value.to_dict()["error"]["steps"]
    assert [(s["id"], s["status"], s["calls"]) for s in report] == [
        ("related", "ok", 1),
        ("tag", "failed", 4),
    ]


@pytest.mark.parametrize("name", ["tag_machines_by_user", "tag_high_risk_machines", "remove_tag"])
def test_the_other_shipped_playbooks_run(
    fleet_emulator: Emulator, clock: ManualClock, name: str
) -> None:
    inputs = (
        {"tag": "VIP"}
        if name == "remove_tag"
        else {
            "tag": "watch",
            **({"user": "CONTOSO\\user1"} if name == "tag_machines_by_user" else {}),
        }
    )
    if name == "tag_high_risk_machines":
        inputs["max_machines"] = 5000
    result = run_file(name, inputs, client=make_client(fleet_emulator, clock))
    assert all(step.status == "ok" for step in result.steps)
    if name == "remove_tag":
        assert not any("VIP" in m["machineTags"] for m in fleet_emulator.fleet.machines)


def test_find_refuses_an_unknown_playbook() -> None:
    with pytest.raises(InputError, match="no playbook"):
        document.find("no-such-playbook")


def test_a_skipped_steps_empty_output_is_fresh_each_time() -> None:
    from mdepack.playbook.empty import empty_output

    first = empty_output("tag_machines")
    first["updated"].append("a" * 40)
    first["count"] = 7
    assert empty_output("tag_machines")["updated"] == []
    assert empty_output("tag_machines")["count"] == 0


def test_every_shipped_playbook_is_found_by_its_name() -> None:
    from mdepack.playbook.document import find, shipped

    for playbook in shipped():
        assert playbook.name == playbook.path.stem.replace("_", "-")
        assert find(playbook.name) == playbook.path


def test_describe_shows_inputs_steps_and_outputs_before_a_run() -> None:
    from conftest import run_cli

    described = run_cli("playbook", "describe", "tag_and_scan_by_sha256", "--json")
    assert described.code == 0, described.stderr
    inputs = {i["name"]: i for i in described.json["inputs"]}
    assert {n for n, i in inputs.items() if i["required"]} == {"sha256", "tag", "comment"}
    assert inputs["dry_run"]["default"] is True and inputs["dry_run"]["type"] == "boolean"
    assert described.json["steps"][0]["action"] == "get_file"
    assert all(s["side_effects"] in ("read", "write") for s in described.json["steps"])
    said = run_cli("playbook", "describe", "block-file-hash")
    assert said.code == 0
    for words in ("inputs:", "hash ", "required", "steps:", "tag_machines (write)", "outputs:"):
        assert words in said.stdout
    unknown = run_cli("playbook", "describe", "no_such_playbook")
    assert unknown.code == 2 and "remove_tag" in unknown.stderr
