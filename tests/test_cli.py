"""The `mdepack` command, black-box: exit codes, JSON on stdout, errors on stderr, no secrets."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import CliResult, run_cli, run_cli_on_terminal

from mdepack.emulator import Emulator

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def live() -> Iterator[Emulator]:
    # Real time here: the CLI runs in another process with its own clock.
    with Emulator(machines=40) as emulator:
        yield emulator


def test_actions_and_describe() -> None:
    listed = run_cli("actions")
    assert listed.code == 0 and "tag_machines" in listed.stdout and "write" in listed.stdout
    described = run_cli("describe", "get_file_machines")
    assert described.json["http"] == {"method": "GET", "path": "/api/files/{sha1}/machines"}
    assert described.json["input"]["required"] == ["sha1"]


def test_run_prints_the_output_json(live: Emulator, tmp_path: Path) -> None:
    sha1 = live.fleet.file_with(3)
    result = run_cli(
        "run", "get_file_machines", "--input", json.dumps({"sha1": sha1}), env=live.env()
    )
    assert result.code == 0, result.stderr
    assert result.json["count"] == 3
    path = tmp_path / "in.json"
    path.write_text(json.dumps({"sha1": sha1, "fields": ["computerDnsName"]}))
    assert (
        run_cli("run", "get_file_machines", "--input", f"@{path}", env=live.env()).json["count"]
        == 3
    )
    piped = run_cli(
        "run",
        "get_user_machines",
        "--input",
        "-",
        env=live.env(),
        stdin='{"user": "user1@contoso.com"}',
    )
    assert piped.json["count"] == 3


def test_invalid_input_exits_2_before_any_request(live: Emulator) -> None:
    live.clear_log()
    result = run_cli(
        "run",
        "get_file_machines",
        "--input",
        '{"sha1": "d41d8cd98f00b204e9800998ecf8427e"}',
        env=live.env(),
    )
    assert result.code == 2
    assert result.error["type"] == "InputError" and result.error["field"] == "sha1"
    assert "SHA-1" in result.error["message"]
    assert result.stdout == ""
    assert live.calls() == []


def test_invalid_input_is_refused_even_without_configuration() -> None:
    assert run_cli("run", "tag_machines", "--input", '{"machine_ids": ["x"]}').code == 2
    unconfigured = run_cli("run", "get_file_machines", "--input", json.dumps({"sha1": "a" * 40}))
    assert unconfigured.code == 2 and unconfigured.error["field"] == "MDE_TENANT_ID"


def test_not_json_input_exits_2() -> None:
    result = run_cli("run", "list_machines", "--input", "{nope")
    assert result.code == 2 and "not valid JSON" in result.error["message"]


def test_an_api_failure_exits_1_with_the_apis_code_and_target(live: Emulator) -> None:
    result = run_cli(
        "run", "get_machine", "--input", json.dumps({"machine_id": "0" * 40}), env=live.env()
    )
    assert result.code == 1
    assert result.error["type"] == "NotFoundError"
    assert result.error["code"] == "ResourceNotFound" and result.error["status"] == 404
    assert result.error["target"].startswith("|")


def test_the_guard_exits_2(live: Emulator) -> None:
    ids = [f"{i:040x}" for i in range(3)]
    result = run_cli(
        "run",
        "tag_machines",
        "--input",
        json.dumps({"machine_ids": ids, "tag": "t", "action": "Add", "max_machines": 2}),
        env=live.env(),
    )
    assert result.code == 2 and result.error["type"] == "GuardError"


def test_jsonl_streams_one_machine_a_line(live: Emulator) -> None:
    result = run_cli(
        "run",
        "list_machines",
        "--jsonl",
        "--input",
        '{"fields": ["computerDnsName"]}',
        env=live.env(),
    )
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 40 and set(lines[0]) == {"id", "computerDnsName"}


def test_playbook_commands(live: Emulator) -> None:
    shipped = sorted(str(p) for p in (Path(__file__).parent.parent / "playbooks").glob("*.yaml"))
    assert run_cli("playbook", "check", *shipped).code == 0
    sha1 = live.fleet.file_with(2)
    result = run_cli(
        "playbook",
        "run",
        "tag_machines_by_file_hash",
        "--input",
        json.dumps({"sha1": sha1, "tag": "cli"}),
        env=live.env(),
    )
    assert result.code == 0, result.stderr
    assert len(result.json["tagged"]) == 2
    assert "related" in result.stderr and "2 API calls in all" in result.stderr


def verbose_run(action: str, inputs: str, env: dict[str, str]) -> CliResult:
    """`mdepack -v run ACTION --input INPUTS`: logs every API call on stderr."""
    return run_cli("-v", "run", action, "--input", inputs, env=env)


def test_no_secret_or_token_reaches_output_on_any_path(live: Emulator) -> None:
    secret = live.write_app.secret or ""
    token = live.issue_token(live.write_app)
    live.expire_tokens()
    wrong = {**live.env(), "MDE_CLIENT_SECRET": secret[::-1]}
    readonly = {
        **live.env(),
        "MDE_CLIENT_ID": live.readonly_app.client_id,
        "MDE_CLIENT_SECRET": live.readonly_app.secret or "",
    }
    file_input = json.dumps({"sha1": "a" * 40})
    runs = [
        verbose_run("get_file_machines", file_input, live.env()),
        verbose_run("get_file_machines", file_input, wrong),
        verbose_run("get_file_machines", file_input, {**live.env(), "MDE_ACCESS_TOKEN": token}),
        verbose_run("get_machine", json.dumps({"machine_id": "0" * 40}), live.env()),
        verbose_run(
            "tag_machines",
            json.dumps({"machine_ids": ["a" * 40], "tag": "t", "action": "Add"}),
            readonly,
        ),
        verbose_run("get_file_machines", "{bad", live.env()),
    ]
    assert [r.code for r in runs] == [0, 1, 1, 1, 1, 2]
    assert runs[2].error["type"] == "AuthError" and runs[4].error["type"] == "PermissionDeniedError"
    assert "api_call method=GET" in runs[0].stderr
    for result in runs:
        for text in (result.stdout, result.stderr):
            assert secret not in text and secret[::-1] not in text
            assert token not in text and "eyJ" not in text
            assert (live.readonly_app.secret or "-") not in text


def test_a_listing_shows_progress_when_stderr_is_a_terminal(live: Emulator) -> None:
    process, shown = run_cli_on_terminal("run", "list_machines", "--input", "{}", env=live.env())
    assert process.code == 0
    assert "\r40 machines, 1 API calls" in shown
    assert json.loads(process.stdout)["count"] == 40


def test_output_is_compact_on_a_pipe_and_indented_on_request(live: Emulator) -> None:
    request = json.dumps({"sha1": live.fleet.file_with(2)})
    piped = run_cli("run", "get_file_machines", "--input", request, env=live.env())
    assert piped.code == 0 and piped.stdout.count("\n") == 1  # one line: engines and pipes
    pretty = run_cli("run", "get_file_machines", "--pretty", "--input", request, env=live.env())
    assert pretty.stdout.startswith('{\n  "machines"') and pretty.json == piped.json
    compact = run_cli("describe", "get_machine", "--compact")
    assert compact.stdout.count("\n") == 1


def test_run_help_points_large_inputs_at_stdin_or_a_file() -> None:
    helped = run_cli("run", "--help")
    assert "Argument list too long" in helped.stdout and "@FILE" in helped.stdout


def test_a_file_name_given_without_at_gets_a_hint(tmp_path: Path) -> None:
    named = tmp_path / "ids.json"
    named.write_text("{}")
    result = run_cli("run", "get_machine", "--input", str(named))
    assert result.code == 2
    assert result.error["message"].endswith(f"; to read the file, write @{named}")


def test_run_help_shortens_descriptions_at_a_word() -> None:
    helped = run_cli("run", "--help").stdout
    lines = [line for line in helped.splitlines() if line.startswith("  tag_machines ")]
    assert lines and lines[0].endswith(" ...")


def test_a_dry_run_step_is_reported_as_a_dry_run(live: Emulator) -> None:
    request = json.dumps({"sha1": live.fleet.file_with(2), "comment": "c"})
    ran = run_cli(
        "playbook", "run", "isolate_machines_by_file_hash", "--input", request, env=live.env()
    )
    assert ran.code == 0, ran.stderr
    isolate = next(line for line in ran.stderr.splitlines() if line.strip().startswith("isolate "))
    assert "dry run" in isolate


def test_a_busy_port_is_said_with_a_way_out(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli(
            "emulator", "--port", str(port), "--machines", "3", "--state-dir", "/tmp/mdepack-busy"
        )
    assert result.code == 2 and result.error["field"] == "port"
    assert "--port 0" in result.error["message"]
    assert "default 8443" in run_cli("emulator", "--help").stdout
