"""MDE_CLIENT_SECRET_ARN: the app's client secret read at run time from AWS Secrets Manager, so it
never sits in the function's environment. It goes through the AWS Parameters and Secrets Lambda
Extension (a layer the SAM template adds), which answers on localhost and caches the secret; the
pack keeps it five minutes too, so warm invocations make no call and a rotation is picked up."""

from __future__ import annotations

import json
import os
import re
import threading
import time
from urllib.parse import quote

import requests

from mdepack.errors import ConfigError
from mdepack.redact import register_secret

_ARN = re.compile(r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+$")
KEEP_SECONDS = 300.0
_cache: dict[str, tuple[float, str]] = {}
_lock = threading.Lock()


def client_secret(arn: str) -> str:
    """The secret's value (or its `client_secret` key, if the secret is JSON)."""
    if not _ARN.match(arn):
        raise _bad("must be a Secrets Manager secret ARN (arn:aws:secretsmanager:…:secret:…)")
    with _lock:
        kept = _cache.get(arn)
        if kept is not None and time.monotonic() - kept[0] < KEEP_SECONDS:
            return kept[1]
    value = _fetch(arn)
    register_secret(value)
    with _lock:
        _cache[arn] = (time.monotonic(), value)
    return value


def _fetch(arn: str) -> str:
    token = os.environ.get("AWS_SESSION_TOKEN")
    if not token:
        raise _bad(
            "is read through the Lambda extension, which needs AWS_SESSION_TOKEN (in Lambda)"
        )
    port = os.environ.get("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", "2773")
    url = f"http://127.0.0.1:{port}/secretsmanager/get?secretId={quote(arn, safe='')}"
    # The session token goes to the extension on this host only: never through HTTP(S)_PROXY.
    session = requests.Session()
    session.trust_env = False
    try:
        with session:
            answer = session.get(
                url, headers={"X-Aws-Parameters-Secrets-Token": token}, timeout=(2, 10)
            )
    except requests.RequestException:
        raise _bad(
            f"needs the AWS Parameters and Secrets Lambda Extension layer: nothing answers on "
            f"127.0.0.1:{port}"
        ) from None
    if answer.status_code != 200:
        raise _bad(f"the extension could not read the secret (HTTP {answer.status_code})")
    try:
        text = answer.json()["SecretString"]
    except (ValueError, KeyError, TypeError):
        raise _bad("the secret has no SecretString") from None
    try:
        document = json.loads(text)
    except ValueError:
        return str(text)
    if isinstance(document, dict) and isinstance(document.get("client_secret"), str):
        return str(document["client_secret"])
    return str(text)


def _bad(rule: str) -> ConfigError:
    return ConfigError(f"MDE_CLIENT_SECRET_ARN {rule}", field="MDE_CLIENT_SECRET_ARN", rule=rule)
