"""Live response through the CLI against the emulator: the library (list, upload with its 20 MB
cap), sessions (refusals before any write, a dry run, a run brought back with its transcript and
file link, a failed command, a busy machine), links (fetched with no bearer token, expired and
asked again) and the redaction of those links, and the endpoint's 10 calls a minute."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import CliResult, make_client, run_cli

from mdepack import downloads
from mdepack.client import ApiClient
from mdepack.clock import ManualClock
from mdepack.config import Config
from mdepack.emulator import Emulator
from mdepack.errors import ApiError, InputError
from mdepack.invoke import invoke

pytestmark = pytest.mark.slow
RUN = "/runliveresponse"
SCRIPT = {"type": "RunScript", "script_name": "collect_triage.ps1", "args": "-Days 7"}
GET = {"type": "GetFile", "path": "C:\\Windows\\Temp\\triage.zip"}
SIG = re.compile(r"sig=([^&\s\"]+)")


@pytest.fixture
def live() -> Iterator[Emulator]:
    # Short sessions on the real clock: the CLI runs in processes of its own.
    with Emulator(machines=6, action_pending_seconds=0.2, live_response_command_seconds=0.2) as emu:
        yield emu


def run(
    live: Emulator, name: str, /, *flags: str, env: dict[str, str] | None = None, **inputs: Any
) -> CliResult:
    return run_cli(
        "run",
        name,
        *flags,
        "--input",
        "-",
        env={**live.env(), **(env or {})},
        stdin=json.dumps(inputs),
    )


def machine(live: Emulator, index: int = 0) -> str:
    return str(live.fleet.machines[index]["id"])


def session(live: Emulator, *commands: dict[str, Any], **inputs: Any) -> CliResult:
    given = {
        "machine_ids": [machine(live)],
        "comment": "IR-4711: triage",
        "commands": list(commands),
    }
    return run(live, "run_live_response", **{**given, **inputs})


def writes(live: Emulator) -> list[Any]:
    return [c for c in live.calls() if c.method in ("POST", "DELETE")]


# -- the library --------------------------------------------------------------------------


def test_the_library_is_listed(live: Emulator) -> None:
    listed = run(live, "list_library_files")
    assert listed.code == 0, listed.stderr
    names = {f["fileName"] for f in listed.json["files"]}
    assert {"collect_triage.ps1", "remove_persistence.ps1"} <= names
    triage = next(f for f in listed.json["files"] if f["fileName"] == "collect_triage.ps1")
    assert triage["hasParameters"] is True and len(triage["sha256"]) == 64


def test_a_file_is_uploaded_from_the_cli_as_multipart(live: Emulator, tmp_path: Path) -> None:
    script = tmp_path / "sweep.ps1"
    script.write_bytes(b"Get-Process | Out-File C:\\Temp\\p.txt\r\n")
    done = run(live, "upload_library_file", "--file", str(script), description="Process sweep")
    assert done.code == 0, done.stderr
    assert done.json["uploaded"] is True and done.json["size"] == len(script.read_bytes())
    stored = live.live_response.library["sweep.ps1"]
    assert stored.content == script.read_bytes() and stored.description == "Process sweep"
    again = run(live, "upload_library_file", "--file", str(script), description="Process sweep")
    assert again.code == 1 and again.error["code"] == "FileAlreadyExists"
    replaced = run(
        live, "upload_library_file", "--file", str(script), description="v2", override=True
    )
    assert replaced.code == 0 and live.live_response.library["sweep.ps1"].description == "v2"


def test_more_than_20_mb_is_refused_before_any_call(live: Emulator, tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(b"\0" * (20 * 1024 * 1024 + 1))
    live.clear_log()
    refused = run(live, "upload_library_file", "--file", str(big), description="too big")
    assert refused.code == 2
    assert refused.error["field"] == "content_base64" and "20 MB" in refused.error["message"]
    assert live.calls() == []


def test_file_is_only_for_actions_that_upload(live: Emulator, tmp_path: Path) -> None:
    (tmp_path / "x").write_text("x")
    refused = run(live, "list_library_files", "--file", str(tmp_path / "x"))
    assert refused.code == 2 and refused.error["field"] == "--file"


def test_an_upload_dry_run_sends_nothing(live: Emulator) -> None:
    live.clear_log()
    content = base64.b64encode(b"echo hi").decode()
    done = run(
        live,
        "upload_library_file",
        file_name="hi.ps1",
        content_base64=content,
        description="d",
        dry_run=True,
    )
    assert done.json["uploaded"] is False and done.json["size"] == 7
    assert live.calls() == []


# -- sessions -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("commands", "field", "words"),
    [
        ([], "commands", "non-empty list"),
        ([GET, SCRIPT], "commands[1]", "PutFile, then RunScript, then GetFile"),
        ([{"type": "RunScript", "path": "C:\\x"}], "commands[0].path", "takes args, script_name"),
        ([{"type": "GetFile"}], "commands[0].path", "needs path"),
        ([{"type": "Shell", "path": "x"}], "commands[0].type", "PutFile"),
    ],
)
def test_bad_commands_are_refused_before_any_call(
    live: Emulator, commands: list[Any], field: str, words: str
) -> None:
    live.clear_log()
    given = {"machine_ids": [machine(live)], "comment": "c", "commands": commands}
    with pytest.raises(InputError) as caught:
        invoke("run_live_response", given, client=ApiClient(Config.from_env(live.env())))
    error = caught.value.to_dict()["error"]
    assert error["field"] == field
    assert words in error["message"]
    assert live.calls() == []


def test_a_script_not_in_the_library_is_refused_before_any_write(live: Emulator) -> None:
    live.clear_log()
    refused = session(live, {"type": "RunScript", "script_name": "mimikatz.ps1"})
    assert refused.code == 2
    assert refused.error["field"] == "commands[0].script_name"
    assert "collect_triage.ps1" in refused.error["message"]  # what the library holds
    assert [(c.method, c.path) for c in live.calls()] == [("GET", "/api/libraryfiles")]


def test_more_machines_than_one_is_refused_by_default(live: Emulator) -> None:
    live.clear_log()
    refused = session(live, SCRIPT, machine_ids=[machine(live, 0), machine(live, 1)])
    assert refused.code == 2 and refused.error["type"] == "GuardError"
    assert live.calls() == []  # the guard comes before the library is read


def test_a_dry_run_reads_the_library_and_sends_nothing(live: Emulator) -> None:
    live.clear_log()
    planned = session(live, SCRIPT, GET, dry_run=True)
    assert planned.code == 0, planned.stderr
    assert planned.json["planned"] == [machine(live)]
    assert writes(live) == []


def test_a_session_brings_back_the_transcript_and_the_file_link(live: Emulator) -> None:
    live.clear_log()
    done = session(
        live, {"type": "PutFile", "file_name": "procdump64.exe"}, SCRIPT, GET, wait_seconds=60
    )
    assert done.code == 0, done.stderr
    [report] = done.json["machines"]
    assert (report["outcome"], report["status"]) == ("created", "Succeeded")
    put, script, got = report["commands"]
    assert (put["type"], put["status"], put["file_name"]) == (
        "PutFile",
        "Completed",
        "procdump64.exe",
    )
    assert script["exit_code"] == 0
    assert script["script_output"].startswith("collect_triage.ps1 ran on")
    assert script["script_errors"] == ""
    assert got["download_url"].startswith(live.url + "/liveresponse/")
    assert got["expires_at"].endswith("Z")
    [sent] = live.calls(f"/api/machines/{machine(live)}{RUN}")
    assert sent.body == {
        "Commands": [
            {"type": "PutFile", "params": [{"key": "FileName", "value": "procdump64.exe"}]},
            {
                "type": "RunScript",
                "params": [
                    {"key": "ScriptName", "value": "collect_triage.ps1"},
                    {"key": "Args", "value": "-Days 7"},
                ],
            },
            {"type": "GetFile", "params": [{"key": "Path", "value": GET["path"]}]},
        ],
        "Comment": "IR-4711: triage",
    }
    downloads_asked = live.live_response.downloads
    assert downloads_asked and not any(d["authorization"] for d in downloads_asked)  # no bearer


def test_a_failed_command_skips_the_rest_and_fetches_nothing(live: Emulator) -> None:
    live.live_response_failures[machine(live)] = 0
    done = session(live, SCRIPT, GET, wait_seconds=60)
    assert done.code == 3, done.stderr  # a session that failed is not done
    [report] = done.json["machines"]
    assert report["status"] == "Failed"
    first, second = report["commands"]
    assert first["status"] == "Failed" and first["errors"]
    assert second["status"] == "Created"  # skipped
    assert "exit_code" not in first and "download_url" not in second
    assert done.json["summary"]["failed"] == 1
    assert live.live_response.downloads == []


def test_a_busy_machine_is_blocked_with_the_sessions_id_and_nothing_is_sent(live: Emulator) -> None:
    live.live_response_command_seconds = 60  # the first session is still running
    first = session(live, SCRIPT)
    assert first.code == 0, first.stderr
    running = first.json["machines"][0]["action_id"]
    live.clear_log()
    second = session(live, SCRIPT)
    assert second.code == 3  # not done
    [report] = second.json["machines"]
    assert report["outcome"] == "blocked"
    assert report["blocked_by"]["action_id"] == running
    assert report["action_id"] is None
    assert live.calls(RUN) == [] and not [c for c in live.calls() if c.path.endswith(RUN)]


def test_a_session_refused_by_the_api_as_busy_is_blocked_too(live: Emulator) -> None:
    # An app that cannot read machine actions learns of the session from the API's 400.
    live.live_response_command_seconds = 60
    assert session(live, SCRIPT).code == 0
    app = live.add_app(["Machine.LiveResponse", "Library.Manage"])
    env = {"MDE_CLIENT_ID": app.client_id, "MDE_CLIENT_SECRET": str(app.secret)}
    second = session(live, SCRIPT, env=env)
    [report] = second.json["machines"]
    assert report["outcome"] == "blocked" and "already in progress" in report["reason"].lower()


# -- links --------------------------------------------------------------------------------


@pytest.fixture
def manual(clock: ManualClock) -> Iterator[Emulator]:
    with Emulator(machines=3, clock=clock) as emu:
        yield emu


def finished(manual: Emulator, client: ApiClient) -> str:
    """The id of a session of one RunScript that ran to its end (the clock moves on waits)."""
    done = invoke(
        "run_live_response",
        {
            "machine_ids": [machine(manual)],
            "comment": "c",
            "commands": [SCRIPT],
            "wait_seconds": 120,
        },
        client=client,
    )
    return str(done["machines"][0]["action_id"])


def test_an_expired_link_is_refused_and_a_new_one_works(
    manual: Emulator, clock: ManualClock
) -> None:
    client = make_client(manual, clock)
    action_id = finished(manual, client)
    first = invoke("get_live_response_result", {"action_id": action_id, "index": 0}, client=client)
    link = first["command"]["download_url"]
    clock.advance(31 * 60)
    with pytest.raises(ApiError) as expired:
        downloads.fetch(link, client.config, client.session)
    assert expired.value.code == "LinkExpired" and "ask for a new one" in expired.value.message
    assert SIG.search(link).group(1) not in str(expired.value.to_dict())  # type: ignore[union-attr]
    again = invoke("get_live_response_result", {"action_id": action_id, "index": 0}, client=client)
    assert again["command"]["download_url"] != link
    assert again["command"]["exit_code"] == 0


def test_a_result_index_out_of_range_is_refused(manual: Emulator, clock: ManualClock) -> None:
    client = make_client(manual, clock)
    action_id = finished(manual, client)
    with pytest.raises(InputError, match="index: must be the index of one of the session's 1"):
        invoke("get_live_response_result", {"action_id": action_id, "index": 3}, client=client)


def test_a_link_that_is_not_https_is_not_fetched(manual: Emulator, clock: ManualClock) -> None:
    client = make_client(manual, clock)
    with pytest.raises(ApiError, match="not https"):
        downloads.fetch("http://blob.example.net/x?sig=secret", client.config, client.session)


def test_a_transcript_that_is_not_json_or_too_large_is_reported_not_crashed(live: Emulator) -> None:
    live.live_response_transcripts["collect_triage.ps1"] = b"<html>not json</html>"
    odd = session(live, SCRIPT, wait_seconds=60)
    assert odd.code == 0, odd.stderr
    assert "not JSON" in odd.json["machines"][0]["commands"][0]["transcript_error"]
    live.live_response_transcripts["collect_triage.ps1"] = b"{" + b" " * (2 * 1024 * 1024) + b"}"
    big = session(
        live,
        SCRIPT,
        wait_seconds=60,
        machine_ids=[machine(live, 1)],
        env={"MDE_MAX_RESPONSE_MB": "1"},
    )
    assert big.code == 0, big.stderr
    assert "larger than 1 MiB" in big.json["machines"][0]["commands"][0]["transcript_error"]


def test_links_never_reach_logs_or_errors_even_at_debug(live: Emulator) -> None:
    debug = {"MDE_LOG_LEVEL": "DEBUG"}
    done = session(live, SCRIPT, GET, wait_seconds=60, env=debug)
    assert done.code == 0, done.stderr
    report = done.json["machines"][0]
    link = report["commands"][1]["download_url"]
    action_id = report["action_id"]
    fetched = run(live, "get_live_response_result", env=debug, action_id=action_id, index=0)
    assert fetched.code == 0
    new_link = fetched.json["command"]["download_url"]
    # urllib3 logged each download's URL at DEBUG, its signature masked.
    assert "/liveresponse/" in done.stderr and "sig=***" in done.stderr
    for text in (done.stderr, fetched.stderr):
        for secret in (link, new_link):
            assert SIG.search(secret).group(1) not in text  # type: ignore[union-attr]
    # A result link that fails to download is reported without its signature.
    live.add_fault(path="/liveresponse/", status=500, times=None)
    failed = run(live, "get_live_response_result", env=debug, action_id=action_id, index=0)
    assert failed.code == 0
    reason = failed.json["command"]["transcript_error"]
    assert "HTTP 500" in reason
    shown = failed.json["command"]["download_url"]
    assert SIG.search(shown).group(1) not in reason + failed.stderr  # type: ignore[union-attr]


# -- the endpoint's budget ----------------------------------------------------------------


def test_sessions_are_paced_at_10_a_minute_without_a_429(
    manual: Emulator, clock: ManualClock
) -> None:
    ids = [m["id"] for m in manual.fleet.machines[:3]]
    client = make_client(manual, clock)
    for _ in range(4):  # 12 sessions on 3 machines, each over before the next round
        done = invoke(
            "run_live_response",
            {
                "machine_ids": ids,
                "comment": "c",
                "commands": [SCRIPT],
                "max_machines": 3,
                "wait_seconds": 600,
            },
            client=client,
        )
        assert done["summary"]["created"] == 3
    sent = [c for c in manual.calls() if c.path.endswith(RUN)]
    assert len(sent) == 12 and all(c.status == 201 for c in sent)
    assert sent[10].at - sent[0].at >= 60  # the 11th waited for the window
