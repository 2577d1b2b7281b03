"""Machines by computer DNS name wherever a machine id is taken: tag_machines, the response
actions and list_machine_actions resolve names before any write, in one listing call for many
names, report what each resolved to, and refuse a name that is no machine's or several machines'
(naming the candidates) before anything changes; the guard counts machines, not spellings."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import CliResult, run_cli

from mdepack.emulator import Emulator
from mdepack.emulator.fleet import generate

pytestmark = pytest.mark.slow
TAG_PATH = "/api/machines/AddOrRemoveTagForMultipleMachines"


@pytest.fixture(scope="module")
def live() -> Iterator[Emulator]:
    fleet = generate(12, seed=4)
    # A re-imaged machine: a second record with the first one's name.
    fleet.machines[11]["computerDnsName"] = fleet.machines[10]["computerDnsName"]
    with Emulator(data=fleet) as emulator:
        yield emulator


def run(live: Emulator, name: str, /, **inputs: Any) -> CliResult:
    return run_cli("run", name, "--input", "-", env=live.env(), stdin=json.dumps(inputs))


def machine(live: Emulator, index: int) -> tuple[str, str]:
    record = live.fleet.machines[index]
    return record["id"], record["computerDnsName"]


def test_tagging_by_name_resolves_in_one_call_and_reports_each_name(live: Emulator) -> None:
    (id0, name0), (id1, name1), (id2, _) = (machine(live, i) for i in range(3))
    live.clear_log()
    result = run(
        live, "tag_machines", machine_ids=[name0, name1.upper(), id2], tag="byname", action="Add"
    )
    assert result.code == 0, result.stderr
    assert sorted(result.json["updated"]) == sorted([id0, id1, id2])
    assert result.json["resolved"] == [
        {"name": name0, "machine_id": id0},
        {"name": name1.lower(), "machine_id": id1},
    ]
    listings = live.calls("/api/machines", "GET")
    assert len(listings) == 1  # both names, one call
    assert listings[0].query["$filter"].count("computerDnsName eq") == 2
    assert len(live.calls(TAG_PATH)) == 1


def test_a_name_and_the_id_it_resolves_to_count_once(live: Emulator) -> None:
    id3, name3 = machine(live, 3)
    result = run(
        live, "tag_machines", machine_ids=[name3, id3], tag="t", action="Add", max_machines=1
    )
    assert result.code == 0, result.stderr
    assert result.json["updated"] == [id3]


def test_an_unknown_name_is_refused_before_any_write(live: Emulator) -> None:
    id0, _ = machine(live, 0)
    live.clear_log()
    result = run(live, "isolate_machines", machine_ids=[id0, "nosuch.contoso.com"], comment="IR-1")
    assert result.code == 2
    assert result.error["field"] == "machine_ids[1]"
    assert "'nosuch.contoso.com' is no machine's computer DNS name" in result.error["message"]
    assert "nothing was changed" in result.error["message"]
    assert [c for c in live.calls() if c.method == "POST"] == []


def test_a_name_two_machines_share_is_refused_naming_both(live: Emulator) -> None:
    (id10, name10), (id11, _) = machine(live, 10), machine(live, 11)
    live.clear_log()
    result = run(live, "tag_machines", machine_ids=[name10], tag="t", action="Add")
    assert result.code == 2
    message = result.error["message"]
    assert "names 2 machines" in message and id10 in message and id11 in message
    assert "give the machine id" in message
    assert live.calls(TAG_PATH) == []


def test_ids_over_the_limit_are_refused_before_any_call(live: Emulator) -> None:
    ids = [m["id"] for m in live.fleet.machines[:3]]
    live.clear_log()
    result = run(
        live, "isolate_machines", machine_ids=[*ids, "a.contoso.com"], comment="c", max_machines=2
    )
    assert result.code == 2 and result.error["type"] == "GuardError"
    assert live.calls() == []


def test_a_response_action_by_name_reports_the_resolution(live: Emulator) -> None:
    id4, name4 = machine(live, 4)
    planned = run(live, "run_antivirus_scan", machine_ids=[name4], comment="c", dry_run=True)
    assert planned.code == 0, planned.stderr
    assert planned.json["planned"] == [id4] and planned.json["calls"] == 1  # the lookup only
    assert planned.json["resolved"] == [{"name": name4, "machine_id": id4}]
    done = run(live, "run_antivirus_scan", machine_ids=[name4], comment="c")
    assert done.code == 0, done.stderr
    [report] = done.json["machines"]
    assert report["machine_id"] == id4 and report["outcome"] == "created"
    listed = run(live, "list_machine_actions", machine_id=name4, type="RunAntiVirusScan")
    assert listed.code == 0 and [a["machineId"] for a in listed.json["actions"]] == [id4]


def test_names_need_a_dns_shape(live: Emulator) -> None:
    result = run(live, "tag_machines", machine_ids=["not a name"], tag="t", action="Add")
    assert result.code == 2
    assert (
        "must be a machine id (40 hexadecimal characters) or a computer DNS name"
        in result.error["message"]
    )
