"""Waits are said, not silent: the client tells why a call waits (the rate budget, or the API's
own word) and for how long; on a terminal the CLI prints it once per wait on stderr."""

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
    emulator.add_fault(path="/api/machines/", status=429, retry_after="1")
    request = f'{{"machine_id": "{emulator.fleet.machines[0]["id"]}"}}'
    process, said = run_cli_on_terminal(
        "run", "get_machine", "--input", request, env=emulator.env()
    )
    assert process.code == 0
    assert "waiting" in said and "waiting 1 s before trying again (RateLimitError 429)" in said
