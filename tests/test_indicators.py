"""Custom indicators through the CLI against the emulator: submit (type inference, batching at 500,
a partial import failure, refusals before any call), list with structured filters, delete
(batches, unknown ids), and the rules of `mdepack.indicators` on their own."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import CliResult, run_cli

from mdepack.api import ActionApi
from mdepack.client import ApiClient
from mdepack.clock import ManualClock
from mdepack.emulator import Emulator
from mdepack.errors import InputError
from mdepack.indicators import classify
from mdepack.invoke import invoke
from mdepack.manifest import load

pytestmark = pytest.mark.slow
SHA1 = "1e5bc9d7e413ddd7902c2932e418702b84d0cc07"
SHA256 = "e" * 64
MD5 = "d41d8cd98f00b204e9800998ecf8427e"
BASE = {"action": "Block", "title": "IR-4711: dropper", "description": "Seen on finance laptops"}


@pytest.fixture(scope="module")
def live() -> Iterator[Emulator]:
    with Emulator(machines=10) as emulator:
        yield emulator


def run(live: Emulator, name: str, /, **inputs: Any) -> CliResult:
    return run_cli("run", name, "--input", "-", env=live.env(), stdin=json.dumps(inputs))


def imports(live: Emulator) -> list[Any]:
    return live.calls("/api/indicators/import", "POST")


# -- what a value is ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "kind", "sent"),
    [
        (MD5.upper(), "FileMd5", MD5),
        (SHA1, "FileSha1", SHA1),
        (SHA256, "FileSha256", SHA256),
        ("10.1.2.3", "IpAddress", "10.1.2.3"),
        ("2001:db8::1", "IpAddress", "2001:db8::1"),
        ("https://evil.example/payload?x=1", "Url", "https://evil.example/payload?x=1"),
        ("Evil.Example.COM", "DomainName", "evil.example.com"),
    ],
)
def test_the_type_is_told_from_the_value(value: str, kind: str, sent: str) -> None:
    found = classify(value, None, "values[0]")
    assert (found.type, found.value) == (kind, sent)


@pytest.mark.parametrize(
    ("value", "given", "words"),
    [
        ("10.0.0.0/8", None, "CIDR range"),
        ("2001:db8::/32", "IpAddress", "CIDR range"),
        ("not a thing", None, "none of the indicator types"),
        ("abc", None, "none of the indicator types"),
        (SHA1, "FileSha256", "not a value of indicator_type FileSha256"),
        ("10.1.2.3", "DomainName", "not a value of indicator_type DomainName"),
    ],
)
def test_values_that_are_no_indicator_are_named(value: str, given: str | None, words: str) -> None:
    with pytest.raises(InputError, match=words) as caught:
        classify(value, given, "values[3]")
    assert caught.value.field == "values[3]" and value in caught.value.message


def test_a_certificate_thumbprint_is_named_since_it_looks_like_a_sha1() -> None:
    assert (
        classify(SHA1.upper(), "CertificateThumbprint", "values[0]").type == "CertificateThumbprint"
    )


# -- submit ---------------------------------------------------------------------------------


def test_submit_infers_types_dedupes_and_reports_each_id(live: Emulator) -> None:
    live.clear_log()
    result = run(
        live, "submit_indicators", values=[SHA1, SHA1.upper(), "evil.example", "10.9.8.7"], **BASE
    )
    assert result.code == 0, result.stderr
    output = result.json
    assert [(i["value"], i["type"], i["outcome"]) for i in output["indicators"]] == [
        (SHA1, "FileSha1", "submitted"),
        ("evil.example", "DomainName", "submitted"),
        ("10.9.8.7", "IpAddress", "submitted"),
    ]
    assert all(i["id"] for i in output["indicators"]) and output["count"] == 3
    (call,) = imports(live)
    assert call.body["Indicators"][0] == {
        "indicatorValue": SHA1,
        "indicatorType": "FileSha1",
        **BASE,
        "action": "Block",
    }
    listed = run(live, "list_indicators", value=SHA1)
    assert [i["id"] for i in listed.json["indicators"]] == [output["indicators"][0]["id"]]


def test_submitting_a_value_again_updates_it(live: Emulator) -> None:
    first = run(live, "submit_indicators", values=["again.example"], **BASE)
    second = run(live, "submit_indicators", values=["again.example"], **{**BASE, "action": "Warn"})
    assert first.json["indicators"][0]["id"] == second.json["indicators"][0]["id"]
    listed = run(live, "list_indicators", value="again.example")
    assert [i["action"] for i in listed.json["indicators"]] == ["Warn"]


def test_1200_values_take_three_import_calls(live: Emulator) -> None:
    live.clear_log()
    values = [f"{n:040x}" for n in range(1, 1201)]
    result = run(live, "submit_indicators", values=values, max_indicators=1200, **BASE)
    assert result.code == 0, result.stderr
    assert [len(c.body["Indicators"]) for c in imports(live)] == [500, 500, 200]
    assert result.json["summary"]["submitted"] == 1200 and result.json["calls"] == 3


def test_one_failed_item_is_reported_and_the_rest_go_in(live: Emulator) -> None:
    bad = "https://evil.example/x"
    live.add_fault(
        path="^/api/indicators/import$",
        method="POST",
        status=200,
        reply=json.dumps(
            {
                "value": [
                    {"id": "5001", "indicator": SHA256, "isFailed": False, "failureReason": None},
                    {
                        "id": None,
                        "indicator": bad,
                        "isFailed": True,
                        "failureReason": "Url is in an allowed domain",
                    },
                ]
            }
        ).encode(),
    )
    result = run(live, "submit_indicators", values=[SHA256, bad, "missing.example"], **BASE)
    assert result.code == 3  # not everything asked is in effect
    outcomes = {i["value"]: i for i in result.json["indicators"]}
    assert outcomes[SHA256]["outcome"] == "submitted" and outcomes[SHA256]["id"] == "5001"
    assert outcomes[bad]["outcome"] == "failed"
    assert outcomes[bad]["reason"] == "Url is in an allowed domain"
    assert outcomes["missing.example"]["outcome"] == "unconfirmed"
    assert result.json["summary"] == {
        "submitted": 1,
        "failed": 1,
        "unconfirmed": 1,
        "not_sent": 0,
        "not_done": 2,
    }


def test_the_emulator_fails_one_item_of_an_import_on_its_own(live: Emulator) -> None:
    # An Audit without generateAlert cannot come from the pack; sent raw, it fails alone.
    token = live.issue_token(live.write_app)
    import requests

    answer = requests.post(
        f"{live.url}/api/indicators/import",
        json={
            "Indicators": [
                {"indicatorValue": "ok.example", "indicatorType": "DomainName", **BASE},
                {
                    "indicatorValue": "audit.example",
                    "indicatorType": "DomainName",
                    **BASE,
                    "action": "Audit",
                },
            ]
        },
        headers={"Authorization": f"Bearer {token}"},
        verify=str(live.ca_path),
        timeout=10,
    )
    first, second = answer.json()["value"]
    assert first["isFailed"] is False and first["id"]
    assert second["isFailed"] is True and "generateAlert" in second["failureReason"]


def test_a_failure_part_way_carries_every_value(live: Emulator) -> None:
    live.add_fault(path="^/api/indicators/import$", method="POST", status=403, after=1, times=1)
    values = [f"{n:064x}" for n in range(1, 601)]
    result = run(live, "submit_indicators", values=values, max_indicators=600, **BASE)
    assert result.code == 1 and result.error["type"] == "PermissionDeniedError"
    summary = result.error["summary"]
    assert summary["submitted"] == 500 and summary["not_sent"] == 100
    assert "500 submitted, 100 not sent" in result.error["message"]


@pytest.mark.parametrize(
    ("inputs", "field", "words"),
    [
        ({"values": ["10.0.0.0/24"]}, "values[0]", "CIDR range"),
        ({"values": [SHA1, "what is this"]}, "values[1]", "none of the indicator types"),
        ({"values": [SHA1], "indicator_type": "FileMd5"}, "values[0]", "not a value of"),
        ({"values": [SHA1], "action": "Audit"}, "generate_alert", "requires generate_alert"),
        ({"values": [SHA1], "action": "Alert"}, "action", "use Audit with generate_alert"),
        ({"values": [SHA1], "action": "AlertAndBlock"}, "action", "use Block"),
        ({"values": [f"{n:040x}" for n in range(101)]}, "values", "more than max_indicators (100)"),
        ({"values": []}, "values", ""),
        ({"values": [SHA1], "title": ""}, "title", ""),
    ],
)
def test_each_refusal_exits_2_before_any_call(
    live: Emulator, inputs: dict[str, Any], field: str, words: str
) -> None:
    live.clear_log()
    result = run(live, "submit_indicators", **{**BASE, **inputs})
    assert result.code == 2, result.stdout
    assert result.error["field"] == field and words in result.error["message"]
    assert live.calls("/api/indicators") == []


def test_a_dry_run_sends_nothing_and_exits_0(live: Emulator) -> None:
    live.clear_log()
    result = run(live, "submit_indicators", values=[SHA1, "dry.example"], dry_run=True, **BASE)
    assert result.code == 0 and result.json["dry_run"] is True and result.json["calls"] == 1
    assert [i["outcome"] for i in result.json["indicators"]] == ["not_sent", "not_sent"]
    assert live.calls("/api/indicators") == []


def test_import_is_paced_at_30_a_minute(
    emulator: Emulator, client: ApiClient, clock: ManualClock
) -> None:
    api = ActionApi(client, load().action("submit_indicators"))
    began = clock.monotonic()
    for n in range(31):
        one = {"indicatorValue": f"{n:040x}", "indicatorType": "FileSha1", **BASE}
        api.post({"Indicators": [one]})
    assert clock.monotonic() - began >= 59  # the 31st call waited for the endpoint's minute
    assert all(c.status == 200 for c in emulator.calls("/api/indicators/import"))


# -- list and delete ------------------------------------------------------------------------


def test_list_filters_are_values_escaped_and_or_ed(live: Emulator) -> None:
    quoted = {**BASE, "title": "IR-4711: o'brien's laptop", "severity": "High"}
    made = run(live, "submit_indicators", values=["obrien.example"], **quoted)
    assert made.code == 0, made.stderr
    live.clear_log()
    listed = run(
        live, "list_indicators", title=[quoted["title"], "nothing"], severity=["High", "Low"]
    )
    assert listed.code == 0, listed.stderr
    assert [i["indicatorValue"] for i in listed.json["indicators"]] == ["obrien.example"]
    (call,) = live.calls("/api/indicators", "GET")
    assert "'IR-4711: o''brien''s laptop'" in call.query["$filter"]


def test_an_app_with_ti_readwrite_sees_only_its_own(live: Emulator, clock: ManualClock) -> None:
    own = live.add_app(["Ti.ReadWrite"])
    env = live.env(own)
    mine = run_cli(
        "run",
        "submit_indicators",
        "--input",
        json.dumps({**BASE, "values": ["mine.example"]}),
        env=env,
    )
    assert mine.code == 0, mine.stderr
    listed = run_cli("run", "list_indicators", "--input", "{}", env=env)
    assert [i["indicatorValue"] for i in listed.json["indicators"]] == ["mine.example"]


def test_delete_in_batches_and_unknown_ids_are_named(live: Emulator) -> None:
    made = run(live, "submit_indicators", values=[f"{n:032x}" for n in range(1, 4)], **BASE)
    ids = [i["id"] for i in made.json["indicators"]]
    live.clear_log()
    result = run(live, "delete_indicators", indicator_ids=[*ids, "999999", ids[0]])
    assert result.code == 3  # one id was not found: not everything asked was done
    assert result.json["deleted"] == ids and result.json["not_found"] == ["999999"]
    assert result.json["summary"]["not_done"] == 1
    calls = live.calls("/api/indicators")
    assert [(c.method, c.status) for c in calls][:1] == [("POST", 404)]
    assert sorted(c.path.rsplit("/", 1)[-1] for c in calls[1:]) == sorted([*ids, "999999"])
    again = run(live, "list_indicators", value=[f"{n:032x}" for n in range(1, 4)])
    assert again.json["count"] == 0


def test_delete_refuses_more_than_max_indicators_and_a_dry_run_sends_nothing(
    live: Emulator,
) -> None:
    live.clear_log()
    refused = run(live, "delete_indicators", indicator_ids=[str(n) for n in range(1, 102)])
    assert refused.code == 2 and refused.error["field"] == "indicator_ids"
    planned = run(live, "delete_indicators", indicator_ids=["1", "2"], dry_run=True)
    assert planned.code == 0 and planned.json["planned"] == ["1", "2"]
    bad = run(live, "delete_indicators", indicator_ids=["../1"])
    assert bad.code == 2 and bad.error["field"].startswith("indicator_ids")
    assert live.calls("/api/indicators") == []


def test_python_callers_get_the_same_result(live: Emulator) -> None:
    from mdepack.config import Config

    client = ApiClient(Config.from_env(live.env()))
    result = invoke("submit_indicators", {**BASE, "values": ["py.example"]}, client=client)
    assert result["indicators"][0]["outcome"] == "submitted"


# -- the playbook ---------------------------------------------------------------------------


def test_the_block_file_hash_playbook_plans_then_blocks_and_tags(live: Emulator) -> None:
    from mdepack.emulator.routes.files import sha256_of

    sha1 = live.fleet.file_with(2)
    inputs = {"hash": sha256_of(sha1), "title": "IR-4712", "comment": "dropper", "tag": "blocked"}

    def block(given: dict[str, Any]) -> CliResult:
        command = ("playbook", "run", "block_file_hash", "--input", "-")
        return run_cli(*command, env=live.env(), stdin=json.dumps(given))

    def tagged() -> list[str]:
        return [m["id"] for m in live.fleet.machines if "blocked" in m["machineTags"]]

    live.clear_log()
    planned = block(inputs)
    assert planned.code == 0, planned.stderr
    outputs = planned.json
    assert outputs["dry_run"] is True and outputs["sha1"] == sha1
    assert [i["outcome"] for i in outputs["indicators"]] == ["not_sent"]
    assert outputs["indicators"][0]["type"] == "FileSha256"
    assert len(outputs["machines"]) == 2 and outputs["tagged"] == []
    assert imports(live) == [] and tagged() == []

    done = block({**inputs, "dry_run": False})
    assert done.code == 0, done.stderr
    outputs = done.json
    assert outputs["dry_run"] is False
    [indicator] = outputs["indicators"]
    assert indicator["outcome"] == "submitted" and indicator["id"]
    stored = live.indicators.items[indicator["id"]]
    assert (stored["indicatorValue"], stored["action"]) == (sha256_of(sha1), "Block")
    assert sorted(outputs["tagged"]) == sorted(m["id"] for m in outputs["machines"])
    assert sorted(tagged()) == sorted(outputs["tagged"])
