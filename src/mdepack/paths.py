"""Puts caller values into URL paths safely: validated, then percent-encoded as one segment."""

from __future__ import annotations

import re
import string
import unicodedata
from urllib.parse import quote

from mdepack.errors import InputError

_FORBIDDEN = ("/", "\\", "?", "#", "%")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\s]")
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
# Unicode control, format, separator, private-use and unassigned characters.
_INVISIBLE = frozenset({"Cc", "Cf", "Zl", "Zp", "Zs", "Co", "Cn", "Cs"})


def segment(value: str, field: str) -> str:
    """Return `value` percent-encoded as one path segment, or raise InputError naming `field`.

    `..`, `/`, `\\`, `?`, `#`, `%`, white space and control characters are refused rather than
    encoded: a legitimate id or user name never contains them. The value is NFKC-normalised
    first, so look-alikes (fullwidth `．．`, `／`) are checked as what a server may read them as,
    and invisible format characters (zero-width space, direction marks) are refused.
    """
    value = normal(value)
    if any(unicodedata.category(char) in _INVISIBLE for char in value):
        raise InputError(
            f"{field}: must not contain control or invisible format characters",
            field=field,
            rule="no control or format characters",
        )
    if not value:
        raise InputError(f"{field}: must not be empty", field=field, rule="non-empty")
    if value in (".", "..") or ".." in value:
        raise InputError(f"{field}: must not contain '..'", field=field, rule="no '..'")
    for char in _FORBIDDEN:
        if char in value:
            raise InputError(
                f"{field}: must not contain {char!r}", field=field, rule=f"no {char!r}"
            )
    if _CONTROL.search(value):
        raise InputError(
            f"{field}: must not contain spaces or control characters",
            field=field,
            rule="no spaces or control characters",
        )
    return quote(value, safe="")


def normal(value: str) -> str:
    """`value` in NFKC form: fullwidth and other compatibility look-alikes become what they mimic."""
    return unicodedata.normalize("NFKC", value)


def fill(template: str, values: dict[str, str]) -> str:
    """Fill `{name}` placeholders of a path template with encoded segments."""
    return _PLACEHOLDER.sub(lambda m: segment(values[m.group(1)], m.group(1)), template)


def placeholders(template: str) -> list[str]:
    """The `{name}` placeholders a path template has."""
    return [name for _, name, _, _ in string.Formatter().parse(template) if name]
