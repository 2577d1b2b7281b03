"""What a response action reports is what happened: an action is the same only when its type and
its option are (scan type, isolation type, quarantined file); an isolation in force is not sent
again; a request the API refuses as "already in progress" is `blocked`, not done; and a failure
after the first action was created never loses its id. Through the CLI against the emulator."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import CliResult, run_cli

from mdepack.api import ActionApi
from mdepack.client import ApiClient
from mdepack.clock import ManualClock
from mdepack.emulator import Emulator
from mdepack.errors import PermissionDeniedError
from mdepack.manifest import Action
from mdepack.triggers import aws_lambda

pytestmark = pytest.mark.slow
COMMENT = "IR-4711: contain"
SHA1_A = "a" * 40
SHA1_B = "b" * 40
ALREADY = {
    "error": {
        "code": "ActiveRequestAlreadyExists",
        "message": "Action is already in progress",
        "target": "|5e1a6f2c-0a1b2c3d4e5f6a7b.1.",
    }
}


@pytest.fixture
def slow() -> Iterator[Emulator]:
    # Real time (the CLI is another process); actions stay Pending for the whole test.
    with Emulator(machines=10, action_pending_seconds=600) as emulator:
        yield emulator


@pytest.fixture
def strict() -> Iterator[Emulator]:
    # A tenant that refuses any second action of a type while one is under way.
    with Emulator(machines=10, action_pending_seconds=600, action_identity="type") as emulator:
        yield emulator


@pytest.fixture
def quick() -> Iterator[Emulator]:
    # Actions succeed at once.
    with Emulator(machines=10, action_pending_seconds=0, action_run_seconds=0) as emulator:
        yield emulator


def run(emulator: Emulator, action: str, *flags: str, **inputs: Any) -> CliResult:
    return run_cli("run", action, *flags, "--input", json.dumps(inputs), env=emulator.env())


def machine(emulator: Emulator, index: int = 0) -> str:
    return str(emulator.fleet.machines[index]["id"])


def posts(emulator: Emulator, word: str) -> list[Any]:
    return [c for c in emulator.calls("/api/machines/", "POST") if c.path.endswith("/" + word)]


# -- 1. identity is type and option --------------------------------------------------------


def test_a_pending_quarantine_of_another_file_does_not_stand_in(slow: Emulator) -> None:
    ids = [machine(slow)]
    first = run(slow, "stop_and_quarantine_file", machine_ids=ids, sha1=SHA1_A, comment=COMMENT)
    second = run(slow, "stop_and_quarantine_file", machine_ids=ids, sha1=SHA1_B, comment=COMMENT)
    assert first.code == second.code == 0, second.stderr
    (report,) = second.json["machines"]
    assert report["outcome"] == "created"
    assert report["action_id"] != first.json["machines"][0]["action_id"]
    assert [c.body["Sha1"] for c in posts(slow, "StopAndQuarantineFile")] == [SHA1_A, SHA1_B]


def test_a_pending_quick_scan_does_not_stand_in_for_a_full_one(slow: Emulator) -> None:
    ids = [machine(slow)]
    run(slow, "run_antivirus_scan", machine_ids=ids, comment=COMMENT, scan_type="Quick")
    full = run(slow, "run_antivirus_scan", machine_ids=ids, comment=COMMENT, scan_type="Full")
    assert full.json["machines"][0]["outcome"] == "created"
    again = run(slow, "run_antivirus_scan", machine_ids=ids, comment=COMMENT, scan_type="Full")
    assert again.json["machines"][0]["outcome"] == "already_pending"
    assert again.json["machines"][0]["action_id"] == full.json["machines"][0]["action_id"]


def test_an_action_the_api_refuses_as_in_progress_is_blocked_and_exits_3(strict: Emulator) -> None:
    ids = [machine(strict)]
    selective = run(
        strict, "isolate_machines", machine_ids=ids, comment=COMMENT, isolation_type="Selective"
    )
    full = run(strict, "isolate_machines", machine_ids=ids, comment=COMMENT, isolation_type="Full")
    assert full.code == 3, full.stderr
    (report,) = full.json["machines"]
    assert report["outcome"] == "blocked" and report["action_id"] is None
    assert report["blocked_by"] == {
        "action_id": selective.json["machines"][0]["action_id"],
        "type": "Isolate",
        "option": "selective",
        "status": "Pending",
    }
    assert full.json["summary"]["blocked"] == 1 and full.json["summary"]["not_done"] == 1
    assert full.json["summary"]["created"] == 0


# -- 2. a created action is never lost -----------------------------------------------------


@pytest.mark.parametrize(
    ("status", "kind"), [(403, "PermissionDeniedError"), (503, "TransientError")]
)
def test_tracking_failing_while_waiting_keeps_every_created_action(
    slow: Emulator, status: int, kind: str
) -> None:
    ids = [machine(slow, 0), machine(slow, 1)]
    # The first listing (the duplicate check) passes; every later one (the polls) fails.
    slow.add_fault(path="^/api/machineactions$", method="GET", status=status, after=1, times=None)
    result = run(
        slow, "isolate_machines", "--no-retries", machine_ids=ids, comment=COMMENT, wait_seconds=30
    )
    assert result.code == 1
    error = result.error
    assert error["type"] == kind and error["complete"] is False
    created = [m for m in error["machines"] if m["outcome"] == "created"]
    assert [m["machine_id"] for m in created] == ids
    assert all(m["action_id"] and m["action_id"] in error["message"] for m in created)
    assert len(posts(slow, "isolate")) == 2


def test_a_rate_limit_part_way_names_the_actions_already_created(slow: Emulator) -> None:
    ids = [machine(slow, 0), machine(slow, 1), machine(slow, 2)]
    slow.add_fault(path="/isolate$", method="POST", status=429, after=1, times=None)
    result = run(slow, "isolate_machines", "--no-retries", machine_ids=ids, comment=COMMENT)
    assert result.code == 1 and result.error["type"] == "RateLimitError"
    first = result.error["machines"][0]
    assert first["outcome"] == "created" and first["action_id"] in result.error["message"]
    assert [m["outcome"] for m in result.error["machines"][1:]] == ["not_sent", "not_sent"]


def test_the_lookup_after_a_400_failing_is_reported_not_raised(strict: Emulator) -> None:
    ids = [machine(strict)]
    run(strict, "isolate_machines", machine_ids=ids, comment=COMMENT, isolation_type="Selective")
    strict.add_fault(path="^/api/machineactions$", method="GET", status=500, after=1, times=None)
    result = run(strict, "isolate_machines", "--no-retries", machine_ids=ids, comment=COMMENT)
    assert result.code == 3, result.stderr
    (report,) = result.json["machines"]
    assert report["outcome"] == "blocked"
    assert "could not be looked up" in report["reason"]


class LambdaContext:
    """What Lambda passes a handler: here only the remaining time, as the runtime tells it."""

    def __init__(self, seconds: float) -> None:
        self.ends = time.monotonic() + seconds

    def get_remaining_time_in_millis(self) -> int:
        return int((self.ends - time.monotonic()) * 1000)


def lambda_env(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in emulator.env().items():
        monkeypatch.setenv(key, value)


def test_lambda_caps_a_wait_at_the_functions_remaining_time(
    slow: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    lambda_env(slow, monkeypatch)
    began = time.monotonic()
    output = aws_lambda.handler(
        {
            "action": "isolate_machines",
            "input": {"machine_ids": [machine(slow)], "comment": COMMENT, "wait_seconds": 600},
        },
        LambdaContext(aws_lambda.WAIT_MARGIN_SECONDS + 1.5),
    )
    assert time.monotonic() - began < aws_lambda.WAIT_MARGIN_SECONDS
    assert output["complete"] is False
    assert output["machines"][0]["outcome"] == "created" and output["machines"][0]["action_id"]


def test_lambda_errors_carry_the_action_ids_in_their_message(
    slow: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    lambda_env(slow, monkeypatch)
    monkeypatch.setenv("MDE_RETRIES", "1")
    slow.add_fault(path="^/api/machineactions$", method="GET", status=403, after=1, times=None)
    with pytest.raises(PermissionDeniedError) as caught:
        aws_lambda.handler(
            {
                "action": "isolate_machines",
                "input": {"machine_ids": [machine(slow)], "comment": COMMENT, "wait_seconds": 5},
            },
            LambdaContext(60),
        )
    action_id = caught.value.details["machines"][0]["action_id"]
    assert action_id and action_id in str(caught.value)


# -- 3. an isolation in force is not repeated ----------------------------------------------


def test_an_isolated_machine_is_not_isolated_again_until_released(quick: Emulator) -> None:
    ids = [machine(quick)]
    first = run(quick, "isolate_machines", machine_ids=ids, comment=COMMENT, wait_seconds=10)
    assert first.json["machines"][0]["status"] == "Succeeded"
    again = run(quick, "isolate_machines", machine_ids=ids, comment=COMMENT)
    assert again.code == 0, again.stderr
    (report,) = again.json["machines"]
    assert report["outcome"] == "already_done" and report["status"] == "Succeeded"
    assert report["action_id"] == first.json["machines"][0]["action_id"]
    assert len(posts(quick, "isolate")) == 1
    run(quick, "unisolate_machines", machine_ids=ids, comment=COMMENT, wait_seconds=10)
    after = run(quick, "isolate_machines", machine_ids=ids, comment=COMMENT)
    assert after.json["machines"][0]["outcome"] == "created"
    assert len(posts(quick, "isolate")) == 2


def test_a_restricted_machine_is_not_restricted_again(quick: Emulator) -> None:
    ids = [machine(quick, 1)]
    run(quick, "restrict_code_execution", machine_ids=ids, comment=COMMENT, wait_seconds=10)
    again = run(quick, "restrict_code_execution", machine_ids=ids, comment=COMMENT)
    assert again.json["machines"][0]["outcome"] == "already_done"
    assert len(posts(quick, "restrictCodeExecution")) == 1


# -- 4. and 5. what the API answers a duplicate with ---------------------------------------


def test_a_201_carrying_an_action_already_seen_is_already_pending(slow: Emulator) -> None:
    ids = [machine(slow)]
    selective = run(
        slow, "isolate_machines", machine_ids=ids, comment=COMMENT, isolation_type="Selective"
    )
    existing = slow.actions.view(
        slow, slow.actions.actions[selective.json["machines"][0]["action_id"]]
    )
    slow.add_fault(path="/isolate$", method="POST", status=201, reply=json.dumps(existing).encode())
    full = run(slow, "isolate_machines", machine_ids=ids, comment=COMMENT, isolation_type="Full")
    (report,) = full.json["machines"]
    assert report["outcome"] == "already_pending"
    assert report["action_id"] == existing["id"]
    assert len(posts(slow, "isolate")) == 2  # the request was sent; its answer named the old one


def test_already_in_progress_with_nothing_found_is_not_done(slow: Emulator) -> None:
    slow.add_fault(path="/isolate$", method="POST", status=400, body=ALREADY)
    result = run(slow, "isolate_machines", machine_ids=[machine(slow)], comment=COMMENT)
    assert result.code == 3
    (report,) = result.json["machines"]
    assert report["outcome"] == "blocked" and report["action_id"] is None
    assert report["reason"] == "Action is already in progress (HTTP 400)"
    assert "blocked_by" not in report


# -- 15. an endpoint's own budget on every call shape --------------------------------------


@pytest.mark.parametrize("shape", ["get", "collection", "pages", "post"])
def test_an_endpoints_own_rate_paces_every_call_shape(
    emulator: Emulator, client: ApiClient, clock: ManualClock, shape: str
) -> None:
    tagging = shape == "post"
    action = Action(
        name=f"paced_{shape}",
        description="",
        entrypoint="",
        input="",
        output="",
        method="POST" if tagging else "GET",
        path="/api/machines/AddOrRemoveTagForMultipleMachines"
        if tagging
        else f"/api/machines/{machine(emulator)}"
        if shape == "get"
        else "/api/machines",
        permission="",
        side_effects="write" if tagging else "read",
        example={},
        rate=(1, 60),
    )
    api = ActionApi(client, action)
    body = {"Value": "x", "Action": "Add", "MachineIds": [machine(emulator)]}
    calls = {
        "get": lambda: api.get(),
        "collection": lambda: api.collection(),
        "pages": lambda: list(api.pages(max_results=1)),
        "post": lambda: api.post(body),
    }
    began = clock.monotonic()
    calls[shape]()
    calls[shape]()
    assert clock.monotonic() - began >= 59  # the second call waited for the endpoint's minute
