"""The emulator's token authority, as Entra ID answers: OpenID discovery, client credentials
(secret or certificate assertion), an App Service managed-identity endpoint, RS256 access tokens
with `roles`, and the API side's check of those tokens. Every time comes from the injected clock."""

from __future__ import annotations

import json
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

from cryptography import x509

from mdepack.clock import Clock
from mdepack.emulator import pki
from mdepack.emulator.api import ApiFailure, Reply

AUDIENCE = "https://api.securitycenter.microsoft.com"
GRAPH_AUDIENCE = "https://graph.microsoft.com"
AUDIENCES = (AUDIENCE, GRAPH_AUDIENCE)  # a token is for one of them, and refused by the other


@dataclass
class App:
    """An app registration: its id, credential and application roles."""

    client_id: str
    roles: list[str]
    secret: str | None = None
    certificate: x509.Certificate | None = None


class Authority:
    """Issues and checks tokens for one tenant."""

    def __init__(self, tenant_id: str, url: str, clock: Clock, token_lifetime: int) -> None:
        self.tenant_id = tenant_id
        self.url = url  # set again when the server knows its port
        self.clock = clock
        self.token_lifetime = token_lifetime
        self.apps: dict[str, App] = {}
        self.pki = pki.pki()
        self.managed_identity_header = secrets.token_urlsafe(24)
        self.managed_identity_app: App | None = None
        self.token_requests = 0
        self.generation = 0

    def add_app(self, roles: list[str], certificate: x509.Certificate | None = None) -> App:
        """Register an app with these roles: a secret, or a certificate credential."""
        client_id = str(uuid.uuid4())
        app = App(client_id, roles, None if certificate else secrets.token_urlsafe(32), certificate)
        self.apps[client_id] = app
        return app

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
            "mdepack_generation": self.generation,
        }
        return pki.sign_jwt(claims, self.pki.signing_key, self.pki.key_id)

    def claims(self, header: str | None, audience: str = AUDIENCE) -> dict[str, Any]:
        """The claims of a valid bearer token for `audience`, or the 401/403 the API answers."""
        if not header or not header.startswith("Bearer "):
            raise ApiFailure(401, "Unauthorized", "Authorization header is missing or malformed.")
        claims = pki.verify_jwt(header[7:].strip(), self.pki.signing_key.public_key())
        if claims is None:
            raise ApiFailure(401, "Unauthorized", "The access token signature is invalid.")
        if str(claims.get("aud", "")).rstrip("/") != audience:
            raise ApiFailure(
                401 if audience == GRAPH_AUDIENCE else 403,
                "InvalidAuthenticationToken" if audience == GRAPH_AUDIENCE else "Forbidden",
                "The access token has the wrong audience.",
            )
        stale = claims.get("mdepack_generation", 0) < self.generation
        if claims.get("exp", 0) <= self.clock.time() or stale:
            raise ApiFailure(401, "Unauthorized", "The access token has expired.")
        if claims.get("tid") != self.tenant_id:
            raise ApiFailure(401, "Unauthorized", "The access token is for another tenant.")
        return claims

    def serve(
        self, method: str, path: str, query: dict[str, str], form: dict[str, str], headers: Any
    ) -> Reply:
        """Answer a request that is not for /api/: discovery, token, managed identity."""
        parts = [p for p in path.split("/") if p]
        if method == "GET" and path == "/msi/token":
            return self.managed_identity(query, headers.get("X-IDENTITY-HEADER"))
        if (
            len(parts) == 4
            and parts[0] == self.tenant_id
            and parts[1:] == ["v2.0", ".well-known", "openid-configuration"]
        ):
            return self.discovery(parts[0])
        if method == "POST" and parts == [self.tenant_id, "oauth2", "v2.0", "token"]:
            return self.token(form)
        if parts and parts[0] != self.tenant_id:
            return self.entra_error(400, "invalid_tenant", 90002, f"Tenant '{parts[0]}' not found.")
        return self.entra_error(404, "not_found", 90000, f"No endpoint at {path}.")

    def token(self, form: dict[str, str]) -> Reply:
        """OAuth2 client credentials, answering as Entra does (errors included)."""
        self.token_requests += 1
        if form.get("grant_type") != "client_credentials":
            return self.entra_error(
                400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type."
            )
        app = self.apps.get(form.get("client_id", ""))
        if app is None:
            return self.entra_error(
                400,
                "invalid_client",
                700016,
                f"Application with identifier '{form.get('client_id', '')}' was not found in the directory '{self.tenant_id}'.",
            )
        if not self._authenticated(app, form):
            return self.entra_error(
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.",
            )
        scope = form.get("scope", "")
        audience = scope.split()[0].removesuffix("/.default") if scope.split() else ""
        if audience not in AUDIENCES or not scope.split()[0].endswith("/.default"):
            return self.entra_error(
                400, "invalid_scope", 1002012, f"The provided value for scope {scope} is not valid."
            )
        body = {
            "token_type": "Bearer",
            "expires_in": self.token_lifetime,
            "ext_expires_in": self.token_lifetime,
            "access_token": self.issue_token(app, audience),
        }
        return Reply(
            200, json.dumps(body).encode(), {"Content-Type": "application/json; charset=utf-8"}
        )

    def _authenticated(self, app: App, form: dict[str, str]) -> bool:
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
        # MSAL signs the assertion with the real time, whatever the emulator's clock says.
        return bool(
            claims and claims.get("sub") == app.client_id and claims.get("exp", 0) > time.time()
        )

    def managed_identity(self, query: dict[str, str], identity_header: str | None) -> Reply:
        """The App Service / Azure Functions managed identity endpoint."""
        if not identity_header or not secrets.compare_digest(
            identity_header, self.managed_identity_header
        ):
            return Reply(
                401,
                b'{"error":"invalid_request","error_description":"X-IDENTITY-HEADER is missing or wrong"}',
            )
        resource = query.get("resource", "").rstrip("/")
        if resource not in AUDIENCES or self.managed_identity_app is None:
            return Reply(
                400, b'{"error":"invalid_resource","error_description":"unknown resource"}'
            )
        self.token_requests += 1
        body = {
            "access_token": self.issue_token(self.managed_identity_app, resource),
            "expires_on": str(int(self.clock.time()) + self.token_lifetime),
            "resource": resource,
            "token_type": "Bearer",
            "client_id": self.managed_identity_app.client_id,
        }
        return Reply(200, json.dumps(body).encode(), {"Content-Type": "application/json"})

    def discovery(self, tenant: str) -> Reply:
        """The OpenID configuration MSAL reads before asking for a token."""
        base = f"{self.url}/{tenant}"
        document = {
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "issuer": f"{self.url}/{tenant}/v2.0",
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
        return Reply(200, json.dumps(document).encode(), {"Content-Type": "application/json"})

    def entra_error(self, status: int, error: str, code: int, description: str) -> Reply:
        """An error as Entra words it (AADSTS code, trace and correlation ids, timestamp)."""
        trace = str(uuid.uuid4())
        stamp = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(self.clock.time()))
        body = {
            "error": error,
            "error_description": f"AADSTS{code}: {description} Trace ID: {trace} Correlation ID: {uuid.uuid4()} Timestamp: {stamp}",
            "error_codes": [code],
            "timestamp": stamp,
            "trace_id": trace,
            "correlation_id": str(uuid.uuid4()),
        }
        return Reply(
            status, json.dumps(body).encode(), {"Content-Type": "application/json; charset=utf-8"}
        )
