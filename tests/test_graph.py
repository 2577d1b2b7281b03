"""The Microsoft Graph security API through the CLI against the emulator: advanced hunting (its
parameters bound as KQL literals that hostile values cannot leave, streaming, both 429s), alerts
(filters, paging by next link, evidence to machine ids, updates and comments, refusals before any
call), the second token audience, and the alert -> isolate playbook."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import CliResult, make_client, run_cli

from mdepack.client import ApiClient
from mdepack.clock import ManualClock
from mdepack.config import Config
from mdepack.emulator import Emulator
from mdepack.emulator.api import RateLimiter
from mdepack.errors import ApiError, HuntingQuotaError, InputError
from mdepack.invoke import invoke

pytestmark = pytest.mark.slow
HUNT = "/v1.0/security/runHuntingQuery"
ALERTS = "/v1.0/security/alerts_v2"


@pytest.fixture(scope="module")
def live() -> Iterator[Emulator]:
    with Emulator(machines=12) as emulator:
        yield emulator


def run(
    live: Emulator, name: str, /, env: dict[str, str] | None = None, **inputs: Any
) -> CliResult:
    return run_cli(
        "run", name, "--input", "-", env={**live.env(), **(env or {})}, stdin=json.dumps(inputs)
    )


def refusal(live: Emulator, name: str, /, **inputs: Any) -> dict[str, Any]:
    """The error of inputs refused before any call, in-process (the CLI's exit 2 for the same
    error is shown once per action); fails if anything was sent."""
    live.clear_log()
    with pytest.raises(InputError) as caught:
        invoke(name, inputs, client=ApiClient(Config.from_env(live.env())))
    assert live.calls() == []
    return caught.value.to_dict()["error"]  # type: ignore[no-any-return]


def host(live: Emulator, index: int = 0) -> str:
    return str(live.fleet.machines[index]["computerDnsName"])


# -- advanced hunting ---------------------------------------------------------------------


def test_a_hunting_query_binds_its_parameters_ahead_of_the_text(live: Emulator) -> None:
    live.clear_log()
    query = "DeviceInfo | where DeviceName == name | project DeviceId, DeviceName | take 2"
    done = run(
        live, "run_hunting_query", query=query, parameters={"name": host(live)}, timespan="P7D"
    )
    assert done.code == 0, done.stderr
    answer = done.json
    assert answer["schema"] == [
        {"name": "DeviceId", "type": "String"},
        {"name": "DeviceName", "type": "String"},
    ]
    assert answer["count"] == 2
    assert {row["DeviceName"] for row in answer["results"]} == {host(live)}
    [call] = live.calls(HUNT)
    assert call.body == {"Query": f"let name = '{host(live)}';\n{query}", "Timespan": "P7D"}


HOSTILE = [
    "x' | take 1 //",
    'x" | take 1 //',
    "back\\slash\\",
    "\\'; DeviceInfo | take 100 //",
    "line one\nline two | take 1",
    "tab\there; let v = 1;",
    "@'verbatim'",
    "// a comment",
    "'",
    "",
]


def test_hostile_parameters_stay_inert_values(live: Emulator) -> None:
    parameters = {f"v{i}": value for i, value in enumerate(HOSTILE)}
    printed = ", ".join(f"{name} = {name}" for name in parameters)
    echoed = run(live, "run_hunting_query", query=f"print {printed}", parameters=parameters)
    assert echoed.code == 0, echoed.stderr
    assert echoed.json["results"] == [parameters]  # read back exactly: nothing left its quotes
    client = ApiClient(Config.from_env(live.env()))
    for value in HOSTILE:
        query = "DeviceInfo | where DeviceName == v | project DeviceName"
        found = invoke(
            "run_hunting_query", {"query": query, "parameters": {"v": value}}, client=client
        )
        assert found["count"] == 0, value  # a `| take` inside the value did not become an operator


def test_numbers_and_booleans_are_typed_literals(live: Emulator) -> None:
    done = run(
        live,
        "run_hunting_query",
        query="print n = n, r = r, b = b",
        parameters={"n": -42, "r": 2.5, "b": False},
    )
    assert done.json["results"] == [{"n": -42, "r": 2.5, "b": False}]
    assert "let n = long(-42);" in live.calls(HUNT)[-1].body["Query"]


@pytest.mark.parametrize(
    ("parameters", "field", "rule"),
    [
        ({"1st": "x"}, "parameters", "KQL names"),
        ({"where": "x"}, "parameters.where", "KQL keyword"),
        ({"a-b": "x"}, "parameters", "KQL names"),
        ({"v": "nul\x00byte"}, "parameters.v", "control characters"),
        ({"v": "carriage\rreturn"}, "parameters.v", "control characters"),
        ({"v": {"nested": 1}}, "parameters.v", "string, number, boolean"),
        ({"v": 2**63}, "parameters.v", "64-bit"),
    ],
)
def test_bad_parameters_are_refused_before_any_call(
    live: Emulator, parameters: dict[str, Any], field: str, rule: str
) -> None:
    error = refusal(live, "run_hunting_query", query="print v = 1", parameters=parameters)
    assert error["field"] == field
    assert rule in error["message"]


def test_a_refusal_through_the_cli_exits_2_and_sends_nothing(live: Emulator) -> None:
    live.clear_log()
    refused = run(live, "run_hunting_query", query="print v = v", parameters={"let": "x"})
    assert refused.code == 2 and refused.error["field"] == "parameters.let"
    refused = run(live, "update_alert", alert_id="a1", determination="malware")
    assert refused.code == 2 and refused.error["field"] == "determination"
    assert live.calls() == []


@pytest.mark.parametrize("timespan", ["30 days", "P", "PT", "2024-05-01/2024-05-08", "P1DT"])
def test_a_bad_timespan_is_refused_naming_the_forms(live: Emulator, timespan: str) -> None:
    error = refusal(live, "run_hunting_query", query="DeviceInfo", timespan=timespan)
    assert error["field"] == "timespan"
    assert "ISO-8601 duration" in error["message"]


def test_a_start_end_timespan_is_sent_as_given(live: Emulator) -> None:
    span = "2026-11-01T00:00:00Z/2026-11-02T00:00:00Z"
    assert run(live, "run_hunting_query", query="DeviceInfo | take 1", timespan=span).code == 0
    assert live.calls(HUNT)[-1].body["Timespan"] == span


def test_jsonl_writes_one_row_a_line(live: Emulator) -> None:
    done = run_cli(
        "run",
        "run_hunting_query",
        "--jsonl",
        "--input",
        json.dumps({"query": "DeviceInfo | project DeviceId, DeviceName"}),
        env=live.env(),
    )
    assert done.code == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(rows) == 12 * 30  # a report a machine a day
    assert set(rows[0]) == {"DeviceId", "DeviceName"}


def test_a_query_the_service_refuses_is_its_400_with_graphs_request_id(live: Emulator) -> None:
    failed = run(live, "run_hunting_query", query="DeviceInfo | summarize count() by OSPlatform")
    assert failed.code == 1
    error = failed.error
    assert error["type"] == "ApiError" and error["status"] == 400
    assert "could not be parsed" in error["message"]
    assert len(error["target"]) == 36  # innerError.request-id, for Microsoft support


def test_the_call_count_429_is_waited_out_and_retried(
    emulator: Emulator, clock: ManualClock
) -> None:
    emulator.hunting_limiter = RateLimiter(2, 100, clock)
    client = make_client(emulator, clock)
    for _ in range(3):
        invoke("run_hunting_query", {"query": "DeviceInfo | take 1"}, client=client)
    statuses = [call.status for call in emulator.calls(HUNT)]
    assert statuses == [200, 200, 429, 200]
    assert clock.monotonic() >= 59  # the third waited for the server's Retry-After


def test_the_cpu_quota_429_is_its_own_error_with_when_to_retry_and_no_retry(
    emulator: Emulator, clock: ManualClock
) -> None:
    again = emulator.exhaust_hunting_cpu()
    with pytest.raises(HuntingQuotaError) as caught:
        invoke("run_hunting_query", {"query": "DeviceInfo"}, client=make_client(emulator, clock))
    assert len(emulator.calls(HUNT)) == 1  # not retried: the quota lasts until the next cycle
    error = caught.value.to_dict()["error"]
    assert error["status"] == 429
    assert error["retry_at"].endswith("Z")
    assert error["retry_at"] <= _iso(again)
    clock.advance(again - clock.time() + 1)
    invoke(
        "run_hunting_query", {"query": "DeviceInfo | take 1"}, client=make_client(emulator, clock)
    )


def test_the_cpu_quota_through_the_cli_exits_1_with_its_type(live: Emulator) -> None:
    live.exhaust_hunting_cpu()
    try:
        failed = run(live, "run_hunting_query", query="DeviceInfo | take 1")
    finally:
        live.hunting_cpu_blocked_until = None
    assert failed.code == 1
    assert failed.error["type"] == "HuntingQuotaError"
    assert "CPU quota" in failed.error["message"]


def test_a_504_is_retried(emulator: Emulator, clock: ManualClock) -> None:
    emulator.add_fault(path=HUNT, status=504)
    done = invoke(
        "run_hunting_query", {"query": "DeviceInfo | take 1"}, client=make_client(emulator, clock)
    )
    assert done["count"] == 1
    assert [c.status for c in emulator.calls(HUNT)] == [504, 200]


def test_a_body_cut_short_while_streaming_is_an_error_not_a_short_answer(
    emulator: Emulator, clock: ManualClock
) -> None:
    emulator.add_fault(path=HUNT, truncate=True, times=None)
    with pytest.raises(ApiError, match="cut short"):
        invoke("run_hunting_query", {"query": "DeviceInfo"}, client=make_client(emulator, clock))


def _iso(seconds: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- alerts -------------------------------------------------------------------------------


def test_alerts_are_filtered_with_values_in_any_case(live: Emulator) -> None:
    live.clear_log()
    done = run(
        live,
        "list_alerts",
        status="NEW",
        severity=["High", "medium"],
        created_after="2020-01-01T00:00:00Z",
    )
    assert done.code == 0, done.stderr
    alerts = done.json["alerts"]
    assert alerts and all(
        a["status"] == "new" and a["severity"] in ("high", "medium") for a in alerts
    )
    [call] = live.calls(ALERTS)
    assert call.query["$filter"] == (
        "status eq 'new' and (severity eq 'high' or severity eq 'medium') "
        "and createdDateTime ge 2020-01-01T00:00:00Z"
    )


def test_an_unknown_enum_value_is_refused_with_the_closest_spelling(live: Emulator) -> None:
    refused = run(live, "list_alerts", status="in_progress")
    assert refused.code == 2
    assert refused.error["field"] == "status"


def test_alerts_page_by_next_link_and_stop_at_max_results() -> None:
    with Emulator(machines=5, alert_count=9, server_page_size=4) as emu:
        every = run(emu, "list_alerts")
        assert every.json["count"] == 9
        assert len(emu.calls(ALERTS)) == 3
        emu.clear_log()
        some = run(emu, "list_alerts", max_results=5)
        assert some.json["count"] == 5
        assert [c.query.get("$top") for c in emu.calls(ALERTS)] == ["5", "1"]


def test_a_next_link_to_another_host_is_not_followed(live: Emulator) -> None:
    body = {
        "value": [{"id": "a1", "status": "new"}],
        "@odata.nextLink": "https://graph.example.net/v1.0/security/alerts_v2?$skip=1",
    }
    live.add_fault(path=ALERTS + "$", method="GET", reply=json.dumps(body).encode())
    live.clear_log()
    done = run(live, "list_alerts")
    assert done.json["count"] == 1
    assert len(live.calls(ALERTS)) == 1


def test_an_alert_gives_the_machine_ids_of_its_devices(live: Emulator) -> None:
    first, second = list(live.alerts.alerts)[:2]
    alert = run(live, "get_alert", alert_id=first).json
    assert alert["machine_ids"] == [m["id"] for m in live.fleet.machines[:2]]
    assert alert["count"] == 2
    assert (
        alert["alert"]["evidence"][0]["@odata.type"] == "#microsoft.graph.security.deviceEvidence"
    )
    other = run(live, "get_alert", alert_id=second).json
    assert other["devices_without_machine_id"] == ["byod-laptop.contoso.com"]
    assert other["count"] == len(other["machine_ids"])


def test_an_unknown_alert_is_not_found(live: Emulator) -> None:
    failed = run(live, "get_alert", alert_id="da000_1")
    assert failed.code == 1
    assert failed.error["type"] == "NotFoundError"


def test_an_update_sends_only_the_fields_given_then_the_comment(live: Emulator) -> None:
    alert_id = list(live.alerts.alerts)[3]
    live.clear_log()
    done = run(
        live,
        "update_alert",
        alert_id=alert_id,
        status="resolved",
        classification="truePositive",
        determination="Malware",
        comment="IR-4711: contained",
    )
    assert done.code == 0, done.stderr
    assert done.json["updated"] == ["status", "classification", "determination"]
    assert done.json["comment_added"] is True
    patch, comment = live.calls(ALERTS)
    assert (patch.method, patch.body) == (
        "PATCH",
        {"status": "resolved", "classification": "truePositive", "determination": "malware"},
    )
    assert comment.path.endswith("/comments")
    assert comment.body == {
        "@odata.type": "microsoft.graph.security.alertComment",
        "comment": "IR-4711: contained",
    }
    stored = live.alerts.alerts[alert_id]
    assert (
        stored["status"] == "resolved" and stored["comments"][-1]["comment"] == "IR-4711: contained"
    )


def test_a_comment_alone_is_only_a_comment(live: Emulator) -> None:
    live.clear_log()
    done = run(live, "update_alert", alert_id=list(live.alerts.alerts)[4], comment="seen")
    assert done.json == {
        "alert_id": list(live.alerts.alerts)[4],
        "updated": [],
        "comment_added": True,
    }
    assert [c.method for c in live.calls(ALERTS)] == ["POST"]


@pytest.mark.parametrize(
    ("inputs", "field", "words"),
    [
        (
            {"classification": "falsePositive", "determination": "malware"},
            "determination",
            "notMalicious",
        ),
        ({"determination": "malware"}, "determination", "needs classification"),
        (
            {"classification": "truePositive", "determination": "securityTesting"},
            "determination",
            "phishing",
        ),
        ({}, None, "needs something to change"),
        ({"status": "closed"}, "status", "inProgress"),
    ],
)
def test_a_bad_update_is_refused_before_any_call(
    live: Emulator, inputs: dict[str, Any], field: str | None, words: str
) -> None:
    error = refusal(live, "update_alert", alert_id=list(live.alerts.alerts)[5], **inputs)
    assert error.get("field") == field
    assert words in error["message"]


def test_a_comment_failing_after_the_change_says_what_was_applied(live: Emulator) -> None:
    alert_id = list(live.alerts.alerts)[6]
    live.add_fault(path=ALERTS + ".*/comments", status=403)
    failed = run(live, "update_alert", alert_id=alert_id, status="inProgress", comment="x")
    assert failed.code == 1
    error = failed.error
    assert error["updated"] == ["status"] and error["comment_added"] is False
    assert error["message"].startswith(
        "the alert was updated (status) but the comment was not added"
    )
    assert live.alerts.alerts[alert_id]["status"] == "inProgress"


# -- the second audience ------------------------------------------------------------------


def test_a_defender_token_alone_cannot_run_a_graph_action_and_nothing_is_sent(
    live: Emulator,
) -> None:
    live.clear_log()
    env = {
        "MDE_ACCESS_TOKEN": live.issue_token(live.write_app),
        "MDE_API_URL": live.url,
        "MDE_GRAPH_URL": live.url,
        "MDE_CA_BUNDLE": str(live.ca_path),
    }
    refused = run_cli("run", "list_alerts", "--input", "{}", env=env)
    assert refused.code == 2
    assert refused.error["field"] == "MDE_GRAPH_ACCESS_TOKEN"
    assert live.calls() == []


def test_each_audience_refuses_the_others_token(live: Emulator) -> None:
    defender = live.issue_token(live.write_app)
    graph = live.issue_token(live.write_app, "https://graph.microsoft.com")
    base = {"MDE_API_URL": live.url, "MDE_GRAPH_URL": live.url, "MDE_CA_BUNDLE": str(live.ca_path)}
    wrong = run_cli(
        "run", "list_alerts", "--input", "{}", env={**base, "MDE_GRAPH_ACCESS_TOKEN": defender}
    )
    assert wrong.code == 1
    assert wrong.error["type"] == "AuthError"
    assert "MDE_GRAPH_ACCESS_TOKEN" in wrong.error["message"]
    right = run_cli(
        "run", "list_alerts", "--input", "{}", env={**base, "MDE_GRAPH_ACCESS_TOKEN": graph}
    )
    assert right.code == 0
    machines = run_cli(
        "run",
        "get_machine",
        "--input",
        json.dumps({"machine_id": host(live)}),
        env={**base, "MDE_ACCESS_TOKEN": graph},
    )
    assert machines.code == 1 and machines.error["status"] == 403
    for shown in (wrong.stderr, right.stdout, machines.stderr):
        assert defender not in shown and graph not in shown


def test_client_credentials_get_a_token_for_each_audience(live: Emulator) -> None:
    before = live.token_requests
    assert run(live, "list_alerts", max_results=1).code == 0
    assert live.token_requests == before + 1
    assert run(live, "get_machine", machine_id=host(live)).code == 0


def test_graph_has_its_own_url_setting_under_the_loopback_rule(live: Emulator) -> None:
    refused = run(live, "list_alerts", env={"MDE_GRAPH_URL": "http://graph.example.net"})
    assert refused.code == 2
    assert refused.error["field"] == "MDE_GRAPH_URL"


# -- the playbook -------------------------------------------------------------------------


def playbook(live: Emulator, **inputs: Any) -> CliResult:
    return run_cli(
        "playbook", "run", "isolate_alert_devices", "--input", json.dumps(inputs), env=live.env()
    )


def test_the_alert_playbook_dry_run_changes_nothing_anywhere() -> None:
    with Emulator(machines=6) as emu:
        alert_id = next(iter(emu.alerts.alerts))
        done = playbook(emu, alert_id=alert_id, comment="IR-4711: contain")
        assert done.code == 0, done.stderr
        outputs = done.json
        assert outputs["dry_run"] is True
        assert outputs["planned"] == [m["id"] for m in emu.fleet.machines[:2]]
        assert outputs["alert_updated"] == [] and outputs["comment_added"] is False
        writes = [c for c in emu.calls() if c.method in ("POST", "PATCH")]
        assert writes == []
        assert emu.alerts.alerts[alert_id]["status"] == "inProgress"  # as generated
        assert emu.alerts.alerts[alert_id]["comments"] == []


def test_the_alert_playbook_isolates_then_says_so_on_the_alert() -> None:
    with Emulator(machines=6) as emu:
        alert_id = list(emu.alerts.alerts)[1]  # one onboarded device, one that is not
        done = playbook(emu, alert_id=alert_id, comment="IR-4711: contain", dry_run=False)
        assert done.code == 0, done.stderr
        outputs = done.json
        assert outputs["summary"]["created"] == 1
        assert outputs["devices_without_machine_id"] == ["byod-laptop.contoso.com"]
        assert outputs["alert_updated"] == ["status"] and outputs["comment_added"] is True
        isolations = emu.calls("/api/machines/", "POST")
        assert [c.path.rsplit("/", 1)[1] for c in isolations] == ["isolate"]
        alert = emu.alerts.alerts[alert_id]
        assert alert["status"] == "inProgress"
        comment = alert["comments"][-1]["comment"]
        assert comment.startswith("IR-4711: contain (mdepack isolate-alert-devices: of 1 device(s)")
        assert "isolation created on 1" in comment and "not done on 0" in comment


@pytest.mark.parametrize(
    ("cloud", "url"),
    [
        ("public", "https://graph.microsoft.com"),
        ("gcc", "https://graph.microsoft.com"),
        ("gcc-high", "https://graph.microsoft.us"),
        ("dod", "https://dod-graph.microsoft.us"),
    ],
)
def test_each_cloud_has_its_graph_host_and_audience(cloud: str, url: str) -> None:
    secret = "cloud-test-secret-0123456789"  # registered for redaction: one that masks nothing else
    env = {
        "MDE_CLOUD": cloud,
        "MDE_TENANT_ID": "t",
        "MDE_CLIENT_ID": "c",
        "MDE_CLIENT_SECRET": secret,
    }
    graph = Config.from_env(env).for_api("graph")
    assert (graph.api_url, graph.scope) == (url, f"{url}/.default")
    assert graph.client_secret == secret  # the same app registration gets a token per audience
