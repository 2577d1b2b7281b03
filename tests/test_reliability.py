"""Retries that obey the server, a rate budget, no hangs, nothing lost: proven by fault injection
against the emulator, with an injected clock so no test sleeps for real minutes."""

from __future__ import annotations

import logging
import sys
import unicodedata
from typing import Any
from urllib.parse import unquote

import pytest
from conftest import make_client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mdepack import manifest, paths
from mdepack.client import ApiClient
from mdepack.clock import ManualClock
from mdepack.emulator import Emulator
from mdepack.emulator.odata import AnyTag, Compare, Field, Literal, Logical, StartsWith, parse
from mdepack.errors import (
    ApiError,
    AuthError,
    InputError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    TransientError,
)
from mdepack.invoke import invoke

SHA1_PATH = "/api/files/"


def file_call(emulator: Emulator, client: ApiClient) -> dict[str, Any]:
    return invoke("get_file_machines", {"sha1": emulator.fleet.file_with(2)}, client=client)


def test_429_waits_for_retry_after(
    emulator: Emulator, client: ApiClient, clock: ManualClock
) -> None:
    emulator.add_fault(path=SHA1_PATH, status=429, retry_after="7", message="quota exceeded")
    assert file_call(emulator, client)["count"] == 2
    assert clock.slept == [7.0]
    assert [c.status for c in emulator.calls()] == [429, 200]


def test_429_without_header_waits_for_the_seconds_in_the_message(
    emulator: Emulator, client: ApiClient, clock: ManualClock
) -> None:
    emulator.add_fault(path=SHA1_PATH, status=429)  # "...You can send requests again in 8 seconds."
    assert file_call(emulator, client)["count"] == 2
    assert clock.slept == [8.0]


def test_429_saying_nothing_backs_off_with_jitter(
    emulator: Emulator, client: ApiClient, clock: ManualClock
) -> None:
    emulator.add_fault(path=SHA1_PATH, status=429, message="Too many requests", times=2)
    file_call(emulator, client)
    first, second = clock.slept
    assert 0.5 <= first <= 1.0 and 1.0 <= second <= 2.0


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_each_5xx_is_retried_and_recovers(
    emulator: Emulator, client: ApiClient, status: int
) -> None:
    emulator.add_fault(path=SHA1_PATH, status=status, times=2)
    assert file_call(emulator, client)["count"] == 2
    assert [c.status for c in emulator.calls()] == [status, status, 200]


def test_a_persistent_5xx_ends_in_transient_error_after_the_attempts(
    emulator: Emulator, client: ApiClient
) -> None:
    emulator.add_fault(path=SHA1_PATH, status=503, times=None)
    with pytest.raises(TransientError) as caught:
        file_call(emulator, client)
    assert caught.value.details["attempts"] == 4
    assert caught.value.code == "ServiceUnavailable" and caught.value.target
    assert len(emulator.calls()) == 4


@pytest.mark.parametrize(
    ("status", "error"), [(400, ApiError), (403, PermissionDeniedError), (404, NotFoundError)]
)
def test_answers_are_never_retried(
    emulator: Emulator, client: ApiClient, status: int, error: type[ApiError]
) -> None:
    emulator.add_fault(path="/api/machines/", status=status, times=None)
    with pytest.raises(error):
        invoke("get_machine", {"machine_id": emulator.fleet.machines[0]["id"]}, client=client)
    assert len(emulator.calls()) == 1


def test_a_dropped_connection_is_retried(emulator: Emulator, client: ApiClient) -> None:
    emulator.add_fault(path=SHA1_PATH, drop=True)
    assert file_call(emulator, client)["count"] == 2
    assert len(emulator.calls()) == 1  # the dropped call never reached the log


def test_a_truncated_body_is_retried(emulator: Emulator, client: ApiClient) -> None:
    emulator.add_fault(path=SHA1_PATH, truncate=True)
    assert file_call(emulator, client)["count"] == 2
    assert len(emulator.calls()) == 2


def test_a_slow_answer_times_out_and_is_retried(emulator: Emulator, clock: ManualClock) -> None:
    client = make_client(emulator, clock, MDE_TIMEOUT="0.2")
    emulator.add_fault(path=SHA1_PATH, delay=0.6)
    assert file_call(emulator, client)["count"] == 2


def test_an_answer_that_never_comes_ends_in_a_timeout_error(
    emulator: Emulator, clock: ManualClock
) -> None:
    client = make_client(emulator, clock, MDE_TIMEOUT="0.2", MDE_RETRIES="2")
    emulator.add_fault(path=SHA1_PATH, delay=0.5, times=None)
    with pytest.raises(TransientError) as caught:
        file_call(emulator, client)
    assert caught.value.code == "Timeout" and caught.value.details["attempts"] == 2


def test_an_expired_token_is_refreshed_once(emulator: Emulator, client: ApiClient) -> None:
    file_call(emulator, client)
    tokens_before = emulator.token_requests
    emulator.expire_tokens()
    assert file_call(emulator, client)["count"] == 2
    assert emulator.token_requests == tokens_before + 1
    assert [c.status for c in emulator.calls()][-2:] == [401, 200]


def test_a_401_that_refreshing_does_not_cure_is_an_auth_error(
    emulator: Emulator, client: ApiClient
) -> None:
    emulator.add_fault(path=SHA1_PATH, status=401, times=None)
    with pytest.raises(AuthError):
        file_call(emulator, client)
    assert len(emulator.calls()) == 2


def test_retries_can_be_turned_off(emulator: Emulator, clock: ManualClock) -> None:
    client = make_client(emulator, clock, MDE_RETRIES="off")
    emulator.add_fault(path=SHA1_PATH, status=503)
    with pytest.raises(TransientError):
        file_call(emulator, client)
    assert len(emulator.calls()) == 1


def test_a_wait_beyond_the_budget_fails_at_once(
    emulator: Emulator, client: ApiClient, clock: ManualClock
) -> None:
    emulator.add_fault(path=SHA1_PATH, status=429, retry_after="600")
    with pytest.raises(RateLimitError) as caught:
        file_call(emulator, client)
    assert caught.value.details["retry_after"] == 600
    assert clock.slept == [] and len(emulator.calls()) == 1


def test_a_server_page_cap_with_next_links_is_followed(clock: ManualClock) -> None:
    with Emulator(machines=35, clock=clock, server_page_size=10) as emulator:
        result = invoke("list_machines", {}, client=make_client(emulator, clock))
        assert result["count"] == 35 and len({m["id"] for m in result["machines"]}) == 35
        assert len(emulator.calls()) == 4


def test_a_repeating_next_link_is_never_followed_twice(clock: ManualClock) -> None:
    with Emulator(machines=35, clock=clock, server_page_size=10, repeat_next_link=True) as emulator:
        result = invoke("list_machines", {}, client=make_client(emulator, clock))
        assert len(emulator.calls()) == 2
        assert result["count"] == 20


def test_a_page_limit_stops_an_endless_listing_with_an_error(clock: ManualClock) -> None:
    with Emulator(machines=35, clock=clock, server_page_size=10) as emulator:
        with pytest.raises(ApiError, match="listing stopped after 2 pages") as caught:
            invoke("list_machines", {}, client=make_client(emulator, clock, MDE_MAX_PAGES="2"))
        assert caught.value.code == "PageLimitExceeded"


def test_300_calls_through_the_pacer_draw_no_429(clock: ManualClock) -> None:
    with Emulator(machines=5, clock=clock) as emulator:
        client = make_client(emulator, clock)
        started = clock.monotonic()
        machine_id = emulator.fleet.machines[0]["id"]
        for _ in range(300):
            invoke("get_machine", {"machine_id": machine_id}, client=client)
        statuses = [c.status for c in emulator.calls()]
        assert statuses.count(429) == 0 and len(statuses) == 300
        elapsed = clock.monotonic() - started
        assert 120 <= elapsed <= 1.1 * 120  # the budget's minimum: 3 windows of 100 calls


def test_one_log_line_per_call_with_the_path_template(
    emulator: Emulator, client: ApiClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mdepack.api")
    emulator.add_fault(path=SHA1_PATH, status=503)
    file_call(emulator, client)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("api_call")]
    assert len(lines) == 2
    assert "path=/api/files/{sha1}/machines status=503 attempt=1" in lines[0]
    assert "request_id=|" in lines[0]
    assert "status=200 attempt=2" in lines[1]


# -- property-based --------------------------------------------------------------------------

manifest.load().function("list_machines")
build_filter = sys.modules["mdepack._actions.list_machines"].build_filter


@settings(max_examples=300, deadline=None)
@given(st.text(min_size=1, max_size=40))
def test_no_string_changes_the_structure_of_a_built_filter(text: str) -> None:
    built = build_filter(
        {
            "machine_tag": text,
            "computer_dns_name_prefix": text,
            "os_platform": ["Windows10", "Linux"],
        }
    )
    tree = parse(built)
    assert isinstance(tree, Logical) and tree.op == "and"
    platforms, prefix = tree.left.left, tree.left.right
    assert platforms == Logical(
        "or",
        Compare("eq", Field("osPlatform"), Literal("Windows10")),
        Compare("eq", Field("osPlatform"), Literal("Linux")),
    )
    assert prefix == StartsWith(Field("computerDnsName"), text)
    assert tree.right == AnyTag("tag", Compare("eq", Field("tag"), Literal(text)))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=30))
def test_no_string_escapes_its_path_segment(text: str) -> None:
    try:
        encoded = paths.segment(text, "user")
    except InputError:
        return
    assert "/" not in encoded and "?" not in encoded and "#" not in encoded and "\\" not in encoded
    # Look-alikes are checked (and sent) as their NFKC form.
    normal = unicodedata.normalize("NFKC", text)
    assert unquote(encoded) == normal and ".." not in normal


JSONISH = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 2000)
    | st.text(max_size=45)
    | st.sampled_from(["a" * 40, "Active", "High", "Add", "user1@contoso.com"]),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=3)
    ),
    max_leaves=8,
)


@pytest.fixture(scope="module")
def shared() -> Any:
    clock = ManualClock()
    with Emulator(machines=20, clock=clock, rate_per_minute=10**6, rate_per_hour=10**7) as emulator:
        yield (
            emulator,
            make_client(
                emulator, clock, MDE_RATE_PER_MINUTE="1000000", MDE_RATE_PER_HOUR="10000000"
            ),
        )


@pytest.mark.parametrize("action", sorted(manifest.load().actions))
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_random_inputs_give_the_output_or_a_typed_error(
    shared: Any, action: str, data: st.DataObject
) -> None:
    _emulator, client = shared
    schema = manifest.load().schema(manifest.load().action(action).input)
    keys = st.sampled_from([*schema["properties"], "unexpected"])
    inputs = data.draw(st.one_of(JSONISH, st.dictionaries(keys, JSONISH, max_size=4)))
    try:
        output = invoke(action, inputs, client=client)
    except (InputError, ApiError):
        return
    assert isinstance(output, dict)


def test_every_client_in_a_process_shares_one_pacer_per_tenant_and_app(emulator: Emulator) -> None:
    from mdepack.config import Config

    config = Config.from_env(emulator.env())
    assert ApiClient(config).pacer is ApiClient(config).pacer  # warm invocations share the budget
    other_app = Config.from_env(
        {**emulator.env(), "MDE_CLIENT_ID": emulator.readonly_app.client_id}
    )
    assert ApiClient(other_app).pacer is not ApiClient(config).pacer


def test_the_token_is_fetched_after_a_pacing_wait(emulator: Emulator, clock: ManualClock) -> None:
    from mdepack.auth import StaticToken
    from mdepack.config import Config
    from mdepack.pacing import RatePacer

    fetched: list[float] = []

    class Recording(StaticToken):
        def token(self) -> str:
            fetched.append(clock.monotonic())
            return super().token()

    config = Config.from_env(emulator.env())
    tokens = Recording(emulator.issue_token(emulator.write_app))
    client = ApiClient(config, clock=clock, token_provider=tokens, pacer=RatePacer(1, 100, clock))
    machine = emulator.fleet.machines[0]["id"]
    invoke("get_machine", {"machine_id": machine}, client=client)
    invoke("get_machine", {"machine_id": machine}, client=client)  # waits a minute for its slot
    assert sum(clock.slept) >= 59
    # The token sent is taken after the wait (one fetched before it could have expired while the
    # wait lasted); the one asked for before the slot only makes sure a token is at hand.
    assert fetched[-1] - fetched[0] >= 59
