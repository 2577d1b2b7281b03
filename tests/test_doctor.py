"""`mdepack doctor`: the configuration found (no secret), the token's roles against what each
action needs, one cheap read; exit 0 only when the Defender API answered, else the host, port and
reason. Nothing is written."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest
from conftest import run_cli

from mdepack.emulator import Emulator

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def live() -> Iterator[Emulator]:
    with Emulator(machines=5) as emulator:
        yield emulator


def test_a_working_configuration_answers_with_every_action_runnable(live: Emulator) -> None:
    live.clear_log()
    checked = run_cli("doctor", "--json", env=live.env())
    assert checked.code == 0, checked.stderr
    report = checked.json
    assert report["configuration"]["credential"] == "client secret"
    assert report["token"]["obtained"] is True
    assert "Machine.ReadWrite.All" in report["token"]["roles"]
    assert report["api"] == {
        "answered": True,
        "host": "127.0.0.1",
        "port": int(live.url.rsplit(":", 1)[1]),
        "call": "GET /api/machines?$top=1",
        "machines": 1,
    }
    assert all(
        verdict == {"can_run": True, "missing_roles": []} for verdict in report["actions"].values()
    )
    graph = report["graph"]
    assert graph["configured"] is True
    assert graph["token"]["obtained"] is True
    assert "ThreatHunting.Read.All" in graph["token"]["roles"]
    assert graph["api"]["answered"] is True
    assert graph["api"]["call"] == "GET /v1.0/security/alerts_v2?$top=1"
    assert [(c.method, c.path) for c in live.calls()] == [
        ("GET", "/api/machines"),
        ("GET", "/v1.0/security/alerts_v2"),
    ]  # no writes
    assert live.write_app.secret not in checked.stdout


def test_a_read_only_app_is_told_which_role_each_write_lacks(live: Emulator) -> None:
    env = {
        **live.env(),
        "MDE_CLIENT_ID": live.readonly_app.client_id,
        "MDE_CLIENT_SECRET": str(live.readonly_app.secret),
    }
    report = run_cli("doctor", "--json", env=env).json
    actions = report["actions"]
    assert actions["list_machines"] == {"can_run": True, "missing_roles": []}
    assert actions["tag_machines"] == {"can_run": False, "missing_roles": ["Machine.ReadWrite.All"]}
    assert actions["isolate_machines"]["missing_roles"] == ["Machine.Isolate"]
    # Graph actions are judged by the Graph token's roles, not the Defender token's.
    assert actions["run_hunting_query"] == {
        "can_run": False,
        "missing_roles": ["ThreatHunting.Read.All"],
    }
    said = run_cli("doctor", env=env)
    assert said.code == 0
    assert "tag_machines: missing Machine.ReadWrite.All" in said.stdout
    assert "run_hunting_query: missing ThreatHunting.Read.All" in said.stdout
    runnable = sum(bool(a["can_run"]) for a in actions.values())
    assert f"actions: {runnable} of {len(actions)} can run with these roles" in said.stdout


def test_a_defender_token_alone_says_graph_needs_its_own(live: Emulator) -> None:
    token = live.issue_token(live.write_app)
    env = {"MDE_ACCESS_TOKEN": token, "MDE_API_URL": live.url, "MDE_CA_BUNDLE": str(live.ca_path)}
    report = run_cli("doctor", "--json", env=env).json
    assert report["api"]["answered"] is True
    assert report["graph"]["configured"] is False
    assert report["graph"]["error"]["field"] == "MDE_GRAPH_ACCESS_TOKEN"
    assert report["actions"]["get_alert"]["can_run"] is None  # no Graph token: unknown
    assert token not in json.dumps(report)


def test_an_api_that_does_not_answer_exits_1_naming_host_port_and_reason(live: Emulator) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**live.env(), "MDE_API_URL": f"https://127.0.0.1:{port}"}
    checked = run_cli("doctor", "--json", env=env)
    assert checked.code == 1
    api = checked.json["api"]
    assert api["answered"] is False and (api["host"], api["port"]) == ("127.0.0.1", port)
    assert "connection refused" in api["reason"]
    said = run_cli("doctor", env=env)
    assert said.code == 1 and f"API: did NOT answer at 127.0.0.1:{port}" in said.stdout


def test_an_incomplete_configuration_is_reported_not_crashed() -> None:
    checked = run_cli("doctor", "--json", env={"MDE_TENANT_ID": "t"})
    assert checked.code == 1
    assert checked.json["configuration"]["error"]["type"] == "ConfigError"
    assert checked.json["actions"]["list_machines"]["can_run"] is None
