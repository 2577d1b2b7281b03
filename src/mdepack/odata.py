"""Builds OData `$filter` text from values. Callers never write OData: every string becomes a
quoted literal with its quotes doubled, numbers and datetimes are checked before they are written.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from mdepack.errors import InputError

_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,7})?Z$")


def literal(value: str) -> str:
    """An OData string literal: single quotes, a quote inside doubled (o'brien -> 'o''brien')."""
    return "'" + value.replace("'", "''") + "'"


def datetime_literal(value: str) -> str:
    """An unquoted ISO-8601 UTC datetime, checked so that it cannot carry other text."""
    if not _DATETIME.match(value):
        raise ValueError(f"not an ISO-8601 UTC datetime: {value!r}")
    return value


def number_literal(value: int) -> str:
    """An integer literal; bool is refused, it is not a number here."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"not an integer: {value!r}")
    return str(value)


def any_of(clauses: Sequence[str]) -> str:
    """OR the clauses, parenthesised when there are several."""
    return clauses[0] if len(clauses) == 1 else "(" + " or ".join(clauses) + ")"


def all_of(clauses: Iterable[str]) -> str:
    """AND the clauses."""
    return " and ".join(clauses)


def as_list(value: Any) -> list[Any]:
    """One value or a list of them, as a list."""
    return list(value) if isinstance(value, list) else [value]


def eq(field: str, values: Any) -> str:
    """`field eq 'a'`, OR-ed over several values."""
    return any_of([f"{field} eq {_literal(v)}" for v in as_list(values)])


def startswith(field: str, prefix: str) -> str:
    """`startswith(field,'prefix')`."""
    return f"startswith({field},{literal(prefix)})"


def has_tag(values: Any) -> str:
    """Machines carrying any of the tags."""
    return any_of([f"machineTags/any(tag: tag eq {literal(v)})" for v in as_list(values)])


def compare(field: str, op: str, value: str) -> str:
    """`field gt 2024-01-01T00:00:00Z` for datetimes."""
    if op not in ("gt", "ge", "lt", "le"):
        raise ValueError(f"unsupported operator {op!r}")
    return f"{field} {op} {datetime_literal(value)}"


def _literal(value: Any) -> str:
    if isinstance(value, str):
        return literal(value)
    return number_literal(value)


def raw_clause(text: str, field: str = "odata_filter") -> str:
    """Caller-written OData text as one parenthesised clause, refused if it could escape it.

    The parentheses must balance outside string literals and every literal must be closed;
    otherwise `true) or (true` would OR past the structured filters it is AND-ed with.
    """
    depth = 0
    in_literal = False
    index = 0
    while index < len(text):
        char = text[index]
        if in_literal:
            if char == "'":
                if text[index + 1 : index + 2] == "'":
                    index += 1  # a doubled quote inside a literal
                else:
                    in_literal = False
        elif char == "'":
            in_literal = True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise _unbalanced(field, f"a ')' at position {index + 1} closes nothing")
        index += 1
    if in_literal:
        raise _unbalanced(field, "a string literal is not closed")
    if depth:
        raise _unbalanced(field, f"{depth} '(' not closed")
    return f"({text})"


def _unbalanced(field: str, why: str) -> InputError:
    rule = "parentheses must balance outside string literals"
    return InputError(f"{field}: {rule} ({why})", field=field, rule=rule)
