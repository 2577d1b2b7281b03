"""Custom indicators: what kind of value an indicator is, told from the value itself, and the rules
the API applies to a submission, checked before any call.

    32 / 40 / 64 hex        FileMd5 / FileSha1 / FileSha256 (a 40-hex CertificateThumbprint must
                            be named with indicator_type: it looks like a SHA-1)
    an IPv4 or IPv6 address IpAddress (a CIDR range is refused: the API does not take ranges)
    a URL with a scheme     Url
    a host name             DomainName

Hashes and host names are case-insensitive: they are lower-cased, then de-duplicated.
"""

from __future__ import annotations

import ipaddress
import re
from typing import NamedTuple
from urllib.parse import urlsplit

from mdepack.errors import InputError

HASH_LENGTHS = {32: "FileMd5", 40: "FileSha1", 64: "FileSha256"}
LENGTH_OF = {"FileMd5": 32, "FileSha1": 40, "FileSha256": 64, "CertificateThumbprint": 40}
# The actions Microsoft deprecated, and what replaces each.
DEPRECATED = {
    "Alert": "Audit with generate_alert: true",
    "AlertAndBlock": "Block (or BlockAndRemediate) with generate_alert: true",
}
_HEX = re.compile(r"^[0-9a-fA-F]+$")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


class Indicator(NamedTuple):
    """One value to submit, with its type and the spelling sent to the API (a tuple: thousands
    are made per call)."""

    value: str
    type: str


def classify(raw: str, given: str | None, field: str) -> Indicator:
    """The indicator for `raw` (of type `given` if named), or InputError naming value and rule."""
    value = raw.strip()
    found = _infer(value)
    if _looks_like_range(value):
        raise _bad(field, raw, "is a CIDR range; indicators take single addresses, not ranges")
    if given is None:
        if found is None:
            raise _bad(
                field,
                raw,
                "is none of the indicator types: an MD5, SHA-1 or SHA-256 hash, an IP address, "
                "a URL with a scheme, or a host name",
            )
        return Indicator(_normal(value, found), found)
    if not _fits(value, given):
        raise _bad(field, raw, f"is not a value of indicator_type {given}")
    return Indicator(_normal(value, given), given)


def check_action(action: str, generate_alert: bool | None) -> None:
    """Refuse a deprecated action, and Audit without an alert, before any call."""
    if action in DEPRECATED:
        raise InputError(
            f"action: {action} is deprecated by Microsoft; use {DEPRECATED[action]}",
            field="action",
            rule="a current action",
        )
    if action == "Audit" and generate_alert is not True:
        raise InputError(
            "generate_alert: the Audit action requires generate_alert: true",
            field="generate_alert",
            rule="true with Audit",
        )


def _infer(value: str) -> str | None:
    if _HEX.match(value) and len(value) in HASH_LENGTHS:
        return HASH_LENGTHS[len(value)]
    if _is_ip(value):
        return "IpAddress"
    if _SCHEME.match(value):
        return "Url" if urlsplit(value).hostname else None
    return "DomainName" if _is_host(value) else None


def _fits(value: str, kind: str) -> bool:
    if kind in LENGTH_OF:
        return bool(_HEX.match(value)) and len(value) == LENGTH_OF[kind]
    if kind == "IpAddress":
        return _is_ip(value)
    if kind == "DomainName":
        return _is_host(value)
    # A Url indicator may be written with its scheme or without (host and path).
    if _SCHEME.match(value):
        return bool(urlsplit(value).hostname)
    host = value.split("/", 1)[0]
    return _is_host(host) or _is_ip(host)


def _normal(value: str, kind: str) -> str:
    return value.lower() if kind in LENGTH_OF or kind == "DomainName" else value


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _looks_like_range(value: str) -> bool:
    if "/" not in value or _SCHEME.match(value):
        return False
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return True


def _is_host(value: str) -> bool:
    labels = value.rstrip(".").split(".")
    if len(labels) < 2 or len(value) > 253 or labels[-1].isdigit():
        return False
    return all(_LABEL.match(label) for label in labels)


def _bad(field: str, value: str, rule: str) -> InputError:
    return InputError(f"{field}: {value!r} {rule}", field=field, rule=rule)
