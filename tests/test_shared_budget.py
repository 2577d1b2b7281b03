"""One rate budget shared by every process (MDE_RATE_STORE), against a real redis-server on
127.0.0.1 and the emulator with its rate limit on, both on one time-scaled clock: worker
processes draw no 429 and finish near the window's minimum; without the store the same load
draws 429s; the store stopped mid-run is not an outage (local pacing, one notice)."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import user_env

from mdepack.client import ApiClient
from mdepack.clock import ManualClock, ScaledClock
from mdepack.config import Config
from mdepack.emulator import Emulator
from mdepack.invoke import invoke

pytestmark = pytest.mark.slow
SCALE = 20.0  # a minute passes in 3 s; the 2 s margin is 100 ms of real time
BUDGET = 30  # calls a minute, for the API and for the pack
WORKER = """
import json, sys
from mdepack.client import ApiClient
from mdepack.client import ApiClient
from mdepack.clock import ManualClock, ScaledClock
from mdepack.config import Config
from mdepack.errors import RateLimitError
from mdepack.invoke import invoke
scale, start, calls, machine = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
clock = ScaledClock(scale, start)
client = ApiClient(Config.from_env(), clock=clock)
refused = 0
for _ in range(calls):
    try:
        invoke("get_machine", {"machine_id": machine}, client=client)
    except RateLimitError:
        refused += 1
print(json.dumps({"refused": refused}))
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    server = shutil.which("redis-server")
    assert server, "redis-server is missing: `make test` installs Debian's redis-server"
    port = free_port()
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
    )
    import redis

    client = redis.Redis(host="127.0.0.1", port=port)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0", process
    process.terminate()
    process.wait(timeout=10)


def workers(
    emulator: Emulator, start: float, count: int, calls: int, store: str | None, retries: str
) -> list[subprocess.Popen[str]]:
    env = {
        **emulator.env(),
        "MDE_RATE_PER_MINUTE": str(BUDGET),
        "MDE_RATE_PER_HOUR": "100000",
        "MDE_RETRIES": retries,
    }
    if store:
        env["MDE_RATE_STORE"] = store
    machine = emulator.fleet.machines[0]["id"]
    argv = [sys.executable, "-c", WORKER, str(SCALE), str(start), str(calls), machine]
    return [
        subprocess.Popen(
            argv, env=user_env(env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(count)
    ]


def results(running: list[subprocess.Popen[str]]) -> list[tuple[dict[str, float], str]]:
    done = []
    for process in running:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        done.append((json.loads(out), err))
    return done


def emulator_on(start: float) -> Emulator:
    return Emulator(
        machines=3, clock=ScaledClock(SCALE, start), rate_per_minute=BUDGET, rate_per_hour=100000
    )


def test_workers_sharing_the_store_draw_no_429_and_finish_near_the_minimum(
    redis_url: tuple[str, subprocess.Popen[bytes]],
) -> None:
    start = time.time()
    with emulator_on(start) as emulator:
        # 3 processes x 20 calls against 30 a minute: 30 at once, the other 30 a window later.
        done = results(workers(emulator, start, 3, 20, redis_url[0], retries="off"))
        assert all(r["refused"] == 0 for r, _ in done)
        assert [c.status for c in emulator.calls("/api/machines")].count(429) == 0
        assert len(emulator.calls("/api/machines")) == 60
        # The first 30 go at once (as the processes start); each later call waits for the slot
        # of the call 30 before it: a window and its margin after it, and not much more.
        at = sorted(c.at for c in emulator.calls("/api/machines"))
        gaps = [at[i] - at[i - BUDGET] for i in range(BUDGET, len(at))]
        assert min(gaps) >= 60
        assert at[-1] - at[0] <= (at[BUDGET - 1] - at[0]) + 62 * 1.15
        assert all("waiting" not in err or "shared by every worker" in err for _, err in done)


def test_without_the_store_the_same_workers_draw_429s() -> None:
    start = time.time()
    with emulator_on(start) as emulator:
        done = results(workers(emulator, start, 3, 20, None, retries="off"))
        assert sum(r["refused"] for r, _ in done) > 0  # each process thought it had 30 a minute


def test_the_store_stopped_mid_run_is_not_an_outage(
    redis_url: tuple[str, subprocess.Popen[bytes]],
) -> None:
    url, server = redis_url
    start = time.time()
    with emulator_on(start) as emulator:
        # Each worker has more calls than the budget's first window holds, so however the two
        # share that window, both still have calls to make once it is full and the store goes.
        running = workers(emulator, start, 2, BUDGET + 1, url, retries="4")
        while len(emulator.calls("/api/machines")) < BUDGET:
            time.sleep(0.01)
        server.kill()
        server.wait(timeout=10)
        done = results(running)
        assert (
            len([c for c in emulator.calls("/api/machines") if c.status == 200]) == 2 * BUDGET + 2
        )
        notices = [err.count("cannot be reached") for _, err in done]
        assert notices == [1, 1], [err for _, err in done]
        assert all("pacing this process on its own" in err for _, err in done)
        assert all(url.split("@")[-1].rsplit("/", 1)[0] in err for _, err in done)


def test_a_store_url_that_is_not_redis_is_refused_by_name() -> None:
    from mdepack.errors import ConfigError

    with pytest.raises(ConfigError) as caught:
        Config.from_env({"MDE_ACCESS_TOKEN": "t" * 20, "MDE_RATE_STORE": "http://cache:6379"})
    assert caught.value.field == "MDE_RATE_STORE"
    secret = Config.from_env(
        {"MDE_ACCESS_TOKEN": "t" * 20, "MDE_RATE_STORE": "redis://:hunter2-cache-pass@cache:6379/0"}
    )
    from mdepack.redact import redact

    assert "hunter2-cache-pass" not in redact(str(secret.rate_store))


def test_a_wait_for_the_shared_budget_is_told(
    redis_url: tuple[str, subprocess.Popen[bytes]], emulator: Emulator, clock: ManualClock
) -> None:
    said: list[str] = []
    settings = {**emulator.env(), "MDE_RATE_STORE": redis_url[0], "MDE_RATE_PER_MINUTE": "2"}
    client = ApiClient(Config.from_env(settings), clock=clock)
    client.notice = said.append
    for _ in range(3):
        invoke("get_machine", {"machine_id": emulator.fleet.machines[0]["id"]}, client=client)
    assert said == [
        "waiting 62 s: the API allows 2 calls a minute (shared by every worker) per app and tenant"
    ]


def test_a_token_is_at_hand_before_a_slot_is_taken(emulator: Emulator, clock: ManualClock) -> None:
    """The first call of a process fetches its token (MSAL import, discovery, token request)
    before it takes a slot: a shared window counts sends, so that time must not fall between
    the slot and the send, where the server would see the call arrive late."""
    from mdepack.auth import provider_for
    from mdepack.pacing import RatePacer

    config = Config.from_env(emulator.env())
    said: list[str] = []
    real = RatePacer(100, 1500, clock)

    class Pacer:
        def acquire(self, on_wait: Any = None) -> Any:
            said.append("slot")
            return real.acquire(on_wait)

        def done(self, slot: Any) -> None:
            real.done(slot)

    client = ApiClient(config, clock=clock, pacer=Pacer())
    tokens = provider_for(config, client.session)

    class Tokens:
        def token(self) -> str:
            said.append("token")
            return tokens.token()

        def refresh(self) -> str:
            return tokens.refresh()

    client._tokens = Tokens()
    invoke("get_machine", {"machine_id": emulator.fleet.machines[0]["id"]}, client=client)
    assert said[:2] == ["token", "slot"]
