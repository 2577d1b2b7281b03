"""Containment end to end: the response actions through the CLI (exit statuses, refusals before
any write), the two containment playbooks (dry run by default), and the triggers, which expose
the new actions with no code of their own."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import make_client, run_cli

from mdepack.clock import ManualClock
from mdepack.emulator import Emulator
from mdepack.emulator.routes.files import sha256_of
from mdepack.playbook.runner import run_file
from mdepack.triggers import aws_lambda

pytestmark = pytest.mark.slow
COMMENT = "IR-4711: contain"


@pytest.fixture(scope="module")
def live() -> Iterator[Emulator]:
    # Real time: the CLI runs in another process. Actions end at once, so waits are short.
    with Emulator(machines=30, action_pending_seconds=0, action_run_seconds=0.5) as emulator:
        yield emulator


def run_action(live: Emulator, action: str, inputs: dict[str, Any]) -> Any:
    return run_cli("run", action, "--input", json.dumps(inputs), env=live.env())


def writes(live: Emulator) -> list[Any]:
    return [c for c in live.calls(method="POST")]


def test_isolate_through_the_cli_waits_and_exits_0(live: Emulator) -> None:
    machine = live.fleet.machines[0]["id"]
    result = run_action(
        live, "isolate_machines", {"machine_ids": [machine], "comment": COMMENT, "wait_seconds": 30}
    )
    assert result.code == 0, result.stderr
    (report,) = result.json["machines"]
    assert report["status"] == "Succeeded" and result.json["complete"] is True


def test_actions_that_end_failed_exit_3_with_the_output(live: Emulator) -> None:
    machine = live.fleet.machines[1]["id"]
    live.action_outcomes[machine] = "Failed"
    result = run_action(
        live,
        "run_antivirus_scan",
        {"machine_ids": [machine], "comment": COMMENT, "wait_seconds": 30},
    )
    assert result.code == 3
    assert (
        result.json["summary"]["failed"] == 1 and result.json["machines"][0]["status"] == "Failed"
    )


@pytest.mark.parametrize(
    ("action", "inputs", "field"),
    [
        ("isolate_machines", {"comment": ""}, "comment"),
        ("isolate_machines", {"isolation_type": "Everything"}, "isolation_type"),
        ("run_antivirus_scan", {"scan_type": "Deep"}, "scan_type"),
        ("stop_and_quarantine_file", {"sha1": "d41d8cd98f00b204e9800998ecf8427e"}, "sha1"),
        ("collect_investigation_package", {"machine_ids": []}, "machine_ids"),
        ("get_machine_action", {"action_id": "12345"}, "action_id"),
        ("cancel_machine_action", {"action_id": "5382f7ea-7557-4ab7-9782-d50480024a4e"}, "comment"),
        ("find_machines_by_ip", {"ip": "300.1.1.1"}, "ip"),
        ("get_file", {"hash": "d41d8cd98f00b204e9800998ecf8427e"}, "hash"),
        ("list_machine_actions", {"status": "Done"}, "status"),
    ],
)
def test_each_refusal_exits_2_before_any_call(
    live: Emulator, action: str, inputs: dict[str, Any], field: str
) -> None:
    base = {"machine_ids": [live.fleet.machines[2]["id"]], "comment": COMMENT, "sha1": "a" * 40}
    known = json.loads(run_cli("describe", action).stdout)["input"]["properties"]
    request = {k: v for k, v in base.items() if k in known} | inputs
    if action == "cancel_machine_action":
        request.pop("comment")
    live.clear_log()
    result = run_action(live, action, request)
    assert result.code == 2, result.stdout
    assert result.error["field"] == field, result.error
    assert live.calls() == []


def test_more_than_ten_machines_exits_2(live: Emulator) -> None:
    live.clear_log()
    ids = [m["id"] for m in live.fleet.machines[:11]]
    result = run_action(live, "isolate_machines", {"machine_ids": ids, "comment": COMMENT})
    assert result.code == 2 and result.error["type"] == "GuardError"
    assert live.calls() == []


def test_describe_shows_a_response_action(live: Emulator) -> None:
    described = json.loads(run_cli("describe", "isolate_machines").stdout)
    assert described["side_effects"] == "write" and described["permission"] == "Machine.Isolate"
    assert described["http"] == {"method": "POST", "path": "/api/machines/{machine_id}/isolate"}


# -- playbooks -----------------------------------------------------------------------------


@pytest.fixture
def quick(clock: ManualClock) -> Iterator[Emulator]:
    with Emulator(machines=40, clock=clock) as emulator:
        yield emulator


def test_isolation_by_file_hash_is_a_dry_run_unless_asked(
    quick: Emulator, clock: ManualClock
) -> None:
    sha1 = quick.fleet.file_with(3)
    client = make_client(quick, clock)
    dry = run_file(
        "isolate_machines_by_file_hash", {"sha1": sha1, "comment": COMMENT}, client=client
    )
    assert len(dry.outputs["planned"]) == 3 and dry.outputs["isolation"] == []
    assert [c for c in quick.calls(method="POST")] == []  # no write at all
    real = run_file(
        "isolate_machines_by_file_hash",
        {"sha1": sha1, "comment": COMMENT, "dry_run": False},
        client=client,
    )
    assert [m["outcome"] for m in real.outputs["isolation"]] == ["created"] * 3
    assert [m["outcome"] for m in real.outputs["scans"]] == ["created"] * 3
    words = sorted(c.path.rsplit("/", 1)[1] for c in quick.calls(method="POST"))
    assert words == ["isolate"] * 3 + ["runAntiVirusScan"] * 3


def test_isolation_by_file_hash_refuses_a_file_on_too_many_machines(
    quick: Emulator, clock: ManualClock
) -> None:
    from mdepack.errors import GuardError

    with pytest.raises(GuardError, match="step 'isolate'"):
        run_file(
            "isolate_machines_by_file_hash",
            {"sha1": quick.fleet.file_with(10), "comment": COMMENT, "max_machines": 5},
            client=make_client(quick, clock),
        )
    assert quick.calls(method="POST") == []


def test_tag_and_scan_from_a_sha256(quick: Emulator, clock: ManualClock) -> None:
    sha1 = quick.fleet.file_with(2)
    result = run_file(
        "tag_and_scan_by_sha256",
        {"sha256": sha256_of(sha1), "tag": "ir-4711", "comment": COMMENT, "dry_run": False},
        client=make_client(quick, clock),
    )
    assert result.outputs["sha1"] == sha1 and len(result.outputs["tagged"]) == 2
    assert [m["outcome"] for m in result.outputs["scans"]] == ["created"] * 2
    unknown = run_file(
        "tag_and_scan_by_sha256",
        {"sha256": "e" * 64, "tag": "ir-4711", "comment": COMMENT},
        client=make_client(quick, clock),
    )
    assert unknown.outputs["found"] is False
    assert [s.status for s in unknown.steps] == ["ok", "skipped", "skipped", "skipped"]


# -- triggers ------------------------------------------------------------------------------


def test_the_lambda_handler_runs_a_response_action_as_a_dry_run(
    quick: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in quick.env().items():
        monkeypatch.setenv(key, value)
    ids = [m["id"] for m in quick.fleet.machines[:2]]
    output = aws_lambda.handler(
        {
            "action": "isolate_machines",
            "input": {"machine_ids": ids, "comment": COMMENT, "dry_run": True},
        }
    )
    assert output["planned"] == ids and quick.calls() == []
    answer = aws_lambda.handler(
        {
            "rawPath": "/actions/get_file",
            "requestContext": {"http": {"method": "POST"}},
            "body": json.dumps({"hash": quick.fleet.file_with(1)}),
        }
    )
    assert answer["statusCode"] == 200 and json.loads(answer["body"])["found"] is True
