"""Query parameters bound as KQL `let` statements, never spliced into the query text.

A parameter `{"host": "pc'1"}` becomes `let host = 'pc\\'1';` ahead of the query, which then
names `host` like any column. Each value is written as a literal that cannot end early:

- a string in single quotes with KQL's backslash escapes (`\\\\`, `\\'`, `\\n`, `\\t`): the only
  characters that could close it or break the line are escaped, so `'`, `"`, `|`, `;`, `//` and a
  newline stay inside it. Other control characters have no documented escape and are refused;
- a boolean as `true`/`false`, an integer as `long(N)` (64-bit), a number as `real(N)`;
- a name must be a KQL identifier (a letter or `_`, then letters, digits, `_`) and not one of the
  language's keywords, so `let` cannot be turned into another statement.
"""

from __future__ import annotations

import math
import re
from typing import Any

from mdepack.errors import InputError

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
# Words the KQL parser gives a meaning of their own where a `let` name stands.
KEYWORDS = frozenset(
    """
    access alias and as asc between bool boolean by contains count datatable date datetime
    decimal declare desc distinct double dynamic evaluate extend false find from guid has in int
    invoke join kind let limit long materialize not null of on or order pattern print project
    range real restrict search set sort string summarize take time timespan to top true typeof
    union where with
    """.split()  # noqa: SIM905 - a word list reads better as text
)
_ESCAPES = {"\\": "\\\\", "'": "\\'", "\n": "\\n", "\t": "\\t"}
_NEEDS_ESCAPE = re.compile(r"[\\'\n\t]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u2028\u2029]")
_LONG = (-(2**63), 2**63 - 1)


def literal(value: Any, field: str) -> str:
    """`value` as a KQL literal; InputError naming `field` for a value that has none."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        if not _LONG[0] <= value <= _LONG[1]:
            raise _bad(field, "must fit in a 64-bit integer (KQL long)")
        return f"long({value})"
    if isinstance(value, float):
        if math.isnan(value):
            return "real(nan)"
        if math.isinf(value):
            return "real(+inf)" if value > 0 else "real(-inf)"
        return f"real({value!r})".replace("e+", "e")
    if isinstance(value, str):
        if _CONTROL.search(value):
            raise _bad(field, "must not hold control characters other than tab and newline")
        return "'" + _NEEDS_ESCAPE.sub(lambda m: _ESCAPES[m.group(0)], value) + "'"
    raise _bad(field, "must be a string, a number or a boolean")


def name(text: str, field: str) -> str:
    """`text` when it is a KQL identifier a `let` may bind; InputError otherwise."""
    if not _NAME.fullmatch(text):
        raise _bad(
            field,
            "must be a KQL name: a letter or _, then letters, digits or _ (at most 128)",
        )
    if text.lower() in KEYWORDS:
        raise _bad(field, f"must not be a KQL keyword ({text!r})")
    return text


def bound(query: str, parameters: dict[str, Any]) -> str:
    """The query with each parameter bound ahead of it as `let NAME = <literal>;`, one a line."""
    lines = [
        f"let {name(key, f'parameters.{key}')} = {literal(value, f'parameters.{key}')};"
        for key, value in parameters.items()
    ]
    return "\n".join([*lines, query])


def _bad(field: str, rule: str) -> InputError:
    return InputError(f"{field}: {rule}", field=field, rule=rule)
