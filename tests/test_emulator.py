"""The emulator speaks the API contract: real MSAL gets tokens from it over TLS, and it answers
with Defender's status codes and error shapes."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import msal
import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from mdepack.emulator import Emulator, pki
from mdepack.emulator.authority import AUDIENCE
from mdepack.emulator.odata import ODataError, compile_filter, parse


def read_env(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if line)


def session_for(env: dict[str, str]) -> requests.Session:
    session = requests.Session()
    session.verify = env["REQUESTS_CA_BUNDLE"]
    session.trust_env = False  # REQUESTS_CA_BUNDLE on this machine would override verify
    return session


def msal_token(env: dict[str, str], client_id: str, credential: Any) -> dict[str, Any]:
    """What real MSAL gets from the emulator for this app and credential (a secret or a certificate)."""
    app = msal.ConfidentialClientApplication(
        client_id,
        client_credential=credential,
        authority=f"{env['MDE_AUTHORITY']}/{env['MDE_TENANT_ID']}",
        http_client=session_for(env),
        instance_discovery=False,
    )
    return app.acquire_token_for_client(scopes=[AUDIENCE + "/.default"])  # type: ignore[no-any-return]


@pytest.fixture
def env(emulator: Emulator) -> dict[str, str]:
    return read_env(emulator.state_dir / "env")


def get(env: dict[str, str], path: str, token: str | None, **kwargs: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return session_for(env).request(
        kwargs.pop("method", "GET"),
        env["MDE_API_URL"] + path,
        headers=headers,
        timeout=10,
        **kwargs,
    )


def test_env_file_has_everything_a_user_needs(env: dict[str, str], emulator: Emulator) -> None:
    expected = {
        "MDE_API_URL",
        "MDE_AUTHORITY",
        "MDE_TENANT_ID",
        "MDE_CLIENT_ID",
        "MDE_CLIENT_SECRET",
        "MDE_EMULATOR_READONLY_CLIENT_ID",
        "MDE_EMULATOR_READONLY_CLIENT_SECRET",
        "REQUESTS_CA_BUNDLE",
    }
    assert expected <= set(env)
    assert Path(env["REQUESTS_CA_BUNDLE"]).read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert env["MDE_API_URL"].startswith("https://127.0.0.1:")


def test_real_msal_gets_a_token_and_calls_the_api(env: dict[str, str]) -> None:
    result = msal_token(env, env["MDE_CLIENT_ID"], env["MDE_CLIENT_SECRET"])
    assert result["token_type"] == "Bearer"
    response = get(env, "/api/machines?$top=5", result["access_token"])
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json; odata.metadata=minimal")
    assert response.headers["OData-Version"] == "4.0"
    assert len(response.json()["value"]) == 5


@pytest.mark.parametrize("which", ["wrong secret", "unknown client"])
def test_bad_credentials_get_entras_invalid_client(env: dict[str, str], which: str) -> None:
    client_id = (
        env["MDE_CLIENT_ID"] if which == "wrong secret" else "00000000-0000-0000-0000-000000000000"
    )
    result = msal_token(env, client_id, "not-the-secret")
    assert result["error"] == "invalid_client"
    assert result["error_description"].startswith("AADSTS")


def test_a_forged_token_gets_401(env: dict[str, str]) -> None:
    forged_key = pki.rsa.generate_private_key(public_exponent=65537, key_size=2048)
    claims = {
        "aud": AUDIENCE,
        "tid": env["MDE_TENANT_ID"],
        "roles": ["Machine.ReadWrite.All"],
        "exp": 4_000_000_000,
        "iat": 0,
    }
    forged = pki.sign_jwt(claims, forged_key, "forged")
    response = get(env, "/api/machines", forged)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "Unauthorized"
    assert get(env, "/api/machines", None).status_code == 401


def test_an_expired_token_gets_401(emulator: Emulator, env: dict[str, str]) -> None:
    token = emulator.issue_token(emulator.write_app)
    assert get(env, "/api/machines?$top=1", token).status_code == 200
    emulator.expire_tokens()
    assert get(env, "/api/machines?$top=1", token).status_code == 401


def test_a_read_only_app_reads_but_gets_403_on_tags(
    env: dict[str, str], emulator: Emulator
) -> None:
    token = msal_token(
        env, env["MDE_EMULATOR_READONLY_CLIENT_ID"], env["MDE_EMULATOR_READONLY_CLIENT_SECRET"]
    )["access_token"]
    assert get(env, "/api/machines?$top=1", token).status_code == 200
    body = {"Value": "t", "Action": "Add", "MachineIds": [emulator.fleet.machines[0]["id"]]}
    response = get(
        env, "/api/machines/AddOrRemoveTagForMultipleMachines", token, method="POST", json=body
    )
    assert response.status_code == 403
    assert (
        response.json()["error"]["message"]
        == "Missing application roles. API required roles: Machine.ReadWrite.All, application roles: Machine.Read.All."
    )


def test_documented_400s(env: dict[str, str], emulator: Emulator) -> None:
    token = emulator.issue_token(emulator.write_app)
    assert get(env, "/api/machines?$top=10001", token).status_code == 400
    sha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    response = get(env, f"/api/files/{sha256}/machines", token)
    assert (response.status_code, response.json()["error"]["code"]) == (400, "InvalidHashValue")
    ids = [m["id"] for m in emulator.fleet.machines] * 9
    too_many = {"Value": "t", "Action": "Add", "MachineIds": ids[:501]}
    response = get(
        env, "/api/machines/AddOrRemoveTagForMultipleMachines", token, method="POST", json=too_many
    )
    assert response.json()["error"]["code"] == "MaximumBatchSizeExceeded"
    lower = {"value": "t", "action": "Add", "machineIds": ids[:1]}
    response = get(
        env, "/api/machines/AddOrRemoveTagForMultipleMachines", token, method="POST", json=lower
    )
    assert response.json()["error"]["code"] == "InvalidRequestBody"
    missing = {"Value": "t", "Action": "Add"}
    response = get(
        env, "/api/machines/AddOrRemoveTagForMultipleMachines", token, method="POST", json=missing
    )
    assert response.json()["error"]["code"] == "MissingRequiredParameter"


def test_other_endpoints(env: dict[str, str], emulator: Emulator) -> None:
    token = emulator.issue_token(emulator.write_app)
    machine = emulator.fleet.machines[0]
    assert get(env, f"/api/v1.0/machines/{machine['id']}", token).json()["id"] == machine["id"]
    assert (
        get(env, "/api/machines/" + "0" * 40, token).json()["error"]["code"] == "ResourceNotFound"
    )
    found = get(env, "/api/machines/findbytag?tag=Fin&useStartsWithFilter=true", token).json()[
        "value"
    ]
    assert found and all(any(t.startswith("Fin") for t in m["machineTags"]) for m in found)
    one = get(
        env,
        f"/api/machines/{machine['id']}/tags",
        token,
        method="POST",
        json={"Value": "x1", "Action": "Add"},
    )
    assert "x1" in one.json()["machineTags"]


def test_rate_limit_answers_429_with_retry_after_and_the_real_message(clock: Any) -> None:
    with Emulator(machines=3, clock=clock, rate_per_minute=5) as emulator:
        env = emulator.env()
        token = emulator.issue_token(emulator.write_app)
        statuses = [get(env, "/api/machines", token).status_code for _ in range(6)]
        assert statuses == [200] * 5 + [429]
        response = get(env, "/api/machines", token)
        assert response.headers["Retry-After"] == "60"
        error = response.json()["error"]
        assert error["code"] == "429"
        assert error["message"].startswith(
            "API calls quota exceeded! Maximum allowed 5 per 00:01:00"
        )
        assert "You can send requests again in 60 seconds." in error["message"]
        clock.advance(61)
        assert get(env, "/api/machines", token).status_code == 200


def test_client_certificate_app(emulator: Emulator) -> None:
    pem, certificate = pki.client_certificate()
    app = emulator.add_app(["Machine.Read.All"], certificate=certificate)
    from mdepack.auth import certificate_credential

    env = emulator.env()
    result = msal_token(env, app.client_id, certificate_credential(pem))
    assert "access_token" in result, result
    other_pem, _ = pki.client_certificate("someone else")
    refused = msal_token(env, app.client_id, certificate_credential(other_pem))
    assert refused.get("error") == "invalid_client"


def test_faults_status_drop_truncate_delay(env: dict[str, str], emulator: Emulator) -> None:
    token = emulator.issue_token(emulator.write_app)
    emulator.add_fault(path="/api/machines", status=503)
    assert get(env, "/api/machines", token).status_code == 503
    assert get(env, "/api/machines", token).status_code == 200
    emulator.add_fault(path="/api/machines", drop=True)
    with pytest.raises(requests.ConnectionError):
        get(env, "/api/machines", token)
    emulator.add_fault(path="/api/machines", truncate=True)
    with pytest.raises(requests.RequestException):
        get(env, "/api/machines", token).json()
    emulator.add_fault(path="/api/machines", delay=0.3)
    started = time.perf_counter()
    assert get(env, "/api/machines", token).status_code == 200
    assert time.perf_counter() - started >= 0.3


def test_fleet_loads_from_json(tmp_path: Path, clock: Any) -> None:
    from mdepack.emulator.fleet import generate

    path = tmp_path / "fleet.json"
    path.write_text(generate(7, seed=3).to_json())
    with Emulator(data=path, clock=clock) as emulator:
        assert (
            len(emulator.fleet.machines) == 7
            and emulator.fleet.machines[0]["id"] == generate(7, seed=3).machines[0]["id"]
        )


def test_the_emulator_refuses_non_loopback_addresses() -> None:
    with pytest.raises(ValueError, match="loopback"):
        Emulator(host="0.0.0.0")  # noqa: S104 - the point of the test


# -- the OData parser -------------------------------------------------------------------------

MACHINE = json.loads((Path(__file__).parent / "fixtures" / "machine_real.json").read_text())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("healthStatus eq 'Active'", True),
        ("healthStatus ne 'Active'", False),
        ("riskScore eq 'High' or riskScore eq 'Medium'", True),
        ("not (rbacGroupId eq 140)", False),
        ("rbacGroupId ge 140 and rbacGroupId lt 141", True),
        ("lastSeen gt 2026-11-20T00:00:00Z", True),
        ("lastSeen le 2026-11-20T23:59:01.7654321Z", True),
        ("startswith(computerDnsName,'pc-47')", True),
        ("machineTags/any(tag: tag eq 'o''brien-lab')", True),
        ("machineTags/any(t: t eq 'nope')", False),
        ("aadDeviceId eq null", False),
        ("(healthStatus eq 'Active' or riskScore eq 'None') and osPlatform eq 'Windows11'", True),
    ],
)
def test_filters_evaluate(text: str, expected: bool) -> None:
    assert compile_filter(text)(MACHINE) is expected


@pytest.mark.parametrize(
    "text",
    [
        "healthStatus eq",
        "bogus eq 1",
        "healthStatus = 'x'",
        "healthStatus eq 'x",
        "(riskScore eq 'High'",
        "healthStatus eq 'a' extra",
    ],
)
def test_malformed_filters_are_odata_errors(text: str) -> None:
    with pytest.raises(ODataError):
        parse(text)


FIELDS = {
    "healthStatus": ["Active", "Inactive", "o'x"],
    "riskScore": ["High", "Low", None],
    "rbacGroupId": [0, 140],
}


@st.composite
def expressions(draw: st.DrawFn, depth: int = 0) -> tuple[str, Any]:
    """(filter text, a reference evaluator built from the same choices)."""
    if depth > 2 or draw(st.booleans()):
        field = draw(st.sampled_from(sorted(FIELDS)))
        value = draw(st.sampled_from(FIELDS[field]))
        op = draw(st.sampled_from(["eq", "ne"]))
        literal = (
            "null"
            if value is None
            else (str(value) if isinstance(value, int) else "'" + value.replace("'", "''") + "'")
        )
        return f"{field} {op} {literal}", (
            lambda m, f=field, v=value, o=op: (m.get(f) == v) == (o == "eq")
        )
    kind = draw(st.sampled_from(["and", "or", "not"]))
    left_text, left = draw(expressions(depth + 1))
    if kind == "not":
        return f"not ({left_text})", (lambda m, a=left: not a(m))
    right_text, right = draw(expressions(depth + 1))
    if kind == "and":
        return f"({left_text}) and ({right_text})", (lambda m, a=left, b=right: a(m) and b(m))
    return f"({left_text}) or ({right_text})", (lambda m, a=left, b=right: a(m) or b(m))


@settings(max_examples=150, deadline=None)
@given(
    expressions(),
    st.sampled_from(FIELDS["healthStatus"]),
    st.sampled_from(FIELDS["riskScore"]),
    st.sampled_from(FIELDS["rbacGroupId"]),
)
def test_parser_matches_a_reference_evaluation(
    expression: tuple[str, Any], health: str, risk: str | None, group: int
) -> None:
    text, reference = expression
    machine = {"healthStatus": health, "riskScore": risk, "rbacGroupId": group}
    assert compile_filter(text)(machine) == reference(machine)


# -- fidelity to the documented machine-action contract ------------------------------------


def test_isolation_type_is_optional_and_full_by_default(
    env: dict[str, str], emulator: Emulator
) -> None:
    token = emulator.issue_token(emulator.write_app)
    machine_id = emulator.fleet.machines[0]["id"]
    created = get(
        env, f"/api/machines/{machine_id}/isolate", token, method="POST", json={"Comment": "c"}
    )
    assert created.status_code == 201, created.text
    assert created.json()["scope"] == "Full"


def test_entity_answers_carry_their_odata_context(env: dict[str, str], emulator: Emulator) -> None:
    token = emulator.issue_token(emulator.write_app)
    machine_id = emulator.fleet.machines[1]["id"]
    machine = get(env, f"/api/machines/{machine_id}", token).json()
    assert machine["@odata.context"].endswith("/api/$metadata#Machines/$entity")
    action = get(
        env,
        f"/api/machines/{machine_id}/collectInvestigationPackage",
        token,
        method="POST",
        json={"Comment": "c"},
    ).json()
    assert action["@odata.context"].endswith("/api/$metadata#MachineActions/$entity")
    again = get(env, f"/api/machineactions/{action['id']}", token).json()
    assert again["@odata.context"] == action["@odata.context"]


def test_error_bodies_are_compact_json(env: dict[str, str], emulator: Emulator) -> None:
    token = emulator.issue_token(emulator.write_app)
    answer = get(env, "/api/machines/" + "0" * 40, token)
    assert answer.status_code == 404
    assert answer.text.startswith('{"error":{"code":"ResourceNotFound","message":')
    assert ": " not in answer.text.replace("Machine ", "")


def test_cancel_takes_any_listed_role_and_the_package_link_needs_a_read_role(
    env: dict[str, str], emulator: Emulator
) -> None:
    writer = emulator.issue_token(emulator.write_app)
    machine_id = emulator.fleet.machines[2]["id"]
    action = get(
        env,
        f"/api/machines/{machine_id}/runAntiVirusScan",
        writer,
        method="POST",
        json={"Comment": "c", "ScanType": "Quick"},
    ).json()
    live_response = emulator.issue_token(emulator.add_app(["Machine.LiveResponse"]))
    cancelled = get(
        env,
        f"/api/machineactions/{action['id']}/cancel",
        live_response,
        method="POST",
        json={"Comment": "stop"},
    )
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "Cancelled"
    forensics = emulator.issue_token(emulator.add_app(["Machine.CollectForensics"]))
    refused = get(env, f"/api/machineactions/{action['id']}/getPackageUri", forensics)
    assert refused.status_code == 403
    reader = emulator.issue_token(emulator.readonly_app)
    assert get(env, f"/api/machineactions/{action['id']}/getPackageUri", reader).status_code == 404
