"""The emulator's HTTPS server: an Entra-style token endpoint and the Defender machine API.

Start it in-process with `with Emulator() as emu:` (a free port on 127.0.0.1), or as
`mdepack emulator`. `emu.env()` gives the MDE_* settings that point the pack at it.
"""

from __future__ import annotations

import json
import secrets
import socket
import ssl
import tempfile
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from cryptography import x509

from mdepack.clock import SYSTEM_CLOCK, Clock
from mdepack.emulator import fleet as fleet_module
from mdepack.emulator import odata, pki
from mdepack.emulator.faults import Fault, FaultPlan

AUDIENCE = "https://api.securitycenter.microsoft.com"
READ = "Machine.Read.All"
WRITE = "Machine.ReadWrite.All"
MAX_TOP = 10_000
MAX_BATCH = 500
CONTENT_TYPE = "application/json; odata.metadata=minimal; odata.streaming=true; charset=utf-8"
TAG_BODY_KEYS = {"Value", "Action", "MachineIds"}


@dataclass
class App:
    """An app registration: its id, credential and application roles."""

    client_id: str
    roles: list[str]
    secret: str | None = None
    certificate: x509.Certificate | None = None


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


@dataclass
class _Reply:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


class ApiFailure(Exception):
    """An error answer in Defender's shape."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
    ):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}
        self.body = body  # a whole body of another shape (a gateway's), sent as it is


class RateLimiter:
    """Sliding windows per app + tenant: calls a minute and calls an hour (amortised O(1))."""

    def __init__(self, per_minute: int, per_hour: int, clock: Clock) -> None:
        self.per_minute, self.per_hour, self.clock = per_minute, per_hour, clock
        self._minute: dict[str, deque[float]] = {}
        self._hour: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def admit(self, key: str) -> float | None:
        """None when the call may go; else the seconds until it could."""
        with self._lock:
            now = self.clock.monotonic()
            minute = self._minute.setdefault(key, deque())
            hour = self._hour.setdefault(key, deque())
            for window, span in ((minute, 60), (hour, 3600)):
                while window and window[0] <= now - span:
                    window.popleft()
            if len(minute) >= self.per_minute:
                return minute[0] + 60 - now
            if len(hour) >= self.per_hour:
                return hour[0] + 3600 - now
            minute.append(now)
            hour.append(now)
            return None


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
    ) -> None:
        if not (host.startswith("127.") or host in ("::1", "localhost")):
            raise ValueError("the emulator listens on loopback addresses only")
        if isinstance(data, Path):
            data = fleet_module.load(data)
        self.fleet = data or fleet_module.generate(machines, seed)
        self.clock = clock or SYSTEM_CLOCK
        self.host, self.port = host, port
        self.legacy_not_found = legacy_not_found
        self.token_lifetime = token_lifetime
        # Paging quirks seen in the field: a server-side page cap with @odata.nextLink, and a
        # nextLink that always points at the same page.
        self.server_page_size = server_page_size
        self.repeat_next_link = repeat_next_link
        self.tenant_id = str(uuid.UUID(int=seed * 7919 + 1))
        self.apps: dict[str, App] = {}
        self.write_app = self.add_app([WRITE])
        self.readonly_app = self.add_app([READ])
        self.managed_identity_header = secrets.token_urlsafe(24)
        self.managed_identity_app = App(str(uuid.UUID(int=seed * 7919 + 99)), [WRITE])
        self.faults = FaultPlan()
        self.limiter = RateLimiter(rate_per_minute, rate_per_hour, self.clock)
        self.requests: list[LoggedRequest] = []
        self.token_requests = 0
        self._token_generation = 0
        self._lock = threading.RLock()
        self._index()
        self._state_dir = state_dir
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._pki = pki.pki()

    # -- set-up ---------------------------------------------------------------------------

    def add_app(self, roles: list[str], certificate: x509.Certificate | None = None) -> App:
        """Register an app with these roles: a secret, or a certificate credential."""
        client_id = str(uuid.uuid4())
        app = App(client_id, roles, None if certificate else secrets.token_urlsafe(32), certificate)
        self.apps[client_id] = app
        return app

    def add_fault(self, fault: Fault | None = None, **rule: Any) -> Fault:
        """Inject a fault (see :class:`Fault`); returns the rule, whose `hits` count firings."""
        return self.faults.add(fault or Fault(**rule))

    def expire_tokens(self) -> None:
        """Make every token issued so far invalid, as if it had expired."""
        self._token_generation += 1

    def relate_file(self, sha1: str, machine_ids: list[str]) -> None:
        """Say that these machines have seen the file."""
        with self._lock:
            self.fleet.files[sha1.lower()] = list(machine_ids)

    def machine(self, machine_id: str) -> dict[str, Any] | None:
        """The emulator's current copy of a machine."""
        return self._by_id.get(machine_id.lower())

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

    def _index(self) -> None:
        self._by_id = {m["id"].lower(): m for m in self.fleet.machines}
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
        cert_file = self.state_dir / "server.pem"
        cert_file.write_text(self._pki.server_cert_pem + self._pki.server_key_pem)
        cert_file.chmod(0o600)
        self.ca_path.write_text(self._pki.ca_pem)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(cert_file)
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        server_class = type("EmulatorServer", (ThreadingHTTPServer,), {"address_family": family})
        server = server_class((self.host, self.port), _handler_for(self))
        server.daemon_threads = True
        server.socket = context.wrap_socket(
            server.socket, server_side=True, do_handshake_on_connect=False
        )
        self._server = server
        self.port = server.server_address[1]
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

    # -- tokens ---------------------------------------------------------------------------

    def issue_token(self, app: App, audience: str = AUDIENCE) -> str:
        """A signed access token for `app`, as the token endpoint would issue it."""
        now = int(self.clock.time())
        claims = {
            "aud": audience,
            "iss": f"https://sts.windows.net/{self.tenant_id}/",
            "iat": now,
            "nbf": now,
            "exp": now + self.token_lifetime,
            "appid": app.client_id,
            "oid": str(uuid.uuid5(uuid.NAMESPACE_OID, app.client_id)),
            "tid": self.tenant_id,
            "roles": app.roles,
            "ver": "1.0",
            # Tokens issued before the last expire_tokens() are refused, whatever the clock says.
            "mdepack_generation": self._token_generation,
        }
        return pki.sign_jwt(claims, self._pki.signing_key, self._pki.key_id)

    def _token_claims(self, header: str | None) -> dict[str, Any]:
        if not header or not header.startswith("Bearer "):
            raise ApiFailure(401, "Unauthorized", "Authorization header is missing or malformed.")
        claims = pki.verify_jwt(header[7:].strip(), self._pki.signing_key.public_key())
        if claims is None:
            raise ApiFailure(401, "Unauthorized", "The access token signature is invalid.")
        if str(claims.get("aud", "")).rstrip("/") != AUDIENCE:
            raise ApiFailure(403, "Forbidden", "The access token has the wrong audience.")
        now = self.clock.time()
        stale = claims.get("mdepack_generation", 0) < self._token_generation
        if claims.get("exp", 0) <= now or stale:
            raise ApiFailure(401, "Unauthorized", "The access token has expired.")
        if claims.get("tid") != self.tenant_id:
            raise ApiFailure(401, "Unauthorized", "The access token is for another tenant.")
        return claims

    # -- API ------------------------------------------------------------------------------

    def handle_api(
        self, method: str, path: str, query: dict[str, str], body: Any, claims: dict[str, Any]
    ) -> _Reply:
        """Answer one authorised API request."""
        parts = [unquote(p) for p in path.split("/") if p]
        if parts[:2] == ["api", "v1.0"]:
            parts = ["api", *parts[2:]]
        roles = set(claims.get("roles", []))
        routes: list[tuple[str, list[str], str, Callable[..., _Reply]]] = [
            ("GET", ["api", "machines"], READ, self._list),
            ("GET", ["api", "machines", "findbytag"], READ, self._find_by_tag),
            (
                "POST",
                ["api", "machines", "AddOrRemoveTagForMultipleMachines"],
                WRITE,
                self._tag_many,
            ),
            ("GET", ["api", "machines", "*"], READ, self._get_machine),
            ("POST", ["api", "machines", "*", "tags"], WRITE, self._tag_one),
            ("GET", ["api", "files", "*", "machines"], READ, self._file_machines),
            ("GET", ["api", "users", "*", "machines"], READ, self._user_machines),
        ]
        for route_method, pattern, role, handler in routes:
            if len(pattern) == len(parts) and all(
                p in ("*", q) for p, q in zip(pattern, parts, strict=True)
            ):
                if route_method != method:
                    continue
                if not (roles & {role, WRITE}):
                    raise ApiFailure(
                        403,
                        "Forbidden",
                        f"Missing application roles. API required roles: {role}, "
                        f"application roles: {', '.join(sorted(roles)) or 'none'}.",
                    )
                args = [p for p, q in zip(parts, pattern, strict=True) if q == "*"]
                return handler(*args, query=query, body=body)
        raise ApiFailure(404, "NotFound", f"Resource not found: {path}")

    def _collection(self, machines: list[dict[str, Any]], next_link: str | None = None) -> _Reply:
        with self._lock:
            parts = []
            for machine in machines:
                cached = self._json_cache.get(machine["id"])
                if cached is None:
                    cached = json.dumps(machine, separators=(",", ":")).encode()
                    self._json_cache[machine["id"]] = cached
                parts.append(cached)
        context = f'{{"@odata.context":"{self.url}/api/$metadata#Machines",'
        if next_link:
            context += f'"@odata.nextLink":{json.dumps(next_link)},'
        head = (context + '"value":[').encode()
        return _Reply(200, head + b",".join(parts) + b"]}")

    def _list(self, *, query: dict[str, str], body: Any) -> _Reply:
        machines = self.fleet.machines
        if not machines:
            raise ApiFailure(404, "NotFound", "No machines found.")
        text = query.get("$filter")
        if text:
            try:
                predicate = odata.compile_filter(text)
                machines = [m for m in machines if predicate(m)]
            except odata.ODataError as exc:
                raise ApiFailure(400, "ODataError", f"Invalid filter clause: {exc}") from None
        top = _integer(query, "$top", MAX_TOP)
        skip = _integer(query, "$skip", 0)
        if top > MAX_TOP:
            raise ApiFailure(
                400,
                "BadRequest",
                f"The limit of '{MAX_TOP}' for Top query has been exceeded. "
                f"The value from the incoming request is '{top}'.",
            )
        page_size = min(top, self.server_page_size or top)
        page = machines[skip : skip + page_size]
        next_link = None
        if self.server_page_size and (self.repeat_next_link or skip + page_size < len(machines)):
            next_skip = self.server_page_size if self.repeat_next_link else skip + page_size
            link_query = {k: v for k, v in query.items() if k not in ("$skip", "$top")}
            link_query["$skip"] = str(next_skip)
            next_link = f"{self.url}/api/machines?{urlencode(link_query)}"
        return self._collection(page, next_link)

    def _find_by_tag(self, *, query: dict[str, str], body: Any) -> _Reply:
        tag = query.get("tag")
        if not tag:
            raise ApiFailure(400, "MissingRequiredParameter", "Parameter 'tag' is required.")
        prefix = query.get("useStartsWithFilter", "false").lower() == "true"
        found = [
            m
            for m in self.fleet.machines
            if any((t.startswith(tag) if prefix else t == tag) for t in m.get("machineTags") or [])
        ]
        return self._collection(found)

    def _get_machine(self, ref: str, *, query: dict[str, str], body: Any) -> _Reply:
        machine = self._by_id.get(ref.lower()) or self._by_dns.get(ref.lower())
        if machine is None:
            raise ApiFailure(404, "ResourceNotFound", f"Machine {ref} was not found.")
        return _Reply(200, json.dumps(machine).encode())

    def _file_machines(self, sha1: str, *, query: dict[str, str], body: Any) -> _Reply:
        if len(sha1) != 40 or any(c not in "0123456789abcdefABCDEF" for c in sha1):
            raise ApiFailure(
                400, "InvalidHashValue", f"Hash value {sha1} is invalid. Only SHA1 is supported."
            )
        ids = self.fleet.files.get(sha1.lower())
        if ids is None and self.legacy_not_found:
            raise ApiFailure(404, "NotFound", f"File {sha1} was not found.")
        return self._collection([self._by_id[i] for i in ids or [] if i in self._by_id])

    def _user_machines(self, user: str, *, query: dict[str, str], body: Any) -> _Reply:
        ids = self.fleet.users.get(user.lower())
        if ids is None and self.legacy_not_found:
            raise ApiFailure(404, "NotFound", f"User {user} was not found.")
        return self._collection([self._by_id[i] for i in ids or [] if i in self._by_id])

    def _tag_one(self, ref: str, *, query: dict[str, str], body: Any) -> _Reply:
        value, action = _tag_request(body, {"Value", "Action"})
        machine = self._by_id.get(ref.lower())
        if machine is None:
            raise ApiFailure(404, "ResourceNotFound", f"Machine {ref} was not found.")
        self._apply_tag(machine, value, action)
        return _Reply(200, json.dumps(machine).encode())

    def _tag_many(self, *, query: dict[str, str], body: Any) -> _Reply:
        value, action = _tag_request(body, TAG_BODY_KEYS)
        ids = body.get("MachineIds")
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise ApiFailure(400, "InvalidRequestBody", "MachineIds must be a list of machine ids.")
        if len(ids) > MAX_BATCH:
            raise ApiFailure(
                400,
                "MaximumBatchSizeExceeded",
                f"Maximum batch size is {MAX_BATCH} machines; the request has {len(ids)}.",
            )
        updated = []
        for machine_id in ids:
            machine = self._by_id.get(machine_id.lower())
            if machine is not None:
                self._apply_tag(machine, value, action)
                updated.append(machine)
        return self._collection(updated)

    def _apply_tag(self, machine: dict[str, Any], value: str, action: str) -> None:
        with self._lock:
            tags = list(machine.get("machineTags") or [])
            if action == "Add" and value not in tags:
                tags.append(value)
            elif action == "Remove":
                tags = [t for t in tags if t != value]
            machine["machineTags"] = tags
            self._json_cache.pop(machine["id"], None)

    # -- token endpoint -------------------------------------------------------------------

    def handle_token(self, form: dict[str, str]) -> _Reply:
        """OAuth2 client credentials, answering as Entra does (errors included)."""
        self.token_requests += 1
        if form.get("grant_type") != "client_credentials":
            return _entra_error(
                400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type."
            )
        app = self.apps.get(form.get("client_id", ""))
        if app is None:
            return _entra_error(
                400,
                "invalid_client",
                700016,
                f"Application with identifier '{form.get('client_id', '')}' was not found in the directory '{self.tenant_id}'.",
            )
        if not self._client_authenticated(app, form):
            return _entra_error(
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.",
            )
        scope = form.get("scope", "")
        if scope.split()[0:1] != [AUDIENCE + "/.default"]:
            return _entra_error(
                400, "invalid_scope", 1002012, f"The provided value for scope {scope} is not valid."
            )
        token = self.issue_token(app)
        body = {
            "token_type": "Bearer",
            "expires_in": self.token_lifetime,
            "ext_expires_in": self.token_lifetime,
            "access_token": token,
        }
        return _Reply(
            200, json.dumps(body).encode(), {"Content-Type": "application/json; charset=utf-8"}
        )

    def _client_authenticated(self, app: App, form: dict[str, str]) -> bool:
        if app.secret is not None:
            return secrets.compare_digest(form.get("client_secret", ""), app.secret)
        assertion = form.get("client_assertion", "")
        if app.certificate is None or not assertion:
            return False
        header = pki.jwt_header(assertion)
        named = {str(header.get(key, "")).rstrip("=") for key in ("x5t", "x5t#S256")}
        if not named & pki.thumbprints(app.certificate):
            return False
        claims = pki.verify_jwt(assertion, app.certificate.public_key())
        return bool(
            claims and claims.get("sub") == app.client_id and claims.get("exp", 0) > time.time()
        )

    def handle_managed_identity(self, query: dict[str, str], identity_header: str | None) -> _Reply:
        """The App Service / Azure Functions managed identity endpoint."""
        if not identity_header or not secrets.compare_digest(
            identity_header, self.managed_identity_header
        ):
            return _Reply(
                401,
                b'{"error":"invalid_request","error_description":"X-IDENTITY-HEADER is missing or wrong"}',
            )
        if query.get("resource", "").rstrip("/") != AUDIENCE:
            return _Reply(
                400, b'{"error":"invalid_resource","error_description":"unknown resource"}'
            )
        self.token_requests += 1
        token = self.issue_token(self.managed_identity_app)
        body = {
            "access_token": token,
            "expires_on": str(int(time.time()) + self.token_lifetime),
            "resource": AUDIENCE,
            "token_type": "Bearer",
            "client_id": self.managed_identity_app.client_id,
        }
        return _Reply(200, json.dumps(body).encode(), {"Content-Type": "application/json"})

    def discovery(self, tenant: str) -> _Reply:
        """The OpenID configuration MSAL reads before asking for a token."""
        base = f"{self.authority}/{tenant}"
        document = {
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "issuer": f"{self.authority}/{tenant}/v2.0",
            "jwks_uri": f"{base}/discovery/v2.0/keys",
            "token_endpoint_auth_methods_supported": [
                "client_secret_post",
                "private_key_jwt",
                "client_secret_basic",
            ],
            "response_types_supported": ["code", "id_token", "token"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "tenant_region_scope": "NA",
        }
        return _Reply(200, json.dumps(document).encode(), {"Content-Type": "application/json"})


def _integer(query: dict[str, str], name: str, default: int) -> int:
    if name not in query:
        return default
    try:
        value = int(query[name])
    except ValueError:
        raise ApiFailure(400, "ODataError", f"Invalid value for {name}: '{query[name]}'.") from None
    if value < 0:
        raise ApiFailure(400, "ODataError", f"Invalid value for {name}: '{value}'.")
    return value


def _tag_request(body: Any, allowed: set[str]) -> tuple[str, str]:
    if not isinstance(body, dict):
        raise ApiFailure(400, "InvalidRequestBody", "The request body must be a JSON object.")
    unknown = set(body) - allowed
    if unknown:
        raise ApiFailure(
            400,
            "InvalidRequestBody",
            f"Unknown properties in request body: {', '.join(sorted(unknown))}.",
        )
    missing = sorted(allowed - set(body))
    if missing:
        raise ApiFailure(
            400, "MissingRequiredParameter", f"Missing required parameter: {missing[0]}."
        )
    value, action = body["Value"], body["Action"]
    if not isinstance(value, str) or not value:
        raise ApiFailure(400, "InvalidInput", "Value must be a non-empty tag.")
    if action not in ("Add", "Remove"):
        raise ApiFailure(400, "InvalidInput", f"Action must be Add or Remove, not {action!r}.")
    return value, action


def _entra_error(status: int, error: str, code: int, description: str) -> _Reply:
    trace = str(uuid.uuid4())
    body = {
        "error": error,
        "error_description": f"AADSTS{code}: {description} Trace ID: {trace} Correlation ID: {uuid.uuid4()} Timestamp: {time.strftime('%Y-%m-%d %H:%M:%SZ', time.gmtime())}",
        "error_codes": [code],
        "timestamp": time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime()),
        "trace_id": trace,
        "correlation_id": str(uuid.uuid4()),
    }
    return _Reply(
        status, json.dumps(body).encode(), {"Content-Type": "application/json; charset=utf-8"}
    )


def _error_reply(failure: ApiFailure) -> _Reply:
    if failure.body is not None:
        return _Reply(failure.status, json.dumps(failure.body).encode(), failure.headers)
    target = f"|{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:16]}.1."
    body = {"error": {"code": failure.code, "message": failure.message, "target": target}}
    return _Reply(failure.status, json.dumps(body).encode(), failure.headers)


def _handler_for(emulator: Emulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "mdepack-emulator"
        timeout = 30

        def setup(self) -> None:
            super().setup()
            # Headers and body go out in two writes; without this, Nagle's algorithm and the
            # client's delayed ACK stall every answer by about 40 ms.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                self.connection.do_handshake()
            except (ssl.SSLError, OSError):
                self.close_connection = True

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the request log replaces stderr chatter

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def do_DELETE(self) -> None:
            self._serve("DELETE")

        def do_PATCH(self) -> None:
            self._serve("PATCH")

        def _serve(self, method: str) -> None:
            split = urlsplit(self.path)
            path = split.path
            query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            fault = emulator.faults.pick(method, path)
            if fault is not None and fault.delay:
                time.sleep(fault.delay)
            if fault is not None and fault.drop:
                self.close_connection = True
                return
            if path.startswith("/api/"):
                reply, body, client_id = self._api(method, path, query, raw, fault)
                with emulator._lock:
                    emulator.requests.append(
                        LoggedRequest(
                            method,
                            path,
                            query,
                            body,
                            reply.status,
                            client_id,
                            emulator.clock.monotonic(),
                        )
                    )
            else:
                reply = self._identity(method, path, query, raw, fault)
            if fault is not None and fault.drop_after:
                self.close_connection = True
                return
            self._send(reply, fault)

        def _api(
            self, method: str, path: str, query: dict[str, str], raw: bytes, fault: Fault | None
        ) -> tuple[_Reply, Any, str | None]:
            body: Any = None
            client_id = None
            try:
                if raw:
                    try:
                        body = json.loads(raw)
                    except ValueError:
                        raise ApiFailure(
                            400, "InvalidRequestBody", "The request body is not valid JSON."
                        ) from None
                if fault is not None and fault.status and fault.reply is None:
                    raise _fault_failure(fault)
                claims = emulator._token_claims(self.headers.get("Authorization"))
                client_id = claims.get("appid")
                wait = emulator.limiter.admit(f"{claims.get('tid')}+{client_id}")
                if wait is not None:
                    seconds = max(1, int(wait + 0.999))
                    raise ApiFailure(
                        429,
                        "429",
                        f"API calls quota exceeded! Maximum allowed {emulator.limiter.per_minute} per 00:01:00 "
                        f"for the key Destination+TenantID+AppID. You can send requests again in {seconds} seconds.",
                        {"Retry-After": str(seconds)},
                    )
                reply = emulator.handle_api(method, path, query, body, claims)
                if fault is not None and fault.reply is not None:
                    reply = _Reply(fault.status or 200, fault.reply)
            except ApiFailure as failure:
                reply = _error_reply(failure)
            reply.headers.setdefault("Content-Type", CONTENT_TYPE)
            reply.headers.setdefault("OData-Version", "4.0")
            return reply, body, client_id

        def _identity(
            self, method: str, path: str, query: dict[str, str], raw: bytes, fault: Fault | None
        ) -> _Reply:
            if fault is not None and fault.status:
                return _error_reply(_fault_failure(fault))
            parts = [p for p in path.split("/") if p]
            if method == "GET" and path == "/msi/token":
                return emulator.handle_managed_identity(
                    query, self.headers.get("X-IDENTITY-HEADER")
                )
            if (
                len(parts) == 4
                and parts[0] == emulator.tenant_id
                and parts[1:] == ["v2.0", ".well-known", "openid-configuration"]
            ):
                return emulator.discovery(parts[0])
            if method == "POST" and parts == [emulator.tenant_id, "oauth2", "v2.0", "token"]:
                form = {k: v[-1] for k, v in parse_qs(raw.decode(), keep_blank_values=True).items()}
                return emulator.handle_token(form)
            if len(parts) >= 1 and parts[0] != emulator.tenant_id:
                return _entra_error(400, "invalid_tenant", 90002, f"Tenant '{parts[0]}' not found.")
            return _entra_error(404, "not_found", 90000, f"No endpoint at {path}.")

        def _send(self, reply: _Reply, fault: Fault | None) -> None:
            self.send_response(reply.status)
            for key, value in reply.headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            if fault is not None and fault.trickle:
                self.wfile.flush()
                self.close_connection = True
                try:
                    for index in range(len(reply.body)):
                        time.sleep(fault.trickle)
                        self.wfile.write(reply.body[index : index + 1])
                        self.wfile.flush()
                except OSError:
                    pass  # the client gave up, as it should
                return
            if fault is not None and fault.truncate:
                self.wfile.write(reply.body[: max(1, len(reply.body) // 2)])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(reply.body)

    return Handler


def _fault_failure(fault: Fault) -> ApiFailure:
    status = fault.status or 500
    headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
    if status == 429 and fault.body is None:
        message = fault.message or (
            "API calls quota exceeded! Maximum allowed 100 per 00:01:00 for the key "
            "Destination+TenantID+AppID. You can send requests again in 8 seconds."
        )
        return ApiFailure(429, "429", message, headers)
    codes = {
        500: "InternalServerError",
        502: "BadGateway",
        503: "ServiceUnavailable",
        504: "GatewayTimeout",
        401: "Unauthorized",
        403: "Forbidden",
        404: "NotFound",
        400: "BadRequest",
    }
    return ApiFailure(
        status,
        codes.get(status, str(status)),
        fault.message or f"Injected fault {status}.",
        headers,
        fault.body,
    )
