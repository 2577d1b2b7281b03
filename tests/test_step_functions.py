"""`mdepack export step-functions`: every shipped playbook becomes a state machine that AWS's
validator (asl-validator, run for real) accepts, and that, run by a small ASL interpreter with the
pack's Lambda handler in-process against the emulator, gives the outputs the pack's own runner
gives; failures keep their typed error, retries fire on the pack's retryable errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from asl import ExecutionFailed, execute
from conftest import make_client, run_cli

from mdepack.clock import ManualClock
from mdepack.emulator import Emulator
from mdepack.emulator.routes.files import sha256_of
from mdepack.exports.step_functions import export
from mdepack.playbook.runner import run_file
from mdepack.triggers import aws_lambda

pytestmark = pytest.mark.slow
ARN = "arn:aws:lambda:eu-west-1:123456789012:function:mdepack"
PLAYBOOKS = sorted((Path(__file__).parent.parent / "playbooks").glob("*.yaml"))
VALIDATOR = Path(sys.prefix) / "node" / "node_modules" / ".bin" / "asl-validator"


@pytest.mark.parametrize("path", PLAYBOOKS, ids=[p.stem for p in PLAYBOOKS])
def test_every_shipped_playbook_exports_to_a_machine_asl_validator_accepts(
    path: Path, tmp_path: Path
) -> None:
    assert VALIDATOR.exists(), f"{VALIDATOR} is missing: `make test` installs asl-validator 4.0.0"
    exported = run_cli("export", "step-functions", str(path), "--function-arn", ARN)
    assert exported.code == 0, exported.stderr
    definition = tmp_path / "machine.json"
    definition.write_text(exported.stdout)
    checked = subprocess.run(
        [str(VALIDATOR), "--json-path", str(definition)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    machine = exported.json
    tasks = [s for s in machine["States"].values() if s["Type"] == "Task"]
    assert tasks and all(t["Resource"] == ARN for t in tasks)
    assert all(t["Retry"][0]["ErrorEquals"] == ["RateLimitError"] for t in tasks)
    assert all(t["Catch"][0]["Next"] == "Failed" for t in tasks)


@pytest.fixture
def lambda_env(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    for key, value in emulator.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("MDE_RETRIES", "off")  # the state machine retries
    return emulator


def lambda_task(resource: str, payload: Any) -> Any:
    assert resource == ARN
    return json.loads(json.dumps(aws_lambda.handler(payload)))


@pytest.mark.parametrize(
    ("name", "inputs"),
    [
        ("tag_machines_by_file_hash", lambda e: {"sha1": e.fleet.file_with(3), "tag": "sfn"}),
        ("tag_machines_by_file_hash", lambda e: {"sha1": e.fleet.file_with(0), "tag": "sfn"}),
        ("isolate_machines_by_file_hash", lambda e: {"sha1": e.fleet.file_with(2), "comment": "c"}),
        (
            "tag_and_scan_by_sha256",
            lambda e: {"sha256": sha256_of(e.fleet.file_with(2)), "tag": "t", "comment": "c"},
        ),
        ("tag_and_scan_by_sha256", lambda e: {"sha256": "e" * 64, "tag": "t", "comment": "c"}),
        ("tag_machines_by_user", lambda e: {"user": "user1@contoso.com", "tag": "sfn"}),
        (
            "block_file_hash",
            lambda e: {"hash": e.fleet.file_with(2), "title": "t", "comment": "c", "tag": "b"},
        ),
        (
            "block_file_hash",
            lambda e: {
                "hash": sha256_of(e.fleet.file_with(2)),
                "title": "t",
                "comment": "c",
                "tag": "b",
                "dry_run": False,
            },
        ),
    ],
)
def test_the_exported_machine_gives_the_runners_outputs(
    lambda_env: Emulator, clock: ManualClock, name: str, inputs: Any
) -> None:
    given = inputs(lambda_env)
    final = execute(export(name, ARN), given, lambda_task)
    native = run_file(name, given, client=make_client(lambda_env, clock))
    assert final == native.outputs


def test_a_failed_step_ends_in_the_fail_state_with_the_typed_error(lambda_env: Emulator) -> None:
    lambda_env.add_fault(path="/api/files/", status=403, times=None)
    with pytest.raises(ExecutionFailed) as caught:
        execute(
            export("tag_machines_by_file_hash", ARN),
            {"sha1": lambda_env.fleet.file_with(2), "tag": "x"},
            lambda_task,
        )
    assert caught.value.error == "PermissionDeniedError"
    assert json.loads(caught.value.cause)["errorType"] == "PermissionDeniedError"


def test_a_transient_error_is_retried_by_the_machine(lambda_env: Emulator) -> None:
    lambda_env.add_fault(path="/api/files/", status=503, times=1)
    final = execute(
        export("tag_machines_by_file_hash", ARN),
        {"sha1": lambda_env.fleet.file_with(1), "tag": "x"},
        lambda_task,
    )
    assert len(final["tagged"]) == 1
    assert [c.status for c in lambda_env.calls("/api/files/")] == [503, 200]


def test_untranslatable_expressions_and_bad_arns_exit_2(tmp_path: Path) -> None:
    playbook = tmp_path / "p.yaml"
    playbook.write_text(
        "name: p\n"
        "inputs: {type: object, required: [sha1], properties: {sha1: {type: string}}}\n"
        "steps:\n"
        "  - id: related\n"
        "    action: get_file_machines\n"
        "    with: {sha1: '${{ inputs.sha1 }}'}\n"
        "outputs:\n"
        "  names: '${{ join(`,`, steps.related.machines[].computerDnsName) }}'\n"
    )
    refused = run_cli("export", "step-functions", str(playbook), "--function-arn", ARN)
    assert refused.code == 2 and "function expression, which has no JSONPath form" in refused.stderr
    playbook.write_text(
        playbook.read_text().replace(
            "outputs:\n  names: '${{ join(`,`, steps.related.machines[].computerDnsName) }}'\n",
            "  - id: tag\n"
            "    action: tag_machines\n"
            "    if: '${{ steps.related.machines }}'\n"
            "    with: {machine_ids: '${{ steps.related.machines[].id }}', tag: t, action: Add}\n",
        )
    )
    truthy = run_cli("export", "step-functions", str(playbook), "--function-arn", ARN)
    assert truthy.code == 2 and "is array, not a boolean: compare it explicitly" in truthy.stderr
    bad_arn = run_cli("export", "step-functions", "remove_tag", "--function-arn", "mdepack")
    assert bad_arn.code == 2 and bad_arn.error["field"] == "function_arn"


def test_a_field_name_that_would_break_out_of_its_jsonpath_is_refused(tmp_path: Path) -> None:
    playbook = tmp_path / "p.yaml"
    playbook.write_text(
        "name: p\n"
        "inputs:\n"
        "  type: object\n"
        "  required: [ids]\n"
        "  properties:\n"
        "    ids: {type: array, minItems: 1, items: {$ref: '../schemas/common.json#/$defs/machine_id'}}\n"
        "    \"dry_run']['confirm\": {type: boolean, default: true}\n"
        "steps:\n"
        "  - id: isolate\n"
        "    action: isolate_machines\n"
        "    with:\n"
        "      machine_ids: ${{ inputs.ids }}\n"
        "      comment: c\n"
        "      dry_run: ${{ inputs.\"dry_run']['confirm\" }}\n"
    )
    refused = run_cli("export", "step-functions", str(playbook), "--function-arn", ARN)
    assert refused.code == 2, refused.stdout
    assert "cannot be written in a JSONPath safely" in refused.error["message"]


def test_an_output_key_ending_in_dollar_is_refused(tmp_path: Path) -> None:
    playbook = tmp_path / "p.yaml"
    playbook.write_text(
        "name: p\n"
        "inputs: {type: object, required: [sha1], properties: {sha1: {type: string}}}\n"
        "steps:\n"
        "  - id: related\n"
        "    action: get_file_machines\n"
        "    with: {sha1: '${{ inputs.sha1 }}'}\n"
        "outputs:\n"
        "  ids.$: $.steps\n"
    )
    refused = run_cli("export", "step-functions", str(playbook), "--function-arn", ARN)
    assert refused.code == 2 and "ends in '.$'" in refused.error["message"]


def test_a_list_built_from_expressions_becomes_states_array(tmp_path: Path) -> None:
    playbook = tmp_path / "p.yaml"
    playbook.write_text(
        "name: p\n"
        "inputs: {type: object, required: [id], properties: {id: {type: string}}}\n"
        "steps:\n"
        "  - id: tag\n"
        "    action: tag_machines\n"
        "    with:\n"
        "      machine_ids: ['${{ inputs.id }}', \"it's {literal}\"]\n"
        "      tag: t\n"
        "      action: Add\n"
    )
    exported = run_cli("export", "step-functions", str(playbook), "--function-arn", ARN)
    assert exported.code == 0, exported.stderr
    state = exported.json["States"]["tag"]
    array = state["Parameters"]["input"]["machine_ids.$"]
    assert array == "States.Array($.inputs.id, 'it\\'s \\{literal\\}')"
    seen: list[Any] = []
    execute(exported.json, {"id": "m1"}, lambda _arn, payload: seen.append(payload) or {})
    assert seen[0]["input"]["machine_ids"] == ["m1", "it's {literal}"]
    playbook.write_text(playbook.read_text().replace('"it\'s {literal}"', "'id-${{ inputs.id }}'"))
    refused = run_cli("export", "step-functions", str(playbook), "--function-arn", ARN)
    assert refused.code == 2 and "a list item must be one" in refused.error["message"]


def test_sam_templates_of_every_playbook_pass_cfn_lint(tmp_path: Path) -> None:
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    files = []
    for path in PLAYBOOKS:
        exported = run_cli("export", "step-functions", str(path), "--function-arn", ARN, "--sam")
        assert exported.code == 0, exported.stderr
        template = exported.json
        [(name, machine)] = template["Resources"].items()
        assert machine["Type"] == "AWS::Serverless::StateMachine" and name.endswith("StateMachine")
        assert machine["Properties"]["Definition"] == export(str(path), ARN)
        [policy] = machine["Properties"]["Policies"]
        assert policy["Statement"] == [
            {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": [ARN, f"{ARN}:*"]}
        ]
        files.append(tmp_path / f"{path.stem}.json")
        files[-1].write_text(exported.stdout)
    linted = subprocess.run(
        [str(cfn_lint), *map(str, files)], capture_output=True, text=True, check=False, timeout=300
    )
    assert linted.returncode == 0, linted.stdout + linted.stderr
    broken = tmp_path / "broken.json"
    broken.write_text(files[0].read_text().replace('"STANDARD"', '"SOMETIMES"'))
    failed = subprocess.run(
        [str(cfn_lint), str(broken)], capture_output=True, text=True, check=False
    )
    assert failed.returncode != 0  # the linter really looks
