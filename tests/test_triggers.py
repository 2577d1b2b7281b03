"""Serverless triggers with realistic events, against the emulator."""

from __future__ import annotations

import base64
import json
from typing import Any

import azure.functions as func
import pytest
from conftest import run_python, user_env

from mdepack.emulator import Emulator
from mdepack.errors import InputError, NotFoundError
from mdepack.triggers import aws_lambda, azure_functions


@pytest.fixture
def live(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    for key in [k for k in __import__("os").environ if k.startswith("MDE_")]:
        monkeypatch.delenv(key)
    for key, value in emulator.env().items():
        monkeypatch.setenv(key, value)
    return emulator


def v1(path: str, body: Any, method: str = "POST", encode: bool = False) -> dict[str, Any]:
    text = body if isinstance(body, str) else json.dumps(body)
    return {
        "resource": "/actions/{action}",
        "path": path,
        "httpMethod": method,
        "headers": {"content-type": "application/json"},
        "requestContext": {"stage": "prod", "httpMethod": method},
        "body": base64.b64encode(text.encode()).decode() if encode else text,
        "isBase64Encoded": encode,
    }


def v2(path: str, body: Any) -> dict[str, Any]:
    return {
        "version": "2.0",
        "routeKey": "POST /actions/{action}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"content-type": "application/json"},
        "requestContext": {"http": {"method": "POST", "path": path}, "stage": "$default"},
        "body": json.dumps(body),
        "isBase64Encoded": False,
    }


def test_direct_invocation_returns_the_output(live: Emulator) -> None:
    output = aws_lambda.handler(
        {"action": "get_file_machines", "input": {"sha1": live.fleet.file_with(2)}}, None
    )
    assert output["count"] == 2


def test_direct_invocation_raises_the_packs_error_type(live: Emulator) -> None:
    with pytest.raises(InputError) as caught:
        aws_lambda.handler({"action": "get_file_machines", "input": {"sha1": "abc"}}, None)
    assert type(caught.value).__name__ == "InputError"
    with pytest.raises(NotFoundError):
        aws_lambda.handler({"action": "get_machine", "input": {"machine_id": "0" * 40}}, None)


def test_direct_playbook_invocation(live: Emulator) -> None:
    outputs = aws_lambda.handler(
        {
            "playbook": "tag_machines_by_file_hash",
            "input": {"sha1": live.fleet.file_with(3), "tag": "sfn"},
        },
        None,
    )
    assert len(outputs["tagged"]) == 3


@pytest.mark.parametrize(
    "make", [v1, v2, lambda p, b: v1(p, b, encode=True)], ids=["v1", "v2", "v1-base64"]
)
def test_proxy_events_return_200_with_the_output(live: Emulator, make: Any) -> None:
    answer = aws_lambda.handler(
        make("/prod/actions/get_user_machines", {"user": "user1@contoso.com"}), None
    )
    assert answer["statusCode"] == 200 and answer["headers"]["Content-Type"] == "application/json"
    assert json.loads(answer["body"])["count"] == 3


@pytest.mark.parametrize(
    ("path", "body", "status", "error_type"),
    [
        (
            "/actions/get_file_machines",
            {"sha1": "d41d8cd98f00b204e9800998ecf8427e"},
            400,
            "InputError",
        ),
        ("/actions/get_file_machines", "{not json", 400, "InputError"),
        ("/actions/get_file_machines", "[" * 100_000 + "]" * 100_000, 400, "InputError"),
        (
            "/actions/get_file_machines",
            '{"sha1": ' + "[" * 5000 + "]" * 5000 + "}",
            400,
            "InputError",
        ),
        ("/actions/nope", {}, 404, "NotFound"),
        ("/playbooks/../../etc/passwd", {}, 404, "NotFound"),
        ("/playbooks/nope", {}, 404, "NotFound"),
        ("/actions/get_machine", {"machine_id": "0" * 40}, 502, "NotFoundError"),
    ],
)
def test_proxy_errors_map_to_statuses_with_a_json_body(
    live: Emulator, path: str, body: Any, status: int, error_type: str
) -> None:
    answer = aws_lambda.handler(v2(path, body) if isinstance(body, dict) else v1(path, body), None)
    assert answer["statusCode"] == status
    assert json.loads(answer["body"])["error"]["type"] == error_type


def test_read_only_app_maps_to_403(live: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MDE_CLIENT_ID", live.readonly_app.client_id)
    monkeypatch.setenv("MDE_CLIENT_SECRET", live.readonly_app.secret or "")
    body = {"machine_ids": [live.fleet.machines[0]["id"]], "tag": "t", "action": "Add"}
    answer = aws_lambda.handler(v2("/actions/tag_machines", body), None)
    assert answer["statusCode"] == 403
    assert json.loads(answer["body"])["error"]["type"] == "PermissionDeniedError"


def test_rate_limit_maps_to_429_with_retry_after(live: Emulator) -> None:
    live.add_fault(path="/api/files/", status=429, retry_after="900")
    answer = aws_lambda.handler(v2("/actions/get_file_machines", {"sha1": "a" * 40}), None)
    assert answer["statusCode"] == 429 and answer["headers"]["Retry-After"] == "900"


def test_an_api_outage_maps_to_502(live: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MDE_RETRIES", "off")
    live.add_fault(path="/api/files/", status=503)
    answer = aws_lambda.handler(v2("/actions/get_file_machines", {"sha1": "a" * 40}), None)
    assert answer["statusCode"] == 502
    assert json.loads(answer["body"])["error"]["type"] == "TransientError"


def test_wrong_credentials_map_to_502_and_no_secret_appears(
    live: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = live.write_app.secret or ""
    monkeypatch.setenv("MDE_CLIENT_SECRET", secret[::-1])
    answers = [
        aws_lambda.handler(v2("/actions/get_file_machines", {"sha1": "a" * 40}), None),
        azure_post("actions", "get_file_machines", b'{"sha1": "' + b"a" * 40 + b'"}'),
    ]
    assert (
        answers[0]["statusCode"] == 502
        and json.loads(answers[0]["body"])["error"]["type"] == "AuthError"
    )
    assert answers[1].status_code == 502
    for text in (answers[0]["body"], answers[1].get_body().decode()):
        assert secret not in text and secret[::-1] not in text and "eyJ" not in text


def test_get_is_refused_with_405(live: Emulator) -> None:
    assert (
        aws_lambda.handler(v1("/actions/list_machines", "", method="GET"), None)["statusCode"]
        == 405
    )


def azure_post(kind: str, name: str, body: bytes) -> func.HttpResponse:
    """Call the Azure app's function for `POST /api/{kind}/{name}` with a real HttpRequest."""
    request = func.HttpRequest(
        "POST", f"/api/{kind}/{name}", route_params={"name": name}, body=body
    )
    handler = azure_functions.run_action if kind == "actions" else azure_functions.run_playbook
    return handler(request)


def test_azure_function_app_routes_and_answers(live: Emulator) -> None:
    functions = azure_functions.app.get_functions()
    routes = sorted(
        b.get_dict_repr().get("route")
        for f in functions
        for b in f.get_bindings()
        if b.get_dict_repr().get("route")
    )
    assert routes == ["actions/{name}", "playbooks/{name}"]
    response = azure_post(
        "actions", "get_file_machines", json.dumps({"sha1": live.fleet.file_with(2)}).encode()
    )
    assert response.status_code == 200 and json.loads(response.get_body())["count"] == 2
    bad = azure_post("actions", "get_file_machines", b'{"sha1": "x"}')
    assert bad.status_code == 400 and bad.mimetype == "application/json"
    assert azure_post("actions", "nope", b"{}").status_code == 404
    played = azure_post("playbooks", "tag_machines_by_user", b'{"user": "user1", "tag": "az"}')
    assert played.status_code == 200 and len(json.loads(played.get_body())["tagged"]) == 3


def test_managed_identity_gets_a_token_once_across_warm_invocations(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in [k for k in __import__("os").environ if k.startswith("MDE_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("MDE_API_URL", emulator.url)
    monkeypatch.setenv("MDE_CA_BUNDLE", str(emulator.ca_path))
    monkeypatch.setenv("MDE_MANAGED_IDENTITY", "system")
    monkeypatch.setenv("IDENTITY_ENDPOINT", f"{emulator.url}/msi/token")
    monkeypatch.setenv("IDENTITY_HEADER", emulator.managed_identity_header)
    event = {"action": "get_file_machines", "input": {"sha1": emulator.fleet.file_with(2)}}
    assert aws_lambda.handler(event, None)["count"] == 2
    assert aws_lambda.handler(event, None)["count"] == 2
    assert emulator.token_requests == 1
    assert {c.client_id for c in emulator.calls()} == {emulator.managed_identity_app.client_id}


def test_a_cold_invocation_imports_only_what_the_action_needs(emulator: Emulator) -> None:
    code = (
        "import json, sys, time\n"
        "started = time.perf_counter()\n"
        "from mdepack.triggers.aws_lambda import handler\n"
        f"output = handler({{'action': 'get_file_machines', 'input': {{'sha1': '{emulator.fleet.file_with(2)}'}}}}, None)\n"
        "print(json.dumps({'count': output['count'], 'seconds': time.perf_counter() - started, 'modules': sorted(sys.modules)}))\n"
    )
    env = user_env(
        {
            "MDE_API_URL": emulator.url,
            "MDE_CA_BUNDLE": str(emulator.ca_path),
            "MDE_ACCESS_TOKEN": emulator.issue_token(emulator.write_app),
        }
    )
    result = json.loads(run_python(code, env))
    assert result["count"] == 2
    loaded = set(result["modules"])
    for heavy in (
        "msal",
        "jsonschema",
        "jmespath",
        "mdepack.emulator",
        "mdepack.playbook",
        "cryptography",
    ):
        assert heavy not in loaded, f"{heavy} was imported for one action"
