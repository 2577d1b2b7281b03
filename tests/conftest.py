"""Fixtures: the pack's own emulator on 127.0.0.1 (TLS, MSAL), a client sharing its manual clock
so rate limits and backoff run without real waits, and a CLI runner for black-box tests."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mdepack.client import ApiClient
from mdepack.clock import ManualClock
from mdepack.config import Config
from mdepack.emulator import Emulator

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def emulator(clock: ManualClock) -> Iterator[Emulator]:
    with Emulator(machines=60, clock=clock) as emu:
        yield emu


@pytest.fixture
def client(emulator: Emulator, clock: ManualClock) -> ApiClient:
    return ApiClient(Config.from_env(emulator.env()), clock=clock)


def make_client(emulator: Emulator, clock: ManualClock, **env: str) -> ApiClient:
    """A client for the emulator with some MDE_* settings changed."""
    return ApiClient(Config.from_env({**emulator.env(), **env}), clock=clock)


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> Any:
        return json.loads(self.stdout)

    @property
    def error(self) -> dict[str, Any]:
        return json.loads(self.stderr.strip().splitlines()[-1])["error"]  # type: ignore[no-any-return]


def user_env(settings: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without any MDE_* variable, plus the given settings."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("MDE_")}
    return {**base, **(settings or {})}


def run_python(code: str, env: dict[str, str]) -> str:
    """Run Python code in a fresh interpreter (nothing imported yet) and return its stdout."""
    return subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout


def run_cli(
    *args: str,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
    cwd: Path | None = None,
) -> CliResult:
    """Run `python -m mdepack` as a user would, with only the given MDE_* settings."""
    process = subprocess.run(
        [sys.executable, "-m", "mdepack", *args],
        env=user_env(env),
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return CliResult(process.returncode, process.stdout, process.stderr)


def run_cli_on_terminal(*args: str, env: dict[str, str] | None = None) -> tuple[CliResult, str]:
    """Run `python -m mdepack` with stderr on a pseudo-terminal (stdout a pipe); the result and
    everything the terminal showed."""
    import pty

    leader, follower = pty.openpty()
    process = subprocess.run(
        [sys.executable, "-m", "mdepack", *args],
        env=user_env(env),
        stdout=subprocess.PIPE,
        stderr=follower,
        text=True,
        timeout=120,
        check=False,
    )
    os.close(follower)
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the terminal's other end is closed and drained
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    return CliResult(process.returncode, process.stdout, ""), shown.decode()


@pytest.fixture
def api_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog


def load_fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())
