"""Waits are said, not silent: the client tells why a call waits (the rate budget, or the API's
own word) and for how long, for waits of 2 s or more; the CLI prints it once per wait on stderr,
a terminal or not, unless -q."""

from __future__ import annotations

from conftest import make_client, run_cli_on_terminal

from mdepack.clock import ManualClock
from mdepack.emulator import Emulator
from mdepack.invoke import invoke


def test_a_wait_for_the_rate_budget_is_told(emulator: Emulator, clock: ManualClock) -> None:
    said: list[str] = []
    client = make_client(emulator, clock, MDE_RATE_PER_MINUTE="1")
    client.notice = said.append
    machine = emulator.fleet.machines[0]["id"]
    invoke("get_machine", {"machine_id": machine}, client=client)
    invoke("get_machine", {"machine_id": machine}, client=client)
    assert said == ["waiting 60 s: the API allows 1 calls a minute per app and tenant"]


def test_a_wait_the_api_asked_for_is_told(emulator: Emulator, clock: ManualClock) -> None:
    said: list[str] = []
    client = make_client(emulator, clock)
    client.notice = said.append
    emulator.add_fault(path="/api/machines/", status=429, retry_after="8")
    invoke("get_machine", {"machine_id": emulator.fleet.machines[0]["id"]}, client=client)
    assert said == ["waiting 8 s before trying again (RateLimitError 429)"]


def test_the_cli_says_it_on_a_terminal(emulator: Emulator) -> None:
    emulator.add_fault(path="/api/machines/", status=429, retry_after="2")
    request = f'{{"machine_id": "{emulator.fleet.machines[0]["id"]}"}}'
    process, said = run_cli_on_terminal(
        "run", "get_machine", "--input", request, env=emulator.env()
    )
    assert process.code == 0
    assert "waiting" in said and "waiting 2 s before trying again (RateLimitError 429)" in said


def test_a_wait_is_told_on_stderr_when_it_is_captured_and_q_silences_it(
    emulator: Emulator,
) -> None:
    from conftest import run_cli

    request = f'{{"machine_id": "{emulator.fleet.machines[0]["id"]}"}}'
    emulator.add_fault(path="/api/machines/", status=429, retry_after="2")
    told = run_cli("run", "get_machine", "-v", "--input", request, env=emulator.env())
    assert told.code == 0, told.stderr
    assert "waiting 2 s before trying again (RateLimitError 429)\n" in told.stderr
    assert "api_call method=GET" in told.stderr  # -v after the command is taken too
    emulator.add_fault(path="/api/machines/", status=429, retry_after="2")
    silent = run_cli("run", "get_machine", "-q", "--input", request, env=emulator.env())
    assert silent.code == 0 and silent.stderr == ""
    both = run_cli("run", "get_machine", "-q", "-v", "--input", request, env=emulator.env())
    assert both.code == 2 and "not allowed with" in both.stderr


def test_a_wait_shorter_than_two_seconds_passes_unremarked(
    emulator: Emulator, clock: ManualClock
) -> None:
    said: list[str] = []
    client = make_client(emulator, clock)
    client.notice = said.append
    emulator.add_fault(path="/api/machines/", status=429, retry_after="1")
    invoke("get_machine", {"machine_id": emulator.fleet.machines[0]["id"]}, client=client)
    assert said == []


def test_waiting_for_actions_is_told(emulator: Emulator, clock: ManualClock) -> None:
    said: list[str] = []
    client = make_client(emulator, clock)
    client.notice = said.append
    ids = [m["id"] for m in emulator.fleet.machines[:2]]
    inputs = {"machine_ids": ids, "comment": "c", "wait_seconds": 30}
    invoke("run_antivirus_scan", inputs, client=client)
    assert said[0] == "waiting up to 30 s for 2 actions to finish"
