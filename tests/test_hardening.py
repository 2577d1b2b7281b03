"""Hardening: inputs that must not widen or redirect a request, bounded cost and time, writes that
are always accounted for, real-world answer shapes, and redaction. Each test names the defect it
guards against; all run against the emulator on 127.0.0.1."""

from __future__ import annotations

import http.server
import json
import logging
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import certifi
import pytest
from conftest import make_client, run_cli

from mdepack.client import ApiClient
from mdepack.clock import ManualClock
from mdepack.config import Config
from mdepack.emulator import Emulator
from mdepack.emulator.fleet import generate
from mdepack.errors import (
    ApiError,
    AuthError,
    ConfigError,
    GuardError,
    InputError,
    TransientError,
)
from mdepack.invoke import invoke
from mdepack.playbook.runner import run_file
from mdepack.redact import redact, register_secret

TAG_PATH = "/api/machines/AddOrRemoveTagForMultipleMachines"


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def counting_server() -> Iterator[tuple[str, list[str]]]:
    """A plain HTTP server on 127.0.0.1 that records every request it gets."""
    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b'{"type": "object"}')

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


# -- 1. the OData escape hatch cannot OR past the structured filters ---------------------------


def test_unbalanced_odata_filter_is_refused_before_any_call(
    emulator: Emulator, client: ApiClient
) -> None:
    with pytest.raises(InputError, match="odata_filter: parentheses must balance") as caught:
        invoke(
            "list_machines",
            {"rbac_group_id": [999999], "odata_filter": "true) or (true"},
            client=client,
        )
    assert caught.value.field == "odata_filter"
    assert emulator.calls() == []


@pytest.mark.parametrize("text", ["(healthStatus eq 'Active'", "computerDnsName eq 'open"])
def test_unclosed_parenthesis_or_literal_is_refused(
    emulator: Emulator, client: ApiClient, text: str
) -> None:
    with pytest.raises(InputError, match="odata_filter"):
        invoke("list_machines", {"odata_filter": text}, client=client)
    assert emulator.calls() == []


def test_parentheses_inside_a_literal_are_text(emulator: Emulator, client: ApiClient) -> None:
    result = invoke(
        "list_machines",
        {"rbac_group_id": 140, "odata_filter": "computerDnsName eq 'odd) name' or true"},
        client=client,
    )
    (call,) = emulator.calls("/api/machines")
    assert call.query["$filter"] == (
        "rbacGroupId eq 140 and (computerDnsName eq 'odd) name' or true)"
    )
    assert all(m["rbacGroupId"] == 140 for m in result["machines"])


# -- 2. the loopback-only rule for http:// cannot be bypassed ---------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://203.0.113.5:8000\\@127.0.0.1",
        "http://203.0.113.5:8000@127.0.0.1",
        "http://user:pw@127.0.0.1:8443",
        "https://127.0.0.1:8443\\x",
        "http://127.0.0.1 .example:80",
    ],
)
@pytest.mark.parametrize("variable", ["MDE_API_URL", "MDE_AUTHORITY"])
def test_urls_the_parser_and_http_could_read_differently_are_refused(
    url: str, variable: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        Config.from_env({variable: url, "MDE_ACCESS_TOKEN": "t" * 20})
    assert caught.value.field == variable and caught.value.exit_code == 2


def test_the_backslash_trick_exits_2_from_the_cli() -> None:
    result = run_cli(
        "run",
        "get_machine",
        "--input",
        '{"machine_id": "' + "a" * 40 + '"}',
        env={"MDE_API_URL": "http://203.0.113.5:8000\\@127.0.0.1", "MDE_ACCESS_TOKEN": "x" * 30},
    )
    assert result.code == 2 and result.error["type"] == "ConfigError"
    assert result.error["field"] == "MDE_API_URL"


# -- 3. look-alike characters are checked as what they mimic ------------------------------------


@pytest.mark.parametrize("user", ["．．", "a／b", "．．／etc", "us\u200ber", "user\u202e1"])
def test_unicode_look_alikes_and_invisible_characters_are_refused(
    emulator: Emulator, client: ApiClient, user: str
) -> None:
    with pytest.raises(InputError) as caught:
        invoke("get_user_machines", {"user": user}, client=client)
    assert caught.value.field == "user"
    assert emulator.calls() == []


def test_a_legitimate_accented_name_is_percent_encoded(
    emulator: Emulator, client: ApiClient
) -> None:
    invoke("get_user_machines", {"user": "jose\u0301@contoso.com"}, client=client)
    (call,) = emulator.calls("/api/users/")
    assert call.path == "/api/users/jos%C3%A9/machines"  # composed by NFKC, then encoded


# -- 4. playbook $refs resolve only to the pack's own schemas ---------------------------------


def _playbook_with_ref(tmp_path: Path, ref: str) -> Path:
    path = tmp_path / "p.yaml"
    path.write_text(
        "name: p\n"
        "inputs:\n"
        "  type: object\n"
        "  properties:\n"
        f"    sha1: {{$ref: {json.dumps(ref)}}}\n"
        "steps:\n"
        "  - id: related\n"
        "    action: get_file_machines\n"
        "    with: {sha1: '${{ inputs.sha1 }}'}\n"
    )
    return path


def test_a_ref_to_an_http_url_is_refused_and_never_fetched(
    tmp_path: Path, counting_server: tuple[str, list[str]], emulator: Emulator, client: ApiClient
) -> None:
    base, seen = counting_server
    path = _playbook_with_ref(tmp_path, f"{base}/schema.json")
    with pytest.raises(InputError, match="never fetched") as caught:
        run_file(path, {"sha1": "a" * 40}, client=client)
    assert "line 5" in caught.value.message
    checked = run_cli("playbook", "check", str(path))
    assert checked.code == 2 and "never fetched" in checked.stderr
    assert seen == [] and emulator.calls() == []


@pytest.mark.parametrize("ref", ["file:///etc/passwd", "../../../../etc/passwd", "/etc/passwd"])
def test_a_ref_to_a_local_file_is_a_check_error_not_a_crash(tmp_path: Path, ref: str) -> None:
    checked = run_cli("playbook", "check", str(_playbook_with_ref(tmp_path, ref)))
    assert checked.code == 2
    assert "is not one of the pack's schemas" in checked.stderr
    assert "FileNotFoundError" not in checked.stderr and "root:" not in checked.stderr


def test_a_ref_to_the_packs_own_schema_still_works(
    tmp_path: Path, emulator: Emulator, client: ApiClient
) -> None:
    path = _playbook_with_ref(tmp_path, "../schemas/common.json#/$defs/sha1")
    assert run_cli("playbook", "check", str(path)).code == 0
    with pytest.raises(InputError, match=r"inputs\.sha1"):
        run_file(path, {"sha1": "not-a-hash"}, client=client)


# -- 5. --input reads only regular files and stdin, up to a cap -----------------------------


def test_input_from_a_device_is_refused() -> None:
    result = run_cli("run", "get_machine", "--input", "@/dev/zero")
    assert result.code == 2 and "not a regular file" in result.error["message"]


def test_input_from_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    result = run_cli("run", "get_machine", "--input", f"@{fifo}")  # would block forever
    assert result.code == 2 and "not a regular file" in result.error["message"]


def test_input_over_the_cap_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.json"
    with big.open("wb") as stream:
        stream.truncate(33 * 1024 * 1024)
    result = run_cli("run", "get_machine", "--input", f"@{big}")
    assert result.code == 2 and "larger than 32 MiB" in result.error["message"]
    piped = run_cli("run", "get_machine", "--input", "-", stdin=" " * (33 * 1024 * 1024))
    assert piped.code == 2 and "standard input is larger than 32 MiB" in piped.error["message"]


# -- 6. a huge invalid input is refused naming the first bad item and the count -------------


def test_200k_bad_ids_name_the_first_bad_item_and_the_count(emulator: Emulator) -> None:
    ids = ["a" * 40] * 10 + ["not an id"] * 199_990
    with pytest.raises(InputError) as caught:
        invoke("tag_machines", {"machine_ids": ids, "tag": "t", "action": "Add"})
    assert caught.value.field == "machine_ids[10]"
    assert "199,990 of 200,000 items fail" in caught.value.message
    assert emulator.calls() == []


# -- 7. a trickling server cannot hold a call past its deadline ----------------------------


def test_a_trickling_answer_ends_in_a_transient_error_at_the_deadline(
    emulator: Emulator, clock: ManualClock
) -> None:
    machine = emulator.fleet.machines[0]["id"]
    emulator.add_fault(path="/api/machines/", trickle=0.05, times=None)  # about 70 s of body
    client = make_client(emulator, clock, MDE_TIMEOUT="1", MDE_RETRIES="off")
    with pytest.raises(TransientError) as caught:  # at the deadline, not after the whole body
        invoke("get_machine", {"machine_id": machine}, client=client)
    assert caught.value.code == "Timeout" and "deadline" in caught.value.message


# -- 8. answers larger than the cap are refused and not retried ------------------------------


def test_an_answer_over_the_size_cap_is_a_typed_error_without_retries(
    emulator: Emulator, clock: ManualClock
) -> None:
    machine = emulator.fleet.machines[0]["id"]
    big = b'{"id": "' + machine.encode() + b'", "pad": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    emulator.add_fault(path="/api/machines/", reply=big, times=None)
    client = make_client(emulator, clock, MDE_MAX_RESPONSE_MB="1")
    with pytest.raises(ApiError) as caught:
        invoke("get_machine", {"machine_id": machine}, client=client)
    assert caught.value.code == "ResponseTooLarge" and "MDE_MAX_RESPONSE_MB" in caught.value.message
    assert client.calls == 1 and clock.slept == []


# -- 9. token-authority failures are typed ---------------------------------------------------


def test_an_unreachable_authority_is_a_transient_error(emulator: Emulator) -> None:
    port = closed_port()
    env = {**emulator.env(), "MDE_AUTHORITY": f"https://127.0.0.1:{port}"}
    expected = rf"token authority: connection to 127\.0\.0\.1:{port} failed"
    with pytest.raises(TransientError, match=expected):
        invoke("get_machine", {"machine_id": "a" * 40}, config=Config.from_env(env))
    result = run_cli("run", "get_machine", "--input", '{"machine_id": "' + "a" * 40 + '"}', env=env)
    assert result.code == 1 and result.error["type"] == "TransientError"


def test_an_authority_that_is_not_one_is_an_auth_error(emulator: Emulator) -> None:
    env = {**emulator.env(), "MDE_TENANT_ID": "not-a-tenant-here"}
    with pytest.raises(AuthError):
        invoke("get_machine", {"machine_id": "a" * 40}, config=Config.from_env(env))


def test_an_authority_with_an_untrusted_certificate_fails_once_naming_the_host(
    emulator: Emulator, tmp_path: Path
) -> None:
    env = {**emulator.env(), "MDE_CA_BUNDLE": certifi.where()}  # CAs that did not sign it
    with pytest.raises(ApiError) as caught:
        invoke("get_machine", {"machine_id": "a" * 40}, config=Config.from_env(env))
    assert caught.value.code == "CertificateVerifyFailed"
    assert "127.0.0.1" in caught.value.message and "MDE_CA_BUNDLE" in caught.value.message


def test_a_missing_ca_file_is_a_config_error_exit_2(emulator: Emulator, tmp_path: Path) -> None:
    env = {**emulator.env(), "MDE_CA_BUNDLE": str(tmp_path / "missing.pem")}
    result = run_cli("run", "get_machine", "--input", '{"machine_id": "' + "a" * 40 + '"}', env=env)
    assert result.code == 2 and result.error["type"] == "ConfigError"
    assert result.error["field"] == "MDE_CA_BUNDLE"


# -- 10. a certificate failure is not retried as if temporary ----------------------------------


def test_an_api_certificate_failure_is_not_retried(
    emulator: Emulator, clock: ManualClock, tmp_path: Path
) -> None:
    client = ApiClient(
        Config.from_env(
            {
                "MDE_API_URL": emulator.url,
                "MDE_CA_BUNDLE": certifi.where(),
                "MDE_ACCESS_TOKEN": emulator.issue_token(emulator.write_app),
            }
        ),
        clock=clock,
    )
    with pytest.raises(ApiError) as caught:
        invoke("get_machine", {"machine_id": "a" * 40}, client=client)
    assert not isinstance(caught.value, TransientError)
    assert caught.value.code == "CertificateVerifyFailed"
    assert "certificate verify failed" in caught.value.message
    assert client.calls == 1 and clock.slept == []


def test_a_refused_connection_names_the_host(clock: ManualClock, emulator: Emulator) -> None:
    port = closed_port()
    client = ApiClient(
        Config.from_env(
            {
                "MDE_API_URL": f"https://127.0.0.1:{port}",
                "MDE_ACCESS_TOKEN": "t" * 30,
                "MDE_RETRIES": "off",
            }
        ),
        clock=clock,
    )
    with pytest.raises(
        TransientError, match=rf"connection to 127\.0\.0\.1:{port} failed: connection refused"
    ):
        invoke("get_machine", {"machine_id": "a" * 40}, client=client)


# -- 11. every id of a tag write ends in exactly one list --------------------------------------


def _tag(client: ApiClient, ids: list[str]) -> dict[str, object]:
    return invoke(
        "tag_machines",
        {"machine_ids": ids, "tag": "ir", "action": "Add", "max_machines": 5000},
        client=client,
    )


@pytest.fixture
def fleet_1500(clock: ManualClock) -> Iterator[Emulator]:
    with Emulator(machines=1500, clock=clock) as emulator:
        yield emulator


@pytest.mark.parametrize(
    ("status", "reply"),
    [(200, b'{"status": "accepted"}'), (200, b""), (204, b""), (200, b'{"id": "x"}')],
)
def test_an_answer_that_is_not_a_machine_list_is_unconfirmed_and_later_batches_are_sent(
    fleet_1500: Emulator, clock: ManualClock, status: int, reply: bytes
) -> None:
    ids = [m["id"] for m in fleet_1500.fleet.machines[:1500]]
    fleet_1500.add_fault(path=TAG_PATH, status=status, reply=reply, after=1, times=1)
    result = _tag(make_client(fleet_1500, clock), ids)
    assert result["updated"] == ids[:500] + ids[1000:]
    assert result["unconfirmed"] == ids[500:1000]
    assert result["not_found"] == [] and result["not_sent"] == []
    assert len(fleet_1500.calls(TAG_PATH)) == 3
    assert all("ir" in fleet_1500.machine(i)["machineTags"] for i in ids)  # type: ignore[index]


def test_a_connection_dropped_after_the_write_is_unconfirmed_not_not_sent(
    fleet_1500: Emulator, clock: ManualClock
) -> None:
    ids = [m["id"] for m in fleet_1500.fleet.machines[:1500]]
    fleet_1500.add_fault(path=TAG_PATH, drop_after=True, after=1, times=None)
    with pytest.raises(TransientError) as caught:
        _tag(make_client(fleet_1500, clock), ids)
    details = caught.value.details
    assert details["updated"] == ids[:500]
    assert details["unconfirmed"] == ids[500:1000]  # the server did apply them
    assert details["not_sent"] == ids[1000:]
    assert details["not_found"] == []
    assert "ir" in fleet_1500.machine(ids[700])["machineTags"]  # type: ignore[index]
    assert "500 unconfirmed" in str(caught.value)


def _refused_after_one_batch(emulator: Emulator, clock: ManualClock) -> tuple[list[str], Any]:
    """Tag 1,000 machines where the second batch is refused (403): the ids and the error."""
    ids = [m["id"] for m in emulator.fleet.machines[:1000]]
    emulator.add_fault(path=TAG_PATH, status=403, after=1, times=None)
    with pytest.raises(ApiError) as caught:
        _tag(make_client(emulator, clock), ids)
    return ids, caught


def test_a_refused_batch_is_not_sent_and_the_error_carries_all_four_lists(
    fleet_1500: Emulator, clock: ManualClock
) -> None:
    ids, caught = _refused_after_one_batch(fleet_1500, clock)
    body = caught.value.to_dict()["error"]
    assert (body["updated"], body["not_sent"]) == (ids[:500], ids[500:])
    assert body["unconfirmed"] == [] and body["not_found"] == []


# -- 12. the error raised is the error shown ----------------------------------------------------


def test_context_is_part_of_the_error_as_built(emulator: Emulator, client: ApiClient) -> None:
    emulator.add_fault(path="/api/files/", status=403, times=None)
    with pytest.raises(ApiError) as caught:
        run_file(
            "tag_machines_by_file_hash",
            {"sha1": emulator.fleet.file_with(2), "tag": "t"},
            client=client,
        )
    error = caught.value
    assert str(error) == error.message == error.to_dict()["error"]["message"]
    assert error.message.startswith("step 'related' (get_file_machines): ")


def test_a_partial_tag_failure_says_the_same_everywhere(
    fleet_1500: Emulator, clock: ManualClock
) -> None:
    _, caught = _refused_after_one_batch(fleet_1500, clock)
    assert str(caught.value) == caught.value.to_dict()["error"]["message"]
    assert "500 updated" in str(caught.value)


# -- 13. a gateway's 429 shape is read for its wait ---------------------------------------------


def test_a_gateway_429_without_retry_after_waits_what_its_message_says(
    emulator: Emulator, client: ApiClient, clock: ManualClock
) -> None:
    emulator.add_fault(
        path="/api/machines/",
        status=429,
        body={"statusCode": 429, "message": "Rate limit is exceeded. Try again in 3 seconds."},
    )
    machine = emulator.fleet.machines[0]["id"]
    invoke("get_machine", {"machine_id": machine}, client=client)
    assert clock.slept == [3.0]


def test_a_gateway_429_after_retries_keeps_its_message(
    emulator: Emulator, client: ApiClient
) -> None:
    emulator.add_fault(
        path="/api/machines/",
        status=429,
        times=None,
        body={"statusCode": 429, "message": "Rate limit is exceeded. Try again in 3 seconds."},
    )
    with pytest.raises(ApiError, match="Rate limit is exceeded") as caught:
        invoke("get_machine", {"machine_id": "a" * 40}, client=client)
    assert caught.value.type == "RateLimitError" and caught.value.code == "429"


# -- 14. the documented `onboarded` spelling is accepted ----------------------------------------


def test_onboarded_in_either_spelling_is_sent_as_the_api_canonical_value(
    emulator: Emulator, client: ApiClient
) -> None:
    result = invoke("list_machines", {"onboarding_status": ["onboarded"]}, client=client)
    (call,) = emulator.calls("/api/machines")
    assert call.query["$filter"] == "onboardingStatus eq 'Onboarded'"
    assert result["count"] > 0


# -- 15. one bad record does not lose the whole listing ----------------------------------------


def test_a_record_with_a_malformed_id_is_skipped_with_a_warning(
    clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    fleet = generate(5, seed=4)
    fleet.machines.insert(2, {**fleet.machines[0], "id": "12345"})
    with Emulator(data=fleet, clock=clock) as emulator:
        caplog.set_level(logging.WARNING)
        result = invoke("list_machines", {}, client=make_client(emulator, clock))
    assert result["count"] == 5
    assert result["skipped"] == [
        {"index": 2, "id": "12345", "reason": "id is not 40 hexadecimal characters"}
    ]
    assert any("skipped_record index=2 id=12345" in r.getMessage() for r in caplog.records)


# -- 16. an operator ceiling that no input can raise -------------------------------------------


def test_the_operator_ceiling_caps_max_machines(emulator: Emulator, clock: ManualClock) -> None:
    ids = [m["id"] for m in emulator.fleet.machines[:3]]
    client = make_client(emulator, clock, MDE_MAX_MACHINES_CEILING="2")
    with pytest.raises(GuardError, match="MDE_MAX_MACHINES_CEILING") as caught:
        invoke(
            "tag_machines",
            {"machine_ids": ids, "tag": "t", "action": "Add", "max_machines": 100},
            client=client,
        )
    assert caught.value.exit_code == 2 and emulator.calls() == []
    assert (
        invoke(
            "tag_machines", {"machine_ids": ids[:2], "tag": "t", "action": "Add"}, client=client
        )["count"]
        == 2
    )


# -- 17. every log field is redacted, and short secrets too ------------------------------------


def test_a_short_secret_is_masked() -> None:
    register_secret("s3cr")
    assert redact("the value s3cr leaked") == "the value *** leaked"


def test_a_retry_log_line_with_an_echoed_header_is_redacted(
    emulator: Emulator, client: ApiClient, caplog: pytest.LogCaptureFixture
) -> None:
    token = emulator.issue_token(emulator.write_app)
    emulator.add_fault(
        path="/api/machines/",
        status=503,
        body={"error": {"code": f"Bearer {token}", "message": "echo"}},
    )
    caplog.set_level(logging.DEBUG)
    invoke("get_machine", {"machine_id": emulator.fleet.machines[0]["id"]}, client=client)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "retry " in text and token not in text and token[:40] not in text
    assert all(token not in json.dumps(getattr(r, "mdepack", {})) for r in caplog.records)


def test_a_wrong_tenant_is_said_in_one_sentence(emulator: Emulator) -> None:
    env = {**emulator.env(), "MDE_TENANT_ID": "00000000-0000-0000-0000-000000000001"}
    result = run_cli("run", "get_machine", "--input", '{"machine_id": "' + "a" * 40 + '"}', env=env)
    assert result.code == 1 and result.error["code"] == "UnknownTenant"
    assert result.error["message"] == (
        f"token authority {emulator.env()['MDE_AUTHORITY']} knows no tenant "
        "'00000000-0000-0000-0000-000000000001': check MDE_TENANT_ID (and MDE_CLOUD for a "
        "sovereign cloud)"
    )
