"""Access tokens: a given bearer token, MSAL client credentials (secret or certificate), or a
managed identity. MSAL is imported only when it is needed, and its applications are kept per
process so a warm serverless instance reuses its cached token.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import requests

from mdepack import transport
from mdepack.config import Config
from mdepack.errors import AuthError, ConfigError
from mdepack.redact import register_secret

T = TypeVar("T")


class TokenProvider(Protocol):
    """Hands out a bearer token; `refresh` drops any cached one first."""

    def token(self) -> str:
        """A valid access token."""

    def refresh(self) -> str:
        """A new access token, bypassing any cache."""


class StaticToken:
    """MDE_ACCESS_TOKEN (or MDE_GRAPH_ACCESS_TOKEN): a token obtained elsewhere; it cannot be
    refreshed here."""

    def __init__(self, token: str, variable: str = "MDE_ACCESS_TOKEN") -> None:
        register_secret(token)
        self._token = token
        self._variable = variable

    def token(self) -> str:
        """The configured token."""
        return self._token

    def refresh(self) -> str:
        """A static token cannot be renewed: the caller sees the API's 401 as AuthError."""
        raise AuthError(
            f"the API refused {self._variable} (expired or wrong audience); supply a new token",
            status=401,
            code="Unauthorized",
        )


class MsalToken:
    """Client credentials or managed identity through MSAL, with MSAL's own token cache."""

    def __init__(self, config: Config, session: requests.Session) -> None:
        self._config = config
        self._lock = threading.Lock()
        # MSAL reads the authority's discovery document while it is built: its failures are
        # typed here like any call's (unreachable: TransientError; TLS: no retry; refused: AuthError).
        self._app: Any = _authority_call(config, lambda: self._build(config, session))

    def token(self) -> str:
        """A cached token while it is valid, else a new one."""
        with self._lock:
            return self._acquire()

    def refresh(self) -> str:
        """Forget cached tokens and ask the authority again."""
        with self._lock:
            remove = getattr(self._app, "remove_tokens_for_client", None)
            if remove is not None:
                remove()
            else:  # managed identity client: a fresh cache
                self._app._token_cache = type(self._app._token_cache)()
            return self._acquire()

    def _acquire(self) -> str:
        config = self._config
        if config.managed_identity:
            resource = config.scope.removesuffix("/.default")
            result = _authority_call(
                config, lambda: self._app.acquire_token_for_client(resource=resource)
            )
        else:
            result = _authority_call(
                config, lambda: self._app.acquire_token_for_client(scopes=[config.scope])
            )
        token = result.get("access_token") if isinstance(result, dict) else None
        if not token:
            error = str(result.get("error", "unknown_error"))
            description = str(result.get("error_description", "")).split("\r\n")[0]
            raise AuthError(f"no token: {error}: {description}".rstrip(": "), code=error)
        register_secret(token)
        return str(token)

    @staticmethod
    def _build(config: Config, session: requests.Session) -> Any:
        import msal

        if config.managed_identity:
            identity: Any = (
                msal.SystemAssignedManagedIdentity()
                if config.managed_identity.lower() == "system"
                else msal.UserAssignedManagedIdentity(client_id=config.managed_identity)
            )
            return msal.ManagedIdentityClient(identity, http_client=session)
        credential: Any = config.client_secret
        if config.client_certificate:
            credential = certificate_credential(config.client_certificate)
        return msal.ConfidentialClientApplication(
            config.client_id,
            client_credential=credential,
            authority=f"{config.authority}/{config.tenant_id}",
            http_client=session,
            # Custom authorities (sovereign overrides, the emulator) are not in Microsoft's list.
            instance_discovery=False,
        )


def _authority_call(config: Config, call: Callable[[], T]) -> T:
    """Run an MSAL call, turning its transport and discovery failures into the pack's errors."""
    try:
        return call()
    except requests.RequestException as exc:
        url = exc.request.url if exc.request is not None else None
        failure = transport.failure_for(exc, str(url or config.authority))
        raise failure.error.with_context(prefix="token authority: ") from None
    except ValueError as exc:  # MSAL's discovery failures: the authority answered, but not as one
        if "Unable to get authority configuration" in str(exc):
            # MSAL's text runs to a paragraph; the cause is the tenant the authority does not know.
            raise AuthError(
                f"token authority {config.authority} knows no tenant {config.tenant_id!r}: "
                "check MDE_TENANT_ID (and MDE_CLOUD for a sovereign cloud)",
                code="UnknownTenant",
            ) from None
        raise AuthError(
            f"token authority {config.authority} refused the request or is not an authority: "
            + str(exc).split(". ")[0],
            code="AuthorityError",
        ) from None


def certificate_credential(pem: str) -> dict[str, str]:
    """MSAL's certificate credential from one PEM holding a private key and a certificate."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    try:
        certificate = x509.load_pem_x509_certificate(pem.encode())
    except ValueError:
        raise AuthError("MDE_CLIENT_CERTIFICATE holds no PEM certificate") from None
    if "PRIVATE KEY-----" not in pem:
        raise AuthError("MDE_CLIENT_CERTIFICATE holds no private key")
    der = certificate.public_bytes(Encoding.DER)
    return {
        "private_key": pem,
        "thumbprint": hashlib.sha1(der, usedforsecurity=False).hexdigest(),
        "thumbprint_sha256": hashlib.sha256(der).hexdigest(),
        "public_certificate": certificate.public_bytes(Encoding.PEM).decode(),
    }


_providers: dict[tuple[str, ...], TokenProvider] = {}
_providers_lock = threading.Lock()


def provider_for(config: Config, session: requests.Session) -> TokenProvider:
    """The token provider for this configuration, shared across calls in the process."""
    variable = config.token_variable
    if config.access_token:
        return StaticToken(config.access_token, variable)
    if not config.has_credentials:
        # Only the other family's bring-your-own token is set: name the one this call needs.
        raise ConfigError(
            f"{variable} is required for this {config.api} API action (or client credentials)",
            field=variable,
            rule="is required",
        )
    secret = config.client_secret or config.client_certificate or ""
    key = (
        config.authority,
        str(config.tenant_id),
        str(config.client_id),
        str(config.managed_identity),
        config.scope,
        str(config.ca_bundle),
        hashlib.sha256(secret.encode()).hexdigest(),
    )
    with _providers_lock:
        if key not in _providers:
            _providers[key] = MsalToken(config, session)
        return _providers[key]
