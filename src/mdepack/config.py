"""Configuration from MDE_* environment variables: the same names on every platform.

| variable | meaning |
|---|---|
| MDE_TENANT_ID, MDE_CLIENT_ID | the app registration |
| MDE_CLIENT_SECRET / MDE_CLIENT_CERTIFICATE | credential (certificate: PEM text or a path, key + cert) |
| MDE_CLIENT_SECRET_ARN | on AWS Lambda: the secret read at run time from Secrets Manager (see aws_secrets) |
| MDE_MANAGED_IDENTITY | `system` or a user-assigned client id |
| MDE_ACCESS_TOKEN | a bearer token obtained elsewhere (no MSAL), for the Defender API's audience |
| MDE_GRAPH_ACCESS_TOKEN | the same for the Microsoft Graph security API's audience (Graph actions) |
| MDE_CLOUD, MDE_REGION | public/gcc/gcc-high/dod; regional host for the public cloud |
| MDE_API_URL, MDE_AUTHORITY | explicit API base and token authority host |
| MDE_GRAPH_URL | explicit Microsoft Graph base (the second API family: hunting, alerts) |
| MDE_TIMEOUT | seconds one request may take, body included (default 60; connect: at most 10 s) |
| MDE_CA_BUNDLE | a CA bundle to trust for the API and the authority |
| MDE_RETRIES | `off` to leave retries to the engine; else the attempts per call (default 4) |
| MDE_RETRY_BUDGET | total seconds one call may spend waiting to retry (default 120) |
| MDE_RATE_PER_MINUTE, MDE_RATE_PER_HOUR | the process-wide call budget (default 100 and 1500) |
| MDE_MAX_PAGES | the most pages one listing may fetch (default 200) |
| MDE_MAX_RESPONSE_MB | the largest answer read, in MiB (default 128); larger is an error, not retried |
| MDE_MAX_MACHINES_CEILING | the operator's limit on machines one write may touch; no input raises it |
| MDE_RATE_STORE | a Redis URL: every process with the same tenant and app shares one budget there |
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from urllib3.util import parse_url

from mdepack.errors import ConfigError
from mdepack.redact import register_secret

# The token audience is the legacy host for every commercial API host (a token for another gets 403).
PUBLIC_SCOPE = "https://api.securitycenter.microsoft.com/.default"


@dataclass(frozen=True)
class Cloud:
    """Where one cloud's authority and APIs live: the Defender API and Microsoft Graph, each
    with the token audience it accepts."""

    authority: str
    api: str
    scope: str
    graph: str = "https://graph.microsoft.com"
    graph_scope: str = "https://graph.microsoft.com/.default"


CLOUDS: dict[str, Cloud] = {
    "public": Cloud(
        "https://login.microsoftonline.com", "https://api.security.microsoft.com", PUBLIC_SCOPE
    ),
    "gcc": Cloud(
        "https://login.microsoftonline.com",
        "https://api-gcc.securitycenter.microsoft.us",
        "https://api-gcc.securitycenter.microsoft.us/.default",
    ),
    "gcc-high": Cloud(
        "https://login.microsoftonline.us",
        "https://api-gov.securitycenter.microsoft.us",
        "https://api-gov.securitycenter.microsoft.us/.default",
        "https://graph.microsoft.us",
        "https://graph.microsoft.us/.default",
    ),
    "dod": Cloud(
        "https://login.microsoftonline.us",
        "https://api-gov.securitycenter.microsoft.us",
        "https://api-gov.securitycenter.microsoft.us/.default",
        "https://dod-graph.microsoft.us",
        "https://dod-graph.microsoft.us/.default",
    ),
}
# The API families an action may call (the manifest's `api`); the Defender API is the default.
APIS = ("defender", "graph")
REGIONS = ("us", "eu", "uk", "au", "swa", "ina", "aea")


@dataclass(frozen=True)
class Config:
    """Everything the runtime needs to reach the API. Secrets are kept out of repr()."""

    api_url: str
    authority: str
    scope: str
    tenant_id: str | None = None
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    client_certificate: str | None = field(default=None, repr=False)
    managed_identity: str | None = None
    access_token: str | None = field(default=None, repr=False)
    ca_bundle: str | None = None
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    max_attempts: int = 4
    retry_budget: float = 120.0
    rate_per_minute: int = 100
    rate_per_hour: int = 1500
    max_pages: int = 200
    max_response_bytes: int = 128 * 1024 * 1024
    max_machines_ceiling: int | None = None
    rate_store: str | None = field(default=None, repr=False)  # its URL may hold a password
    graph_url: str = "https://graph.microsoft.com"
    graph_scope: str = "https://graph.microsoft.com/.default"
    graph_access_token: str | None = field(default=None, repr=False)
    api: str = "defender"  # which family api_url, scope and access_token are for

    @property
    def verify(self) -> str | bool:
        """What `requests` gets as `verify=` on every call."""
        return self.ca_bundle or True

    def with_overrides(self, **changes: object) -> Config:
        """A copy with some settings changed (for example retries off for one call)."""
        return replace(self, **changes)  # type: ignore[arg-type]

    @property
    def has_credentials(self) -> bool:
        """True when the app registration itself is configured (secret, certificate or managed
        identity): MSAL can then get a token for any audience."""
        return bool(self.managed_identity or self.client_secret or self.client_certificate)

    @property
    def token_variable(self) -> str:
        """The variable a bring-your-own token for this configuration's API family is read from."""
        return "MDE_GRAPH_ACCESS_TOKEN" if self.api == "graph" else "MDE_ACCESS_TOKEN"

    def for_api(self, api: str) -> Config:
        """This configuration for one API family: its base URL, token audience and token.

        The same app registration (secret, certificate, managed identity) gets a token for each
        audience; a bring-your-own token is for one audience only, so each family has its own.
        """
        if api == self.api:
            return self
        if api != "graph":
            raise ValueError(f"unknown API family {api!r}")
        if self.graph_access_token is None and not self.has_credentials:
            raise _bad(
                "MDE_GRAPH_ACCESS_TOKEN",
                "is required for Microsoft Graph actions (MDE_ACCESS_TOKEN is a token for the "
                "Defender API's audience; or set client credentials or a managed identity)",
            )
        return replace(
            self,
            api="graph",
            api_url=self.graph_url,
            scope=self.graph_scope,
            access_token=self.graph_access_token,
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Config:
        """Read the MDE_* variables; raise InputError naming the variable that is wrong."""
        env = os.environ if env is None else env

        def get(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        cloud_name = (get("MDE_CLOUD") or "public").lower()
        if cloud_name not in CLOUDS:
            raise _bad("MDE_CLOUD", f"must be one of {', '.join(CLOUDS)}")
        cloud = CLOUDS[cloud_name]
        api_url = cloud.api
        region = get("MDE_REGION")
        if region:
            region = region.lower()
            if region not in REGIONS:
                raise _bad("MDE_REGION", f"must be one of {', '.join(REGIONS)}")
            if cloud_name != "public":
                raise _bad("MDE_REGION", "regional hosts exist only in the public cloud")
            api_url = f"https://{region}.api.security.microsoft.com"
        api_url = _base_url("MDE_API_URL", get("MDE_API_URL") or api_url)
        authority = _base_url("MDE_AUTHORITY", get("MDE_AUTHORITY") or cloud.authority)
        graph_url = _base_url("MDE_GRAPH_URL", get("MDE_GRAPH_URL") or cloud.graph)

        secret, token = get("MDE_CLIENT_SECRET"), get("MDE_ACCESS_TOKEN")
        graph_token = get("MDE_GRAPH_ACCESS_TOKEN")
        secret_arn = get("MDE_CLIENT_SECRET_ARN")
        if secret is None and secret_arn is not None and token is None and graph_token is None:
            from mdepack.aws_secrets import client_secret

            secret = client_secret(secret_arn)
        certificate = _certificate(get("MDE_CLIENT_CERTIFICATE"))
        for value in (secret, token, graph_token, certificate):
            register_secret(value)
        config = cls(
            api_url=api_url,
            authority=authority,
            scope=cloud.scope,
            tenant_id=get("MDE_TENANT_ID"),
            client_id=get("MDE_CLIENT_ID"),
            client_secret=secret,
            client_certificate=certificate,
            managed_identity=get("MDE_MANAGED_IDENTITY"),
            access_token=token,
            ca_bundle=_ca_bundle(get("MDE_CA_BUNDLE")),
            read_timeout=_number(get("MDE_TIMEOUT"), "MDE_TIMEOUT", "read_timeout", 0.01, 3600),
            max_attempts=_attempts(get("MDE_RETRIES")),
            retry_budget=_number(
                get("MDE_RETRY_BUDGET"), "MDE_RETRY_BUDGET", "retry_budget", 0, 86400
            ),
            rate_per_minute=int(
                _number(get("MDE_RATE_PER_MINUTE"), "MDE_RATE_PER_MINUTE", "rate_per_minute", 1)
            ),
            rate_per_hour=int(
                _number(get("MDE_RATE_PER_HOUR"), "MDE_RATE_PER_HOUR", "rate_per_hour", 1)
            ),
            max_pages=int(_number(get("MDE_MAX_PAGES"), "MDE_MAX_PAGES", "max_pages", 1)),
            max_response_bytes=_mebibytes(get("MDE_MAX_RESPONSE_MB")),
            max_machines_ceiling=_ceiling(get("MDE_MAX_MACHINES_CEILING")),
            rate_store=_rate_store(get("MDE_RATE_STORE")),
            graph_url=graph_url,
            graph_scope=cloud.graph_scope,
            graph_access_token=graph_token,
        )
        config = replace(config, connect_timeout=min(10.0, config.read_timeout))
        config.check_credentials()
        return config

    def check_credentials(self) -> None:
        """Refuse a configuration that cannot produce a token, before any call. A Graph token
        alone is enough to start: a Defender action then names MDE_ACCESS_TOKEN (see `for_api`)."""
        if self.access_token or self.managed_identity or self.graph_access_token:
            return
        if not self.tenant_id:
            raise _bad("MDE_TENANT_ID", "is required (or set MDE_ACCESS_TOKEN)")
        if not self.client_id:
            raise _bad("MDE_CLIENT_ID", "is required (or set MDE_ACCESS_TOKEN)")
        if not (self.client_secret or self.client_certificate):
            raise _bad(
                "MDE_CLIENT_SECRET",
                "is required: set MDE_CLIENT_SECRET (or MDE_CLIENT_SECRET_ARN) or MDE_CLIENT_CERTIFICATE, "
                "MDE_MANAGED_IDENTITY, or MDE_ACCESS_TOKEN",
            )


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost: the only hosts plain http:// may reach."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _base_url(name: str, value: str) -> str:
    # A URL the standard parser and the HTTP library could read differently (a backslash,
    # userinfo, white space) might pass the loopback check and still reach another host.
    if "\\" in value or "@" in value or _UNSAFE_URL.search(value):
        raise _bad(name, "must be a plain https:// URL (no user info, backslash or white space)")
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise _bad(name, "must be an https:// URL")
    try:
        seen_by_http = (parse_url(value).host or "").strip("[]").lower()
    except ValueError:
        seen_by_http = ""
    if seen_by_http != parts.hostname.lower():
        raise _bad(name, "must be a plain https:// URL (its host reads differently to HTTP)")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise _bad(name, "must use https:// (http:// is allowed only for loopback hosts)")
    if parts.query or parts.fragment:
        raise _bad(name, "must not carry a query or fragment")
    return value.rstrip("/")


def _certificate(value: str | None) -> str | None:
    if value is None or "-----BEGIN" in value:
        return value
    path = Path(value)
    if not path.is_file():
        raise _bad("MDE_CLIENT_CERTIFICATE", "must be PEM text or the path of a PEM file")
    return path.read_text()


def _ca_bundle(value: str | None) -> str | None:
    if value is not None and not Path(value).exists():
        raise _bad("MDE_CA_BUNDLE", f"names no file or folder: {value}")
    return value


def _attempts(value: str | None) -> int:
    if value is not None and value.lower() in ("off", "0", "false", "no"):
        return 1
    return int(_number(value, "MDE_RETRIES", "max_attempts", 1, 20))


def _mebibytes(value: str | None) -> int:
    default = DEFAULTS["max_response_bytes"] // (1024 * 1024)
    megabytes = _number(value, "MDE_MAX_RESPONSE_MB", default, 1, 4096)
    return int(megabytes * 1024 * 1024)


def _ceiling(value: str | None) -> int | None:
    if value is None:
        return None
    return int(_number(value, "MDE_MAX_MACHINES_CEILING", 0, 1, 1_000_000))


def _number(
    value: str | None, name: str, default: str | float, low: float = 0, high: float = 1e9
) -> float:
    """The number in `value`; `default` is a Config field name (its default) or a number."""
    if value is None:
        return float(DEFAULTS[default] if isinstance(default, str) else default)
    try:
        number = float(value)
    except ValueError:
        raise _bad(name, "must be a number") from None
    if not low <= number <= high:
        raise _bad(name, f"must be between {low:g} and {high:g}")
    return number


def _bad(name: str, rule: str) -> ConfigError:
    return ConfigError(f"{name} {rule}", field=name, rule=rule)


# Each setting's default is written once, on the Config field.
DEFAULTS: dict[str, Any] = {f.name: f.default for f in fields(Config)}
_UNSAFE_URL = re.compile(r"[\x00-\x20\x7f]")


def _rate_store(value: str | None) -> str | None:
    """MDE_RATE_STORE: a Redis URL (redis://, rediss://, unix://) for the shared budget."""
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("redis", "rediss", "unix") or not (parts.hostname or parts.path):
        raise _bad(
            "MDE_RATE_STORE",
            "must be a Redis URL such as redis://cache.internal:6379/0 (or rediss://, unix://)",
        )
    if parts.password:
        register_secret(parts.password)  # never in a log line or an error
    return value
