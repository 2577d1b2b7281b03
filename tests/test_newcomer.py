"""What a newcomer meets: the README's examples run as written against the emulator it tells you
to start, the version and playbook listing, shipped playbooks by either name, every missing input
named at once, readable rule wording, `describe` with shared types resolved, the checker seeing
what `fields` drops (and typos in it), typed empty outputs of skipped steps, and the Python API."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import make_client, run_cli, run_python, user_env

import mdepack
from mdepack.clock import ManualClock
from mdepack.emulator import Emulator
from mdepack.playbook.runner import run_file

pytestmark = pytest.mark.slow
README = Path(__file__).parent.parent / "README.md"


@pytest.fixture(scope="module")
def readme_emulator() -> Iterator[Emulator]:
    # What `mdepack emulator` starts: 500 machines from seed 1; machine actions and live response
    # sessions run faster, so the examples that wait for them do not wait 20 s.
    with Emulator(
        machines=500,
        seed=1,
        action_pending_seconds=0.5,
        action_run_seconds=1.0,
        live_response_command_seconds=0.5,
    ) as emulator:
        yield emulator


def readme_commands() -> list[str]:
    """`mdepack run` and `mdepack playbook run` lines of README's shell blocks, continuations joined."""
    text = README.read_text()
    blocks = re.findall(r"```sh\n(.*?)```", text, re.S)
    commands = []
    for block in blocks:
        for line in block.replace("\\\n", " ").splitlines():
            line = line.strip()
            if re.match(r"mdepack (run|playbook run) ", line):
                commands.append(line)
    return commands


@pytest.mark.parametrize("command", readme_commands())
def test_every_readme_example_runs_as_written(
    readme_emulator: Emulator, command: str, tmp_path: Path
) -> None:
    words = shlex.split(command, comments=True)
    stdin = None
    if "ids.json" in command:  # made as README makes it, by its printf line, where it runs
        line = _readme_line("> ids.json")
        subprocess.run(["/bin/sh", "-c", line], cwd=tmp_path, check=True)
    if "--file" in words:  # the file to upload, made by README's printf line as well
        name = Path(words[words.index("--file") + 1]).name
        subprocess.run(["/bin/sh", "-c", _readme_line(f"> {name}")], cwd=tmp_path, check=True)
    if "<" in words:  # `--input - < ids.json`
        at = words.index("<")
        stdin = (tmp_path / words[at + 1]).read_text()
        words = words[:at]
    result = run_cli(*words[1:], env=readme_emulator.env(), stdin=stdin, cwd=tmp_path)
    assert result.code == 0, f"{command}\n{result.stderr}"


def _readme_line(ending: str) -> str:
    blocks = re.findall(r"```sh\n(.*?)```", README.read_text(), re.S)
    return next(line for b in blocks for line in b.splitlines() if line.rstrip().endswith(ending))


def test_the_readme_python_examples_run_as_written(readme_emulator: Emulator) -> None:
    first, second = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)[:2]
    said = run_python(first, user_env(readme_emulator.env())).splitlines()
    assert said[0] == "2 machines have seen the file" and said[1].startswith("would isolate: ['")
    assert run_python(second, user_env({})).strip() == "3"


def test_version_and_the_playbook_list() -> None:
    assert run_cli("--version").stdout.strip() == f"mdepack {mdepack.__version__}"
    listed = run_cli("playbook", "list")
    assert listed.code == 0
    assert "isolate_machines_by_file_hash" in listed.stdout and "dry run" in listed.stdout


def test_check_takes_a_shipped_playbook_by_file_or_yaml_name() -> None:
    assert run_cli("playbook", "check", "tag-machines-by-file-hash", "remove_tag").code == 0
    unknown = run_cli("playbook", "check", "no-such-playbook")
    assert unknown.code == 2 and "remove_tag" in unknown.stderr  # the shipped ones are listed


def test_every_missing_input_is_named_at_once() -> None:
    result = run_cli("run", "tag_machines", "--input", '{"tag": "x"}')
    assert result.code == 2
    assert result.error["message"] == "input: missing required inputs: machine_ids, action"


@pytest.mark.parametrize(
    ("inputs", "words"),
    [
        (
            {"machine_id": 5},
            "must be a machine id (40 hexadecimal characters) or a computer DNS name",
        ),
    ],
)
def test_rules_are_worded_not_raw(inputs: dict[str, object], words: str) -> None:
    result = run_cli("run", "get_machine", "--input", json.dumps(inputs))
    assert words in result.error["message"] and "is not valid under" not in result.stderr
    empty = run_cli(
        "run", "tag_machines", "--input", '{"machine_ids": [], "tag": "t", "action": "Add"}'
    )
    assert "machine_ids: must not be empty" in empty.error["message"]
    assert "should be non-empty" not in empty.stderr


def test_describe_resolves_shared_types() -> None:
    described = run_cli("describe", "tag_machines").json
    tag = described["input"]["properties"]["tag"]
    assert tag["maxLength"] == 200 and "$ref" not in json.dumps(described)


def test_run_help_lists_the_actions_with_an_example() -> None:
    helped = run_cli("run", "--help").stdout
    assert "isolate_machines" in helped and "example:" in helped
    emulator = run_cli("emulator", "--help").stdout
    assert "size of the generated fleet" in emulator


def test_the_checker_sees_what_fields_drops_and_refuses_typos(tmp_path: Path) -> None:
    playbook = tmp_path / "narrow.yaml"
    playbook.write_text(
        "name: narrow\n"
        "inputs: {type: object, required: [sha1], properties: {sha1: {type: string}}}\n"
        "steps:\n"
        "  - id: x\n"
        "    action: get_file_machines\n"
        "    with: {sha1: '${{ inputs.sha1 }}', fields: [computerDnsName]}\n"
        "outputs:\n"
        "  ips: '${{ steps.x.machines[].lastIpAddress }}'\n"
    )
    checked = run_cli("playbook", "check", str(playbook))
    assert checked.code == 2
    assert "has no field 'lastIpAddress': step 'x' keeps only id, computerDnsName" in checked.stderr
    playbook.write_text(playbook.read_text().replace("[computerDnsName]", "[computerDNSName]"))
    typo = run_cli("playbook", "check", str(playbook))
    assert (
        "'computerDNSName' is not a Machine field; did you mean 'computerDnsName'?" in typo.stderr
    )


def test_a_typo_in_fields_is_refused_before_any_call(readme_emulator: Emulator) -> None:
    readme_emulator.clear_log()
    result = run_cli(
        "run",
        "list_machines",
        "--input",
        '{"fields": ["lastIPAddress"]}',
        env=readme_emulator.env(),
    )
    assert result.code == 2 and "did you mean 'lastIpAddress'?" in result.error["message"]
    assert readme_emulator.calls() == []


def test_a_skipped_step_leaves_typed_empty_outputs(clock: ManualClock) -> None:
    with Emulator(machines=20, clock=clock) as emulator:
        result = run_file(
            "tag_machines_by_file_hash",
            {"sha1": emulator.fleet.file_with(0), "tag": "t"},
            client=make_client(emulator, clock),
        )
    assert result.steps[1].status == "skipped"
    assert result.outputs["tagged"] == [] and result.outputs["not_found"] == []


def test_the_python_api(emulator: Emulator) -> None:
    code = (
        "import json, mdepack\n"
        f"out = mdepack.run('get_file_machines', {{'sha1': '{emulator.fleet.file_with(2)}'}})\n"
        "try:\n"
        "    mdepack.run('get_file_machines', {'sha1': 'nope'})\n"
        "except mdepack.InputError as error:\n"
        "    refused = error.field\n"
        "print(json.dumps({'count': out['count'], 'refused': refused, 'public': mdepack.__all__}))\n"
    )
    result = json.loads(run_python(code, user_env(emulator.env())))
    assert result["count"] == 2 and result["refused"] == "sha1"
    assert {"run", "InputError", "RateLimitError", "TransientError"} <= set(result["public"])


def test_a_misspelt_action_or_playbook_gets_a_did_you_mean() -> None:
    typo = run_cli("run", "get_fle_machines", "--input", "{}")
    assert typo.code == 2 and "did you mean 'get_file_machines'" in typo.error["message"]
    partial = run_cli("describe", "isolate")
    assert "did you mean 'isolate_machines' or 'unisolate_machines'?" in partial.error["message"]
    playbook = run_cli("playbook", "run", "tag_by_user", "--input", "{}")
    assert playbook.code == 2 and "did you mean 'tag_machines_by_user'?" in playbook.stderr


def test_enum_values_are_taken_in_any_case_and_sent_as_the_api_spells_them(
    readme_emulator: Emulator,
) -> None:
    env = readme_emulator.env()
    readme_emulator.clear_log()
    listed = run_cli(
        "run",
        "list_machines",
        "--input",
        '{"health_status": "active", "risk_score": ["high"]}',
        env=env,
    )
    assert listed.code == 0, listed.stderr
    [call] = readme_emulator.calls("/api/machines", "GET")
    assert call.query["$filter"] == "healthStatus eq 'Active' and riskScore eq 'High'"
    machine = readme_emulator.fleet.machines[-1]["id"]  # one the README's examples leave alone
    scan = {"machine_ids": [machine], "comment": "c", "scan_type": "full"}
    scanned = run_cli("run", "run_antivirus_scan", "--input", json.dumps(scan), env=env)
    assert scanned.code == 0, scanned.stderr
    [post] = [
        c for c in readme_emulator.calls(method="POST") if c.path.endswith("/runAntiVirusScan")
    ]
    assert post.body["ScanType"] == "Full"
    tagged = run_cli(
        "run",
        "tag_machines",
        "--input",
        json.dumps({"machine_ids": [machine], "tag": "x", "action": "add"}),
        env=env,
    )
    assert tagged.json["action"] == "Add"
    wrong = run_cli(
        "run",
        "tag_machines",
        "--input",
        json.dumps({"machine_ids": [machine], "tag": "x", "action": "append"}),
    )
    assert wrong.code == 2 and "must be Add or Remove" in wrong.error["message"]


def test_the_readme_ip_example_finds_its_machine(readme_emulator: Emulator) -> None:
    found = run_cli(
        "run",
        "find_machines_by_ip",
        "--input",
        '{"ip": "10.230.241.167"}',
        env=readme_emulator.env(),
    )
    assert found.code == 0 and found.json["count"] == 1  # an Active machine holds it now
    assert found.json["machines"][0]["computerDnsName"] == "desktop-000000.contoso.com"
