"""A small KQL subset for the emulator's advanced hunting, lexed by KQL's own string rules so a
value that could end its literal early would show here as it would in the real service.

    query    := (let NAME = literal ;)* (tabular | print)
    tabular  := TABLE ("|" operator)*
    operator := where cond (and cond)* | project NAME (, NAME)* | take N | limit N
    cond     := COLUMN (== | != | =~) value
    print    := print NAME = value (, NAME = value)*
    value    := literal | a let NAME
    literal  := 'text' | "text" (backslash escapes: \\\\ \\' \\" \\n \\t \\r) | @'text' | @"text"
                (the quote doubled) | long(N) | int(N) | real(N) | N | true | false

`//` starts a comment to the end of the line (outside strings); a raw newline inside a quoted
string is an error, as in KQL. Anything else is a `KqlError`, which the route answers with
Graph's 400.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any


class KqlError(ValueError):
    """The query is not one this subset (or KQL) accepts."""


@dataclass(frozen=True)
class Token:
    """One lexeme: kind (name, string, number, punct), its value, where it starts."""

    kind: str
    value: Any
    line: int
    column: int


_PUNCT = ("==", "!=", "=~", "|", ",", ";", "=", "(", ")", "+", "-")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
_SIMPLE_ESCAPES = {"\\": "\\", "'": "'", '"': '"', "n": "\n", "t": "\t", "r": "\r"}


def tokenize(text: str) -> list[Token]:
    """The tokens of a query, by KQL's lexical rules for this subset."""
    tokens: list[Token] = []
    at, line, line_start = 0, 1, 0
    while at < len(text):
        char = text[at]
        column = at - line_start + 1
        if char == "\n":
            at, line, line_start = at + 1, line + 1, at + 1
        elif char in " \t\r":
            at += 1
        elif text.startswith("//", at):
            end = text.find("\n", at)
            at = len(text) if end < 0 else end
        elif char in "'\"" or (char == "@" and text[at + 1 : at + 2] in ("'", '"')):
            value, at = _string(text, at, line, column)
            tokens.append(Token("string", value, line, column))
        elif _NAME.match(text, at):
            match = _NAME.match(text, at)
            assert match is not None
            tokens.append(Token("name", match.group(0), line, column))
            at = match.end()
        elif _NUMBER.match(text, at):
            match = _NUMBER.match(text, at)
            assert match is not None
            number = match.group(0)
            parsed = float(number) if any(c in number for c in ".eE") else int(number)
            tokens.append(Token("number", parsed, line, column))
            at = match.end()
        else:
            for punct in _PUNCT:
                if text.startswith(punct, at):
                    tokens.append(Token("punct", punct, line, column))
                    at += len(punct)
                    break
            else:
                raise _unparsed(char, line, column)
    return tokens


def _string(text: str, at: int, line: int, column: int) -> tuple[str, int]:
    verbatim = text[at] == "@"
    if verbatim:
        at += 1
    quote = text[at]
    at += 1
    out: list[str] = []
    while True:
        if at >= len(text):
            raise KqlError(
                f"Query could not be parsed: unterminated string on line [{line},{column}]"
            )
        char = text[at]
        if char in "\r\n":
            raise KqlError(
                f"Query could not be parsed: newline in a string on line [{line},{column}]"
            )
        if verbatim:
            if char == quote:
                if text[at + 1 : at + 2] == quote:
                    out.append(quote)
                    at += 2
                    continue
                return "".join(out), at + 1
            out.append(char)
            at += 1
            continue
        if char == "\\":
            escaped = text[at + 1 : at + 2]
            if escaped not in _SIMPLE_ESCAPES:
                raise KqlError(
                    f"Query could not be parsed: unknown escape \\{escaped} on line [{line},{column}]"
                )
            out.append(_SIMPLE_ESCAPES[escaped])
            at += 2
            continue
        if char == quote:
            return "".join(out), at + 1
        out.append(char)
        at += 1


def _unparsed(what: str, line: int, column: int) -> KqlError:
    return KqlError(f"Query could not be parsed at '{what}' on line [{line},{column}]")


@dataclass(frozen=True)
class Query:
    """A parsed query: its let bindings, then a table with operators or a print."""

    variables: dict[str, Any]
    table: str | None
    operators: list[tuple[str, Any]]
    printed: list[tuple[str, Any]]


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.at = 0
        self.variables: dict[str, Any] = {}

    def peek(self) -> Token | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def next(self) -> Token:
        token = self.peek()
        if token is None:
            last = self.tokens[-1] if self.tokens else Token("end", "", 1, 1)
            raise KqlError(
                f"Query could not be parsed: it ends early on line [{last.line},{last.column}]"
            )
        self.at += 1
        return token

    def is_(self, kind: str, value: Any = None) -> bool:
        token = self.peek()
        return token is not None and token.kind == kind and value in (None, token.value)

    def expect(self, kind: str, value: Any = None) -> Token:
        token = self.next()
        if token.kind != kind or value not in (None, token.value):
            raise _unparsed(str(token.value), token.line, token.column)
        return token

    def parse(self) -> Query:
        while self.is_("name", "let"):
            self.next()
            name = self.expect("name").value
            self.expect("punct", "=")
            self.variables[name] = self.literal()
            self.expect("punct", ";")
        if self.is_("name", "print"):
            self.next()
            printed = [self.assignment()]
            while self.is_("punct", ","):
                self.next()
                printed.append(self.assignment())
            self.end()
            return Query(self.variables, None, [], printed)
        table = self.expect("name").value
        operators: list[tuple[str, Any]] = []
        while self.is_("punct", "|"):
            self.next()
            operators.append(self.operator())
        self.end()
        return Query(self.variables, table, operators, [])

    def end(self) -> None:
        token = self.peek()
        if token is not None:
            raise _unparsed(str(token.value), token.line, token.column)

    def assignment(self) -> tuple[str, Any]:
        name = self.expect("name").value
        self.expect("punct", "=")
        return name, self.value()

    def operator(self) -> tuple[str, Any]:
        token = self.expect("name")
        if token.value == "where":
            conditions = [self.condition()]
            while self.is_("name", "and"):
                self.next()
                conditions.append(self.condition())
            return "where", conditions
        if token.value == "project":
            columns = [self.expect("name").value]
            while self.is_("punct", ","):
                self.next()
                columns.append(self.expect("name").value)
            return "project", columns
        if token.value in ("take", "limit"):
            count = self.expect("number").value
            if not isinstance(count, int) or count < 0:
                raise _unparsed(str(count), token.line, token.column)
            return "take", count
        raise KqlError(
            f"Query could not be parsed at '{token.value}' on line [{token.line},{token.column}]: "
            "the emulator knows where, project, take and limit"
        )

    def condition(self) -> tuple[str, str, Any]:
        column = self.expect("name").value
        op = self.next()
        if op.kind != "punct" or op.value not in ("==", "!=", "=~"):
            raise _unparsed(str(op.value), op.line, op.column)
        return column, op.value, self.value()

    def value(self) -> Any:
        token = self.peek()
        if token is not None and token.kind == "name" and token.value in self.variables:
            self.next()
            return self.variables[token.value]
        return self.literal()

    def literal(self) -> Any:
        token = self.next()
        if token.kind in ("string", "number"):
            return token.value
        if token.kind == "name" and token.value in ("true", "false"):
            return token.value == "true"
        if token.kind == "name" and token.value in ("long", "int", "real"):
            self.expect("punct", "(")
            inner = self.next()
            sign = 1
            if inner.kind == "punct" and inner.value in ("+", "-"):
                sign = -1 if inner.value == "-" else 1
                inner = self.next()
            self.expect("punct", ")")
            if inner.kind == "name" and token.value == "real" and inner.value in ("nan", "inf"):
                return math.nan if inner.value == "nan" else sign * math.inf
            if inner.kind == "punct" or inner.kind == "string":
                raise _unparsed(str(inner.value), inner.line, inner.column)
            if inner.kind != "number":
                raise _unparsed(str(inner.value), inner.line, inner.column)
            if token.value == "real":
                return sign * float(inner.value)
            return sign * int(inner.value)
        raise KqlError(
            f"'{token.value}' on line [{token.line},{token.column}]: Failed to resolve scalar "
            f"expression named '{token.value}'"
        )


def parse(text: str) -> Query:
    """The parsed query, or KqlError."""
    return _Parser(text).parse()


def run(
    query: Query,
    tables: dict[str, tuple[list[tuple[str, str]], Callable[[], Iterable[dict[str, Any]]]]],
) -> tuple[list[dict[str, str]], list[dict[str, Any]]]:
    """The schema and rows of a parsed query over `tables` (name -> (columns, rows))."""
    if query.table is None:
        schema = [{"name": name, "type": _type(value)} for name, value in query.printed]
        return schema, [dict(query.printed)]
    if query.table not in tables:
        raise KqlError(f"Failed to resolve table or column expression named '{query.table}'")
    columns, rows = tables[query.table]
    names = [name for name, _ in columns]
    stream: Iterator[dict[str, Any]] = iter(rows())
    for op, argument in query.operators:
        if op == "where":
            for column, _, _ in argument:
                _known(column, names)
            stream = _filtered(stream, argument)
        elif op == "project":
            for column in argument:
                _known(column, names)
            names = list(argument)
            stream = _projected(stream, argument)
        else:
            stream = _taken(stream, argument)
    by_name = dict(columns)
    schema = [{"name": name, "type": by_name[name]} for name in names]
    return schema, list(stream)


def _known(column: str, names: list[str]) -> None:
    if column not in names:
        raise KqlError(f"'where' operator: Failed to resolve scalar expression named '{column}'")


def _filtered(
    rows: Iterator[dict[str, Any]], conditions: list[tuple[str, str, Any]]
) -> Iterator[dict[str, Any]]:
    for row in rows:
        if all(_holds(row.get(column), op, value) for column, op, value in conditions):
            yield row


def _holds(left: Any, op: str, right: Any) -> bool:
    if op == "=~":
        return isinstance(left, str) and isinstance(right, str) and left.lower() == right.lower()
    return bool(left == right) == (op == "==")


def _projected(rows: Iterator[dict[str, Any]], columns: list[str]) -> Iterator[dict[str, Any]]:
    for row in rows:
        yield {name: row.get(name) for name in columns}


def _taken(rows: Iterator[dict[str, Any]], count: int) -> Iterator[dict[str, Any]]:
    for index, row in enumerate(rows):
        if index >= count:
            return
        yield row


def _type(value: Any) -> str:
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int):
        return "Int64"
    if isinstance(value, float):
        return "Double"
    return "String"
