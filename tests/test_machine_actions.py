"""Response actions against the emulator: one action per machine, no duplicate while one is
pending, every machine accounted for, bounded waits on the injected clock, and the tracking
actions (list, get, cancel, package URI), find by IP or tag, and file information."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from conftest import make_client

from mdepack.client import ApiClient
from mdepack.clock import ManualClock
from mdepack.emulator import Emulator
from mdepack.emulator.routes.files import sha256_of
from mdepack.errors import (
    ApiError,
    GuardError,
    InputError,
    NotFoundError,
    PermissionDeniedError,
)
from mdepack.invoke import invoke

COMMENT = "IR-4711: contain"


def ids_of(emulator: Emulator, count: int) -> list[str]:
    return [m["id"] for m in emulator.fleet.machines[:count]]


def isolate(client: ApiClient, ids: list[str], **extra: Any) -> dict[str, Any]:
    return invoke(
        "isolate_machines", {"machine_ids": ids, "comment": COMMENT, **extra}, client=client
    )


def posts(emulator: Emulator, word: str = "isolate") -> list[Any]:
    return [c for c in emulator.calls("/api/machines/", "POST") if c.path.endswith("/" + word)]


# -- creating actions -----------------------------------------------------------------------


def test_each_machine_gets_one_action_with_the_pascal_case_body(
    emulator: Emulator, client: ApiClient
) -> None:
    ids = ids_of(emulator, 3)
    result = isolate(client, [ids[0], ids[1].upper(), ids[2], ids[0]], isolation_type="Selective")
    assert [c.body for c in posts(emulator)] == [
        {"Comment": COMMENT, "IsolationType": "Selective"}
    ] * 3
    assert [r["machine_id"] for r in result["machines"]] == ids
    assert all(r["outcome"] == "created" and r["status"] == "Pending" for r in result["machines"])
    assert result["summary"]["created"] == 3 and result["complete"] is False
    assert result["type"] == "Isolate" and result["dry_run"] is False


def test_a_machine_with_a_pending_action_of_the_type_gets_nothing_new(
    emulator: Emulator, client: ApiClient
) -> None:
    ids = ids_of(emulator, 2)
    first = isolate(client, ids[:1])
    emulator.clear_log()
    second = isolate(client, ids)
    (existing, new) = second["machines"]
    assert existing["outcome"] == "already_pending"
    assert existing["action_id"] == first["machines"][0]["action_id"]
    assert new["outcome"] == "created"
    assert [c.path for c in posts(emulator)] == [f"/api/machines/{ids[1]}/isolate"]


def test_the_apis_already_in_progress_answer_reports_the_existing_action(
    emulator: Emulator, client: ApiClient
) -> None:
    ids = ids_of(emulator, 1)
    first = isolate(client, ids)
    # The first look for pending actions misses it (as a race would): the API's 400 is the net.
    emulator.add_fault(path="^/api/machineactions$", method="GET", reply=b'{"value": []}')
    second = isolate(client, ids)
    (report,) = second["machines"]
    assert report["outcome"] == "already_pending"
    assert report["action_id"] == first["machines"][0]["action_id"]
    assert [c.status for c in posts(emulator)] == [201, 400]


def test_another_type_is_not_a_duplicate(emulator: Emulator, client: ApiClient) -> None:
    ids = ids_of(emulator, 1)
    isolate(client, ids)
    scan = invoke("run_antivirus_scan", {"machine_ids": ids, "comment": COMMENT}, client=client)
    assert scan["machines"][0]["outcome"] == "created"
    assert posts(emulator, "runAntiVirusScan")[0].body == {"Comment": COMMENT, "ScanType": "Quick"}


def test_unknown_machines_are_named_and_the_others_go_on(
    emulator: Emulator, client: ApiClient
) -> None:
    ids = ids_of(emulator, 2)
    unknown = hashlib.sha1(b"nobody", usedforsecurity=False).hexdigest()
    result = isolate(client, [ids[0], unknown, ids[1]])
    outcomes = [(r["machine_id"], r["outcome"]) for r in result["machines"]]
    assert outcomes == [(ids[0], "created"), (unknown, "not_found"), (ids[1], "created")]
    assert "was not found" in result["machines"][1]["reason"]


def test_a_failure_part_way_names_every_machine(emulator: Emulator, client: ApiClient) -> None:
    ids = ids_of(emulator, 4)
    emulator.add_fault(path="/isolate$", status=403, after=1, times=None)
    with pytest.raises(PermissionDeniedError) as caught:
        isolate(client, ids)
    machines = caught.value.details["machines"]
    assert [(m["machine_id"], m["outcome"]) for m in machines] == [
        (ids[0], "created"),
        (ids[1], "not_sent"),
        (ids[2], "not_sent"),
        (ids[3], "not_sent"),
    ]
    assert caught.value.details["summary"]["created"] == 1
    assert "1 created, 3 not sent" in str(caught.value)


def test_an_app_without_the_role_is_refused_by_the_api(
    emulator: Emulator, clock: ManualClock
) -> None:
    reader = make_client(
        emulator,
        clock,
        MDE_CLIENT_ID=emulator.readonly_app.client_id,
        MDE_CLIENT_SECRET=emulator.readonly_app.secret or "",
    )
    with pytest.raises(PermissionDeniedError, match=r"Machine\.Isolate"):
        isolate(reader, ids_of(emulator, 1))


# -- refused before any write --------------------------------------------------------------


def test_more_than_ten_machines_is_refused_by_default(
    emulator: Emulator, client: ApiClient
) -> None:
    with pytest.raises(GuardError, match=r"11 distinct machines is more than max_machines \(10\)"):
        isolate(client, ids_of(emulator, 11))
    assert emulator.calls() == []


@pytest.mark.parametrize(
    ("action", "inputs", "field"),
    [
        ("isolate_machines", {"comment": ""}, "comment"),
        ("isolate_machines", {"comment": "   "}, "comment"),
        ("isolate_machines", {"comment": None}, "comment"),
        ("isolate_machines", {"isolation_type": "Partial"}, "isolation_type"),
        ("run_antivirus_scan", {"scan_type": "Deep"}, "scan_type"),
        ("stop_and_quarantine_file", {"sha1": "a" * 64}, "sha1"),
        ("stop_and_quarantine_file", {"sha1": "a" * 32}, "sha1"),
        ("isolate_machines", {"machine_ids": ["not an id"]}, "machine_ids[0]"),
        ("isolate_machines", {"wait_seconds": -1}, "wait_seconds"),
    ],
)
def test_bad_input_is_refused_naming_the_field(
    emulator: Emulator, client: ApiClient, action: str, inputs: dict[str, Any], field: str
) -> None:
    request = {"machine_ids": ids_of(emulator, 1), "comment": COMMENT, "sha1": "b" * 40, **inputs}
    if action != "stop_and_quarantine_file":
        request.pop("sha1")
    if inputs.get("comment") is None and "comment" in inputs:
        request.pop("comment")
        field = "comment"
    with pytest.raises(InputError) as caught:
        invoke(action, request, client=client)
    assert caught.value.field == field
    assert emulator.calls() == []


def test_dry_run_sends_nothing(emulator: Emulator, client: ApiClient) -> None:
    ids = ids_of(emulator, 3)
    result = isolate(client, ids, dry_run=True)
    assert result["dry_run"] is True and result["planned"] == ids and result["machines"] == []
    assert emulator.calls() == []


# -- waiting -------------------------------------------------------------------------------


def test_waiting_polls_until_every_action_is_final(
    emulator: Emulator, client: ApiClient, clock: ManualClock
) -> None:
    ids = ids_of(emulator, 3)
    result = isolate(client, ids, wait_seconds=120)
    assert result["complete"] is True
    assert [r["status"] for r in result["machines"]] == ["Succeeded"] * 3
    assert result["summary"]["succeeded"] == 3
    polls = emulator.calls("/api/machineactions", "GET")[1:]  # after the duplicate check
    waited = sum(clock.slept)
    # Pending 5 s + InProgress 20 s: at most one poll a second, and backing off.
    assert 25 <= waited < 45 and len(polls) <= waited
    assert clock.slept == sorted(clock.slept) and clock.slept[0] >= 1.0
    assert all("id eq" in p.query["$filter"] for p in polls)


def test_a_deadline_returns_what_is_known(
    emulator: Emulator, client: ApiClient, clock: ManualClock
) -> None:
    result = isolate(client, ids_of(emulator, 2), wait_seconds=3)
    assert result["complete"] is False
    assert sum(clock.slept) == pytest.approx(3.0)
    assert {r["status"] for r in result["machines"]} == {"Pending"}
    assert result["summary"]["pending"] == 2


def test_failed_and_timed_out_actions_are_reported_per_machine(
    emulator: Emulator, client: ApiClient
) -> None:
    ids = ids_of(emulator, 3)
    emulator.action_outcomes[ids[1]] = "Failed"
    emulator.action_outcomes[ids[2]] = "TimeOut"
    result = isolate(client, ids, wait_seconds=300)
    assert [r["status"] for r in result["machines"]] == ["Succeeded", "Failed", "TimeOut"]
    assert result["summary"]["failed"] == 2 and result["complete"] is True


# -- tracking ------------------------------------------------------------------------------


def test_list_machine_actions_filters_with_escaped_values(
    emulator: Emulator, client: ApiClient
) -> None:
    ids = ids_of(emulator, 2)
    isolate(client, ids[:1])
    invoke("run_antivirus_scan", {"machine_ids": ids, "comment": COMMENT}, client=client)
    emulator.clear_log()
    scans = invoke(
        "list_machine_actions", {"type": "RunAntiVirusScan", "status": ["Pending"]}, client=client
    )
    assert scans["count"] == 2 and {a["type"] for a in scans["actions"]} == {"RunAntiVirusScan"}
    (call,) = emulator.calls("/api/machineactions")
    assert call.query["$filter"] == "type eq 'RunAntiVirusScan' and status eq 'Pending'"
    nobody = invoke("list_machine_actions", {"requestor": "o'brien"}, client=client)
    assert nobody["count"] == 0
    assert emulator.calls("/api/machineactions")[-1].query["$filter"] == "requestor eq 'o''brien'"
    mine = invoke("list_machine_actions", {"machine_id": ids[0].upper()}, client=client)
    assert mine["count"] == 2


def test_get_and_cancel_a_machine_action(emulator: Emulator, client: ApiClient) -> None:
    created = isolate(client, ids_of(emulator, 1))["machines"][0]["action_id"]
    got = invoke("get_machine_action", {"action_id": created.upper()}, client=client)
    assert got["action"]["status"] == "Pending" and got["action"]["requestorComment"] == COMMENT
    cancelled = invoke(
        "cancel_machine_action", {"action_id": created, "comment": "wrong machine"}, client=client
    )
    assert cancelled["action"]["status"] == "Cancelled"
    assert cancelled["action"]["cancellationComment"] == "wrong machine"
    with pytest.raises(ApiError, match="cannot be cancelled") as caught:
        invoke("cancel_machine_action", {"action_id": created, "comment": "again"}, client=client)
    assert caught.value.status == 400


@pytest.mark.parametrize(
    "bad", ["5382f7ea", "not-a-guid-at-all", "../5382f7ea-7557-4ab7-9782-d50480024a4e"]
)
def test_an_action_id_must_be_a_guid(emulator: Emulator, client: ApiClient, bad: str) -> None:
    with pytest.raises(InputError, match="action_id: must be a machine action id"):
        invoke("get_machine_action", {"action_id": bad}, client=client)
    assert emulator.calls() == []


def test_an_unknown_action_is_not_found(emulator: Emulator, client: ApiClient) -> None:
    with pytest.raises(NotFoundError):
        invoke(
            "get_machine_action",
            {"action_id": "5382f7ea-7557-4ab7-9782-d50480024a4e"},
            client=client,
        )


def collect(emulator: Emulator, client: ApiClient) -> dict[str, Any]:
    return invoke(
        "collect_investigation_package",
        {"machine_ids": ids_of(emulator, 1), "comment": COMMENT},
        client=client,
    )


def test_the_package_uri_comes_once_the_collection_succeeded(
    emulator: Emulator, client: ApiClient, clock: ManualClock
) -> None:
    collected = collect(emulator, client)
    action_id = collected["machines"][0]["action_id"]
    with pytest.raises(NotFoundError, match="exists only once the collection action has Succeeded"):
        invoke("get_investigation_package_uri", {"action_id": action_id}, client=client)
    clock.advance(60)
    result = invoke("get_investigation_package_uri", {"action_id": action_id}, client=client)
    assert result["action_id"] == action_id
    assert result["uri"].startswith("https://") and not result["uri"].endswith('"')


def test_the_package_uri_keeps_its_own_budget_of_two_a_minute(
    emulator: Emulator, client: ApiClient, clock: ManualClock
) -> None:
    collected = collect(emulator, client)
    clock.advance(60)
    clock.slept.clear()
    action_id = collected["machines"][0]["action_id"]
    for _ in range(3):
        invoke("get_investigation_package_uri", {"action_id": action_id}, client=client)
    assert sum(clock.slept) == pytest.approx(60, abs=1)  # the third waited for the minute
    package_calls = emulator.calls("/api/machineactions/")
    assert all(c.status == 200 for c in package_calls)  # no 429 was ever drawn


# -- finding machines, file information ----------------------------------------------------


def test_find_machines_by_ip_at_a_time(emulator: Emulator, client: ApiClient) -> None:
    machine = emulator.fleet.machines[4]
    when = machine["lastSeen"][:19] + "Z"
    found = invoke(
        "find_machines_by_ip",
        {"ip": machine["lastIpAddress"], "timestamp": when, "fields": ["lastIpAddress"]},
        client=client,
    )
    assert machine["id"] in [m["id"] for m in found["machines"]]
    assert all(m["lastIpAddress"] == machine["lastIpAddress"] for m in found["machines"])
    (call,) = emulator.calls("/api/machines/findbyip")
    assert call.path.startswith("/api/machines/findbyip(ip='")


def test_find_machines_by_ip_defaults_to_now_and_checks_the_address(
    emulator: Emulator, client: ApiClient
) -> None:
    assert invoke("find_machines_by_ip", {"ip": "10.0.0.1"}, client=client)["count"] == 0
    with pytest.raises(InputError, match=r"ip: '10\.0\.0\.999' is not an IPv4 or IPv6 address"):
        invoke("find_machines_by_ip", {"ip": "10.0.0.999"}, client=client)
    with pytest.raises(InputError, match="timestamp"):
        invoke("find_machines_by_ip", {"ip": "10.0.0.1", "timestamp": "yesterday"}, client=client)


def test_find_machines_by_tag(emulator: Emulator, client: ApiClient) -> None:
    exact = invoke("find_machines_by_tag", {"tag": "VIP"}, client=client)
    assert exact["count"] == sum("VIP" in m["machineTags"] for m in emulator.fleet.machines) > 0
    prefix = invoke("find_machines_by_tag", {"tag": "Fin", "starts_with": True}, client=client)
    assert prefix["count"] > 0
    assert emulator.calls("/api/machines/findbytag")[-1].query == {
        "tag": "Fin",
        "useStartsWithFilter": "true",
    }


def test_get_file_by_sha256_gives_the_sha1(emulator: Emulator, client: ApiClient) -> None:
    sha1 = emulator.fleet.file_with(2)
    by_sha256 = invoke("get_file", {"hash": sha256_of(sha1).upper()}, client=client)
    assert by_sha256["found"] is True and by_sha256["sha1"] == sha1
    machines = invoke("get_file_machines", {"sha1": by_sha256["sha1"]}, client=client)
    assert machines["count"] == 2


def test_get_file_refuses_md5_and_reports_an_unknown_file(
    emulator: Emulator, client: ApiClient
) -> None:
    with pytest.raises(InputError, match="MD5 is not accepted"):
        invoke("get_file", {"hash": "d41d8cd98f00b204e9800998ecf8427e"}, client=client)
    unknown = invoke("get_file", {"hash": "f" * 40}, client=client)
    assert unknown == {"found": False, "file": None, "sha1": None, "sha256": None}
