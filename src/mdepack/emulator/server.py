"""The emulator: its state (fleet, machine actions, apps, faults, request log) and its lifecycle
(an HTTPS server on 127.0.0.1 in a background thread).

Start it in-process with `with Emulator() as emu:` (a free port on 127.0.0.1), or as
`mdepack emulator`. `emu.env()` gives the MDE_* settings that point the pack at it. The token
authority lives in `authority.py`, each API resource's routes in `routes/`, the request handler in
`handler.py`.
"""

from __future__ import annotations

import json
import socket
import ssl
import tempfile
import threading
import uuid
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509

from mdepack.clock import SYSTEM_CLOCK, Clock
from mdepack.emulator import fleet as fleet_module
from mdepack.emulator.api import READ, WRITE, RateLimiter, Reply, Route, dispatch
from mdepack.emulator.authority import App, Authority
from mdepack.emulator.faults import Fault, FaultPlan
from mdepack.emulator.handler import Handler
from mdepack.emulator.routes import (
    alerts,
    files,
    hunting,
    indicators,
    live_response,
    machine_actions,
    machines,
    users,
)
from mdepack.emulator.routes.files import FILE_READ

ROUTES: list[Route] = [
    *machines.ROUTES,
    *files.ROUTES,
    *users.ROUTES,
    *machine_actions.ROUTES,
    *indicators.ROUTES,
    *alerts.ROUTES,
    *hunting.ROUTES,
    *live_response.ROUTES,
    *live_response.LINK_ROUTES,
]
# What the emulator's read-write app may do: everything the pack's actions call.
ALL_ROLES = [
    WRITE,
    FILE_READ,
    *machine_actions.RESPONSE_ROLES,
    indicators.TI_ALL,
    alerts.ALERT_WRITE,
    hunting.HUNTING,
    machine_actions.LIVE_RESPONSE,
    live_response.LIBRARY,
]


@dataclass
class LoggedRequest:
    """One request the API part of the emulator answered."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    status: int
    client_id: str | None
    at: float


class Emulator:
    """A Defender for Endpoint API and token authority on 127.0.0.1, over TLS."""

    def __init__(
        self,
        *,
        machines: int = 200,
        seed: int = 1,
        data: fleet_module.Fleet | Path | None = None,
        port: int = 0,
        host: str = "127.0.0.1",
        clock: Clock | None = None,
        rate_per_minute: int = 100,
        rate_per_hour: int = 1500,
        legacy_not_found: bool = False,
        state_dir: Path | None = None,
        token_lifetime: int = 3600,
        server_page_size: int | None = None,
        repeat_next_link: bool = False,
        action_pending_seconds: float = 5.0,
        action_run_seconds: float = 20.0,
        action_outcome: str = "Succeeded",
        action_identity: str = "type_and_option",
        alert_count: int = 24,
        graph_rate_per_minute: int = 150,
        hunting_rate_per_minute: int = 45,
        live_response_command_seconds: float = 5.0,
    ) -> None:
        if action_identity not in machine_actions.IDENTITIES:
            raise ValueError(f"action_identity must be one of {machine_actions.IDENTITIES}")
        if not (host.startswith("127.") or host in ("::1", "localhost")):
            raise ValueError("the emulator listens on loopback addresses only")
        if isinstance(data, Path):
            data = fleet_module.load(data)
        self.fleet = data or fleet_module.generate(machines, seed)
        self.clock = clock or SYSTEM_CLOCK
        self.host, self.port = host, port
        self.legacy_not_found = legacy_not_found
        self.server_page_size = server_page_size
        self.repeat_next_link = repeat_next_link
        self.tenant_id = str(uuid.UUID(int=seed * 7919 + 1))
        self.token_authority = Authority(self.tenant_id, "", self.clock, token_lifetime)
        self.write_app = self.add_app(ALL_ROLES)
        self.readonly_app = self.add_app([READ])
        self.managed_identity_app = App(str(uuid.UUID(int=seed * 7919 + 99)), ALL_ROLES)
        self.token_authority.managed_identity_app = self.managed_identity_app
        self.faults = FaultPlan()
        self.limiter = RateLimiter(rate_per_minute, rate_per_hour, self.clock)
        self.package_limiter = RateLimiter(2, 120, self.clock)
        # Custom indicators, and the 30-a-minute budgets of import and batch delete.
        self.indicators = indicators.IndicatorStore()
        self.indicator_limiter = RateLimiter(30, 1500, self.clock)
        self.indicator_delete_limiter = RateLimiter(30, 1500, self.clock)
        # Machine actions: how long each status lasts, and how they end (per machine or all).
        self.actions = machine_actions.ActionStore()
        self.action_pending_seconds = action_pending_seconds
        self.action_run_seconds = action_run_seconds
        self.action_outcome = action_outcome
        self.action_outcomes: dict[str, str] = {}
        # What makes two actions the same: type and option (the docs), or type alone.
        self.action_identity = action_identity
        # Microsoft Graph: its own per-app budget, hunting's 45 a minute and CPU quota, alerts.
        self.graph_limiter = RateLimiter(
            graph_rate_per_minute, 10 * graph_rate_per_minute, self.clock, graph=True
        )
        self.hunting_limiter = RateLimiter(
            hunting_rate_per_minute, max(1500, hunting_rate_per_minute), self.clock
        )
        self.hunting_cpu_blocked_until: float | None = None
        # Live response: sessions on the clock, the library, links that expire, 10 calls a minute.
        self.live_response = live_response.LiveResponseState("2026-11-01T12:00:00.0000000Z")
        self.live_response_limiter = RateLimiter(10, 600, self.clock)
        self.live_response_command_seconds = live_response_command_seconds
        self.live_response_failures: dict[str, int] = {}  # machine id -> its failing command
        self.live_response_transcripts: dict[str, bytes] = {}  # script name -> transcript bytes
        self.requests: list[LoggedRequest] = []
        self._lock = threading.RLock()
        self._index()
        self.alerts = alerts.generate(self, alert_count, seed)
        self._state_dir = state_dir
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- set-up ---------------------------------------------------------------------------

    def add_app(self, roles: list[str], certificate: x509.Certificate | None = None) -> App:
        """Register an app with these roles: a secret, or a certificate credential."""
        return self.token_authority.add_app(roles, certificate)

    def add_fault(self, fault: Fault | None = None, **rule: Any) -> Fault:
        """Inject a fault (see :class:`Fault`); returns the rule, whose `hits` count firings."""
        return self.faults.add(fault or Fault(**rule))

    def exhaust_hunting_cpu(self) -> float:
        """Spend the tenant's hunting CPU quota until the next 15-minute cycle (its start)."""
        return hunting.exhaust_cpu(self)

    def live_response_status(
        self, stored: machine_actions.StoredAction
    ) -> tuple[str, float, list[dict[str, Any]]]:
        """A live response session's status, since when, and its commands, now."""
        return live_response.session_status(self, stored)

    def serve_download(self, path: str, authorization: str | None) -> Reply:
        """A live response result link (`/liveresponse/...`), as blob storage serves a SAS."""
        return live_response.serve_download(self, path, authorization)

    def expire_tokens(self) -> None:
        """Make every token issued so far invalid, as if it had expired."""
        self.token_authority.generation += 1

    def issue_token(
        self, app: App, audience: str = "https://api.securitycenter.microsoft.com"
    ) -> str:
        """A signed access token for `app`, as the token endpoint would issue it."""
        return self.token_authority.issue_token(app, audience)

    @property
    def managed_identity_header(self) -> str:
        """The X-IDENTITY-HEADER value the managed identity endpoint expects."""
        return self.token_authority.managed_identity_header

    @property
    def token_requests(self) -> int:
        """Tokens asked of the authority so far."""
        return self.token_authority.token_requests

    def relate_file(self, sha1: str, machine_ids: list[str]) -> None:
        """Say that these machines have seen the file."""
        with self._lock:
            self.fleet.files[sha1.lower()] = list(machine_ids)

    def machine(self, machine_id: str) -> dict[str, Any] | None:
        """The emulator's current copy of a machine, by id."""
        return self._by_id.get(machine_id.lower())

    def find_machine(self, ref: str) -> dict[str, Any] | None:
        """A machine by id or computer DNS name."""
        return self._by_id.get(ref.lower()) or self._by_dns.get(ref.lower())

    def machines(self, ids: list[str]) -> list[dict[str, Any]]:
        """The machines with these ids, in order, skipping unknown ids."""
        return [self._by_id[i] for i in ids if i in self._by_id]

    def calls(self, path: str | None = None, method: str | None = None) -> list[LoggedRequest]:
        """API requests answered so far, optionally only those whose path starts with `path`."""
        with self._lock:
            return [
                r
                for r in self.requests
                if (path is None or r.path.startswith(path)) and (method in (None, r.method))
            ]

    def clear_log(self) -> None:
        """Forget the request log."""
        with self._lock:
            self.requests.clear()

    def log_request(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        body: Any,
        status: int,
        client_id: str | None,
    ) -> None:
        """Record one answered API request."""
        entry = LoggedRequest(method, path, query, body, status, client_id, self.clock.monotonic())
        with self._lock:
            self.requests.append(entry)

    def serialized(self, machine: dict[str, Any]) -> bytes:
        """A machine's compact JSON, cached until it changes."""
        with self._lock:
            cached = self._json_cache.get(machine["id"])
            if cached is None:
                cached = json.dumps(machine, separators=(",", ":")).encode()
                self._json_cache[machine["id"]] = cached
            return cached

    def apply_tag(self, machine: dict[str, Any], value: str, action: str) -> None:
        """Add or remove a tag on a machine."""
        with self._lock:
            tags = list(machine.get("machineTags") or [])
            if action == "Add" and value not in tags:
                tags.append(value)
            elif action == "Remove":
                tags = [t for t in tags if t != value]
            machine["machineTags"] = tags
            self._json_cache.pop(machine["id"], None)

    def handle_api(
        self, method: str, path: str, query: dict[str, str], body: Any, claims: dict[str, Any]
    ) -> Reply:
        """Answer one authorised API request."""
        return dispatch(self, ROUTES, method, path, query, body, claims)

    def _index(self) -> None:
        self._by_id = {
            m["id"].lower(): m for m in self.fleet.machines if isinstance(m.get("id"), str)
        }
        self._by_dns = {str(m.get("computerDnsName", "")).lower(): m for m in self.fleet.machines}
        self._json_cache: dict[str, bytes] = {}

    # -- lifecycle ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The API base URL."""
        return f"https://{self.host}:{self.port}"

    @property
    def authority(self) -> str:
        """The token authority host (MSAL's authority is this plus /tenant)."""
        return self.url

    @property
    def ca_path(self) -> Path:
        """The CA certificate that signs the emulator's server certificate."""
        return self.state_dir / "ca.pem"

    @property
    def state_dir(self) -> Path:
        """Where ca.pem and env are written."""
        if self._state_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="mdepack-emulator-")
            self._state_dir = Path(self._tmp.name)
        return self._state_dir

    def start(self) -> Emulator:
        """Listen on the port (0: a free one) and serve in a background thread."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        pki = self.token_authority.pki
        cert_file = self.state_dir / "server.pem"
        cert_file.write_text(pki.server_cert_pem + pki.server_key_pem)
        cert_file.chmod(0o600)
        self.ca_path.write_text(pki.ca_pem)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(cert_file)
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        server_class = type("EmulatorServer", (ThreadingHTTPServer,), {"address_family": family})
        server = server_class((self.host, self.port), Handler)
        server.emulator = self
        server.daemon_threads = True
        server.socket = context.wrap_socket(
            server.socket, server_side=True, do_handshake_on_connect=False
        )
        self._server = server
        self.port = server.server_address[1]
        self.token_authority.url = self.url
        self._thread = threading.Thread(
            target=server.serve_forever, args=(0.05,), name="mdepack-emulator"
        )
        self._thread.daemon = True
        self._thread.start()
        self.write_env()
        return self

    def stop(self) -> None:
        """Stop serving and remove temporary files."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
            self._state_dir = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def env(self, app: App | None = None) -> dict[str, str]:
        """MDE_* settings pointing the pack (or any requests/MSAL code) at this emulator."""
        app = app or self.write_app
        return {
            "MDE_API_URL": self.url,
            "MDE_GRAPH_URL": self.url,  # Microsoft Graph is served under /v1.0/ on the same host
            "MDE_AUTHORITY": self.authority,
            "MDE_TENANT_ID": self.tenant_id,
            "MDE_CLIENT_ID": app.client_id,
            "MDE_CLIENT_SECRET": app.secret or "",
            "MDE_CA_BUNDLE": str(self.ca_path),
            "MDE_EMULATOR_READONLY_CLIENT_ID": self.readonly_app.client_id,
            "MDE_EMULATOR_READONLY_CLIENT_SECRET": self.readonly_app.secret or "",
            "REQUESTS_CA_BUNDLE": str(self.ca_path),
        }

    def write_env(self) -> Path:
        """Write `env` (KEY=VALUE lines a shell can source) into the state directory."""
        path = self.state_dir / "env"
        lines = [f"{key}={value}" for key, value in self.env().items()]
        path.write_text("\n".join(lines) + "\n")
        path.chmod(0o600)
        return path
