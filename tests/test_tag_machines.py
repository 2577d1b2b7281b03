"""tag_machines: batches of 500, PascalCase body, the guard, not_found, dry_run, partial failure."""

from __future__ import annotations

import hashlib

import pytest
from conftest import make_client

from mdepack.client import ApiClient
from mdepack.clock import ManualClock
from mdepack.emulator import Emulator
from mdepack.errors import GuardError, InputError, TransientError
from mdepack.invoke import invoke


def fake_ids(count: int) -> list[str]:
    return [
        hashlib.sha1(f"unknown-{i}".encode(), usedforsecurity=False).hexdigest()
        for i in range(count)
    ]


def test_duplicates_are_sent_once_with_the_pascal_case_body(
    emulator: Emulator, client: ApiClient
) -> None:
    ids = [m["id"] for m in emulator.fleet.machines[:3]]
    result = invoke(
        "tag_machines",
        {"machine_ids": [*ids, ids[0].upper(), ids[1]], "tag": "ir-1", "action": "Add"},
        client=client,
    )
    (call,) = emulator.calls("/api/machines/AddOrRemoveTagForMultipleMachines")
    assert call.body == {"Value": "ir-1", "Action": "Add", "MachineIds": ids}
    assert result == {
        "action": "Add",
        "tag": "ir-1",
        "updated": ids,
        "not_found": [],
        "unconfirmed": [],
        "not_sent": [],
        "count": 3,
        "dry_run": False,
        "calls": 1,
    }
    assert all("ir-1" in emulator.machine(i)["machineTags"] for i in ids)  # type: ignore[index]


def test_remove(emulator: Emulator, client: ApiClient) -> None:
    machine = next(m for m in emulator.fleet.machines if "VIP" in m["machineTags"])
    result = invoke(
        "tag_machines",
        {"machine_ids": [machine["id"]], "tag": "VIP", "action": "Remove"},
        client=client,
    )
    assert result["updated"] == [machine["id"]]
    assert "VIP" not in emulator.machine(machine["id"])["machineTags"]  # type: ignore[index]


def test_1200_machines_are_tagged_in_3_calls_of_at_most_500(clock: ManualClock) -> None:
    with Emulator(machines=1300, clock=clock) as emulator:
        ids = [m["id"] for m in emulator.fleet.machines[:1200]]
        result = invoke(
            "tag_machines",
            {"machine_ids": ids, "tag": "t", "action": "Add", "max_machines": 2000},
            client=make_client(emulator, clock),
        )
        sizes = [
            len(c.body["MachineIds"])
            for c in emulator.calls("/api/machines/AddOrRemoveTagForMultipleMachines")
        ]
        assert sizes == [500, 500, 200]
        assert result["count"] == 1200 and result["calls"] == 3


def test_more_distinct_ids_than_max_machines_is_refused_before_any_write(
    emulator: Emulator, client: ApiClient
) -> None:
    with pytest.raises(
        GuardError, match=r"501 distinct machines is more than max_machines \(500\)"
    ) as caught:
        invoke(
            "tag_machines",
            {"machine_ids": fake_ids(501), "tag": "t", "action": "Add"},
            client=client,
        )
    assert caught.value.exit_code == 2
    assert emulator.calls() == []


def test_the_guard_counts_distinct_ids(emulator: Emulator, client: ApiClient) -> None:
    ids = [m["id"] for m in emulator.fleet.machines[:2]]
    result = invoke(
        "tag_machines",
        {"machine_ids": ids * 3, "tag": "t", "action": "Add", "max_machines": 2},
        client=client,
    )
    assert result["count"] == 2


def test_ids_the_api_does_not_return_are_not_found(emulator: Emulator, client: ApiClient) -> None:
    known = [m["id"] for m in emulator.fleet.machines[:2]]
    unknown = fake_ids(2)
    result = invoke(
        "tag_machines",
        {"machine_ids": [known[0], unknown[0], known[1], unknown[1]], "tag": "t", "action": "Add"},
        client=client,
    )
    assert (result["updated"], result["not_found"]) == (known, unknown)


def test_dry_run_sends_nothing(emulator: Emulator, client: ApiClient) -> None:
    ids = fake_ids(700)
    result = invoke(
        "tag_machines",
        {"machine_ids": ids, "tag": "t", "action": "Add", "dry_run": True, "max_machines": 1000},
        client=client,
    )
    assert (
        result["dry_run"] is True
        and result["planned"] == ids
        and result["calls"] == 2
        and result["count"] == 0
    )
    assert emulator.calls() == []


@pytest.mark.parametrize("bad", ["../" + "a" * 37, "a b", "x" * 300, "-lead"])
def test_a_malformed_machine_id_is_refused(emulator: Emulator, client: ApiClient, bad: str) -> None:
    with pytest.raises(InputError, match=r"machine_ids\[1\]"):
        invoke(
            "tag_machines",
            {"machine_ids": ["a" * 40, bad], "tag": "t", "action": "Add"},
            client=client,
        )
    assert emulator.calls() == []


@pytest.mark.parametrize("typo", ["abc", "g" * 40, "a" * 41])
def test_a_mistyped_id_is_a_name_no_machine_has_and_nothing_is_written(
    emulator: Emulator, client: ApiClient, typo: str
) -> None:
    # Shaped like a host name, it is looked up (one read) and refused before any write.
    with pytest.raises(InputError, match=r"machine_ids\[1\]: .* is no machine's computer DNS name"):
        invoke(
            "tag_machines",
            {"machine_ids": ["a" * 40, typo], "tag": "t", "action": "Add"},
            client=client,
        )
    assert [c.method for c in emulator.calls()] == ["GET"]


def test_a_failed_batch_says_what_was_and_was_not_applied(clock: ManualClock) -> None:
    with Emulator(machines=1100, clock=clock) as emulator:
        ids = [m["id"] for m in emulator.fleet.machines[:1100]]
        # The first batch goes through, then the API fails for good.
        emulator.add_fault(
            path="AddOrRemoveTagForMultipleMachines", status=503, times=None, after=1
        )
        with pytest.raises(TransientError) as caught:
            invoke(
                "tag_machines",
                {"machine_ids": ids, "tag": "t", "action": "Add", "max_machines": 2000},
                client=make_client(emulator, clock),
            )
        details = caught.value.details
        assert details["updated"] == ids[:500]
        assert details["not_sent"] == ids[500:]  # a 503 is a refusal: nothing went in
        assert details["unconfirmed"] == [] and details["not_found"] == []
        assert details["attempts"] == 4
        assert (
            "of 1100 machines: 500 updated" in caught.value.message
            and "600 not sent" in caught.value.message
        )
        assert all("t" in emulator.machine(i)["machineTags"] for i in ids[:500])  # type: ignore[index]
        assert not any("t" in emulator.machine(i)["machineTags"] for i in ids[500:])  # type: ignore[index]


def test_20000_ids_each_end_in_exactly_one_list(clock: ManualClock) -> None:
    with Emulator(machines=15_000, clock=clock, rate_per_minute=10**6) as emulator:
        known = [m["id"] for m in emulator.fleet.machines]
        unknown = [f"{i:040x}" for i in range(5_000)]
        ids = known + unknown
        env = {"MDE_RATE_PER_MINUTE": "1000000", "MDE_RATE_PER_HOUR": "10000000"}
        result = invoke(
            "tag_machines",
            {"machine_ids": ids, "tag": "bulk", "action": "Add", "max_machines": 20_000},
            client=make_client(emulator, clock, **env),
        )
    lists = [result[name] for name in ("updated", "not_found", "unconfirmed", "not_sent")]
    assert sorted(i for ids_ in lists for i in ids_) == sorted(ids)  # each id exactly once
    assert result["updated"] == known and result["not_found"] == unknown
    assert result["count"] == 15_000 and result["calls"] == 40
