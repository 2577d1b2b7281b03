"""list_machines against the emulator: filters, paging, max_results, empty fleet."""

from __future__ import annotations

import pytest
from conftest import make_client

from mdepack.client import ApiClient
from mdepack.clock import ManualClock
from mdepack.emulator import Emulator
from mdepack.emulator.fleet import Fleet
from mdepack.emulator.odata import compile_filter
from mdepack.errors import ApiError, InputError
from mdepack.invoke import invoke


@pytest.fixture(scope="module")
def big() -> Emulator:
    # 25,000 machines: shared by the paging tests (generation takes a moment).
    with Emulator(machines=25_000, clock=ManualClock()) as emulator:
        yield emulator  # type: ignore[misc]


def test_25000_machines_are_listed_in_3_requests(big: Emulator) -> None:
    big.clear_log()
    client = make_client(big, big.clock)  # type: ignore[arg-type]
    result = invoke("list_machines", {"fields": ["computerDnsName"]}, client=client)
    assert result["count"] == 25_000
    assert len({m["id"] for m in result["machines"]}) == 25_000
    calls = big.calls("/api/machines")
    assert [(c.query.get("$top"), c.query.get("$skip")) for c in calls] == [
        ("10000", None),
        ("10000", "10000"),
        ("10000", "20000"),
    ]


def test_max_results_sends_top_once(big: Emulator) -> None:
    big.clear_log()
    result = invoke("list_machines", {"max_results": 50}, client=make_client(big, big.clock))  # type: ignore[arg-type]
    assert result["count"] == 50
    assert [c.query for c in big.calls("/api/machines")] == [{"$top": "50"}]


def test_max_results_above_a_page_takes_the_fewest_calls(big: Emulator) -> None:
    big.clear_log()
    result = invoke("list_machines", {"max_results": 12_345}, client=make_client(big, big.clock))  # type: ignore[arg-type]
    assert result["count"] == 12_345
    assert [c.query.get("$top") for c in big.calls("/api/machines")] == ["10000", "2345"]


def test_an_exact_multiple_of_the_page_takes_one_more_call(clock: ManualClock) -> None:
    with Emulator(machines=20_000, clock=clock) as emulator:
        result = invoke("list_machines", {"fields": ["id"]}, client=make_client(emulator, clock))
        assert result["count"] == 20_000
        assert len(emulator.calls("/api/machines")) == 3


def test_filters_are_escaped_combined_and_match_the_emulator(
    emulator: Emulator, client: ApiClient
) -> None:
    inputs = {
        "health_status": ["Active", "Inactive"],
        "risk_score": "High",
        "rbac_group_id": [0, 140],
    }
    result = invoke("list_machines", inputs, client=client)
    sent = emulator.calls("/api/machines")[-1].query["$filter"]
    assert (
        sent
        == "(healthStatus eq 'Active' or healthStatus eq 'Inactive') and riskScore eq 'High' and (rbacGroupId eq 0 or rbacGroupId eq 140)"
    )
    expected = [m["id"] for m in emulator.fleet.machines if compile_filter(sent)(m)]
    assert [m["id"] for m in result["machines"]] == expected
    assert all(
        m["riskScore"] == "High" and m["healthStatus"] in ("Active", "Inactive")
        for m in result["machines"]
    )


def test_a_quote_in_a_value_is_doubled_and_matches(emulator: Emulator, client: ApiClient) -> None:
    result = invoke("list_machines", {"machine_tag": "o'brien-lab"}, client=client)
    assert (
        emulator.calls("/api/machines")[-1].query["$filter"]
        == "machineTags/any(tag: tag eq 'o''brien-lab')"
    )
    assert (
        result["count"]
        == sum("o'brien-lab" in m["machineTags"] for m in emulator.fleet.machines)
        > 0
    )


def test_prefix_dates_and_raw_odata(emulator: Emulator, client: ApiClient) -> None:
    inputs = {
        "computer_dns_name_prefix": "laptop-",
        "last_seen_after": "2026-10-01T00:00:00Z",
        "odata_filter": "osPlatform eq 'Windows11' or osPlatform eq 'Windows10'",
    }
    result = invoke("list_machines", inputs, client=client)
    sent = emulator.calls("/api/machines")[-1].query["$filter"]
    assert (
        sent
        == "startswith(computerDnsName,'laptop-') and lastSeen gt 2026-10-01T00:00:00Z and (osPlatform eq 'Windows11' or osPlatform eq 'Windows10')"
    )
    assert all(m["computerDnsName"].startswith("laptop-") for m in result["machines"])


def test_a_bad_enum_value_is_refused_before_any_request(
    emulator: Emulator, client: ApiClient
) -> None:
    with pytest.raises(InputError, match="health_status"):
        invoke("list_machines", {"health_status": "Sleepy"}, client=client)
    assert emulator.calls() == []


def test_bad_raw_odata_gets_the_apis_odata_error(emulator: Emulator, client: ApiClient) -> None:
    with pytest.raises(ApiError) as caught:
        invoke("list_machines", {"odata_filter": "nosuchField eq 1"}, client=client)
    assert (caught.value.status, caught.value.code) == (400, "ODataError")
    assert caught.value.target and caught.value.target.startswith("|")


def test_an_empty_fleet_answers_404_and_gives_an_empty_result(clock: ManualClock) -> None:
    with Emulator(data=Fleet([]), clock=clock) as emulator:
        assert invoke("list_machines", {}, client=make_client(emulator, clock)) == {
            "machines": [],
            "count": 0,
        }
        assert [c.status for c in emulator.calls()] == [404]


def test_fields_keep_id_and_only_the_named_fields(client: ApiClient) -> None:
    result = invoke("list_machines", {"fields": ["riskScore"], "max_results": 3}, client=client)
    assert all(set(m) == {"id", "riskScore"} for m in result["machines"])
