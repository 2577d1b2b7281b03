"""Keeps secrets out of output, errors and logs.

Configuration registers every secret it reads (client secret, certificate key, access token) and
the auth code registers every token it obtains; :func:`redact` removes them, plus anything shaped
like a bearer token, a JWT or a SAS link's signature, from any text leaving the pack.
"""

from __future__ import annotations

import re
import threading

_MASK = "***"
_lock = threading.Lock()
_secrets: set[str] = set()
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*")
_BEARER = re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{8,}")
# A SAS link's signature (live response results, blob storage): the link without it is harmless.
_SAS_SIGNATURE = re.compile(r"(?i)([?&](?:sig|signature)=)[^&\s\"'<>]+")
_PEM_KEY = re.compile(
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S
)


def register_secret(value: str | None) -> None:
    """Remember a secret so that :func:`redact` removes it wherever it appears."""
    # Every secret is masked, however short: a short one may mask an ordinary word too, which is
    # the lesser harm.
    if value:
        with _lock:
            _secrets.add(value)


def redact(text: str) -> str:
    """Return `text` with registered secrets, bearer tokens, JWTs and private keys masked."""
    if not text:
        return text
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, _MASK)
    text = _PEM_KEY.sub(_MASK, text)
    text = _SAS_SIGNATURE.sub(r"\1" + _MASK, text)
    text = _BEARER.sub("Bearer " + _MASK, text)
    return _JWT.sub(_MASK, text)
