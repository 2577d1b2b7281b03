"""HTTPS_PROXY applies to every call the pack makes (token and API), as `requests` reads it: a
local CONNECT proxy on 127.0.0.1 sees the tunnels, and the answers come back through it."""

from __future__ import annotations

import select
import socket
import socketserver
import threading
from collections.abc import Iterator

import pytest
from conftest import run_cli

from mdepack.emulator import Emulator

pytestmark = pytest.mark.slow


class Tunnels(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Tunnel)
        self.targets: list[str] = []


class _Tunnel(socketserver.StreamRequestHandler):
    server: Tunnels

    def handle(self) -> None:
        request = self.rfile.readline().decode("latin-1").split()
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass
        if len(request) < 2 or request[0] != "CONNECT":
            self.wfile.write(b"HTTP/1.1 405 Method Not Allowed\r\n\r\n")
            return
        host, _, port = request[1].rpartition(":")
        if host != "127.0.0.1":  # loopback only
            self.wfile.write(b"HTTP/1.1 403 Forbidden\r\n\r\n")
            return
        self.server.targets.append(request[1])
        with socket.create_connection((host, int(port)), timeout=30) as upstream:
            self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            self.wfile.flush()
            ends = [self.connection, upstream]
            while True:
                ready, _, _ = select.select(ends, [], [], 30)
                if not ready:
                    return
                for end in ready:
                    data = end.recv(65536)
                    if not data:
                        return
                    (upstream if end is self.connection else self.connection).sendall(data)


@pytest.fixture
def proxy() -> Iterator[Tunnels]:
    server = Tunnels()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_https_proxy_carries_the_token_and_the_api_calls(proxy: Tunnels) -> None:
    with Emulator(machines=3) as emulator:
        address = f"http://127.0.0.1:{proxy.server_address[1]}"
        env = {**emulator.env(), "HTTPS_PROXY": address, "NO_PROXY": "", "no_proxy": ""}
        request = f'{{"machine_id": "{emulator.fleet.machines[0]["id"]}"}}'
        result = run_cli("run", "get_machine", "--input", request, env=env)
        assert result.code == 0, result.stderr
        assert emulator.fleet.machines[0]["id"] in result.stdout
        emulator_at = emulator.url.removeprefix("https://")
        assert proxy.targets and set(proxy.targets) == {emulator_at}
        tunnels = len(proxy.targets)
        direct = run_cli(
            "run", "get_machine", "--input", request, env={**env, "NO_PROXY": "127.0.0.1"}
        )
        assert direct.code == 0 and len(proxy.targets) == tunnels  # NO_PROXY is honoured too
