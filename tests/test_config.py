"""Configuration from MDE_* variables: clouds, regions, overrides, loopback-only http."""

from __future__ import annotations

import pytest

from mdepack.config import Config, is_loopback
from mdepack.errors import InputError

CREDS = {"MDE_TENANT_ID": "t", "MDE_CLIENT_ID": "c", "MDE_CLIENT_SECRET": "s3cr3t-value-xyz"}


def test_public_cloud_is_the_default() -> None:
    config = Config.from_env(CREDS)
    assert config.api_url == "https://api.security.microsoft.com"
    assert config.authority == "https://login.microsoftonline.com"
    assert config.scope == "https://api.securitycenter.microsoft.com/.default"


@pytest.mark.parametrize(
    ("cloud", "api", "authority"),
    [
        ("gcc", "https://api-gcc.securitycenter.microsoft.us", "https://login.microsoftonline.com"),
        (
            "gcc-high",
            "https://api-gov.securitycenter.microsoft.us",
            "https://login.microsoftonline.us",
        ),
        ("dod", "https://api-gov.securitycenter.microsoft.us", "https://login.microsoftonline.us"),
    ],
)
def test_government_clouds(cloud: str, api: str, authority: str) -> None:
    config = Config.from_env({**CREDS, "MDE_CLOUD": cloud})
    assert (config.api_url, config.authority, config.scope) == (api, authority, api + "/.default")


def test_region_selects_the_regional_host() -> None:
    assert (
        Config.from_env({**CREDS, "MDE_REGION": "eu"}).api_url
        == "https://eu.api.security.microsoft.com"
    )


@pytest.mark.parametrize(
    ("env", "field"),
    [
        ({"MDE_CLOUD": "mars"}, "MDE_CLOUD"),
        ({"MDE_REGION": "atlantis"}, "MDE_REGION"),
        ({"MDE_CLOUD": "gcc", "MDE_REGION": "eu"}, "MDE_REGION"),
        ({"MDE_API_URL": "http://api.example.com"}, "MDE_API_URL"),
        ({"MDE_AUTHORITY": "http://10.0.0.1"}, "MDE_AUTHORITY"),
        ({"MDE_API_URL": "ftp://x"}, "MDE_API_URL"),
        ({"MDE_TIMEOUT": "soon"}, "MDE_TIMEOUT"),
        ({"MDE_TIMEOUT": "-1"}, "MDE_TIMEOUT"),
    ],
)
def test_bad_settings_are_refused_naming_the_variable(env: dict[str, str], field: str) -> None:
    with pytest.raises(InputError) as caught:
        Config.from_env({**CREDS, **env})
    assert caught.value.field == field


def test_http_is_allowed_only_for_loopback() -> None:
    assert (
        Config.from_env({**CREDS, "MDE_API_URL": "http://127.0.0.1:8080"}).api_url
        == "http://127.0.0.1:8080"
    )
    assert (
        Config.from_env({**CREDS, "MDE_API_URL": "http://[::1]:8080/"}).api_url
        == "http://[::1]:8080"
    )
    assert is_loopback("localhost") and is_loopback("127.9.9.9") and not is_loopback("10.0.0.1")


@pytest.mark.parametrize("missing", ["MDE_TENANT_ID", "MDE_CLIENT_ID", "MDE_CLIENT_SECRET"])
def test_missing_credentials_are_refused(missing: str) -> None:
    env = {k: v for k, v in CREDS.items() if k != missing}
    with pytest.raises(InputError) as caught:
        Config.from_env(env)
    assert caught.value.field == missing


def test_an_access_token_or_managed_identity_needs_no_app_secret() -> None:
    assert Config.from_env({"MDE_ACCESS_TOKEN": "eyJabc.def.ghi"}).access_token == "eyJabc.def.ghi"
    assert Config.from_env({"MDE_MANAGED_IDENTITY": "system"}).managed_identity == "system"


def test_timeout_and_retry_settings() -> None:
    config = Config.from_env({**CREDS, "MDE_TIMEOUT": "5", "MDE_RETRIES": "off"})
    assert (config.connect_timeout, config.read_timeout, config.max_attempts) == (5.0, 5.0, 1)


def test_secrets_stay_out_of_repr() -> None:
    assert "s3cr3t" not in repr(Config.from_env(CREDS))
