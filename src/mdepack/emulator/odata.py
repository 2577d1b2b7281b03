"""An OData `$filter` parser and evaluator for the machine fields Defender supports.

Grammar (lowest precedence first):
    expr    := and ("or" and)*
    and     := unary ("and" unary)*
    unary   := "not" unary | compare
    compare := operand (("eq"|"ne"|"gt"|"ge"|"lt"|"le") operand)?
    operand := "(" expr ")" | "startswith" "(" path "," literal ")"
             | "machineTags" "/" "any" "(" var ":" expr ")" | literal | path
    literal := 'text' (a quote doubled inside) | number | datetime | true | false | null
Anything else is an ODataError, as Defender answers it (400).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

FIELDS = frozenset(
    {
        "id",
        "computerDnsName",
        "version",
        "deviceValue",
        "aadDeviceId",
        "machineTags",
        "lastSeen",
        "exposureLevel",
        "onboardingStatus",
        "lastIpAddress",
        "healthStatus",
        "osPlatform",
        "riskScore",
        "rbacGroupId",
    }
)
# The fields GET /api/machineactions filters on.
ACTION_FIELDS = frozenset({"id", "status", "machineId", "type", "requestor", "creationDateTimeUtc"})
COMPARISONS = ("eq", "ne", "gt", "ge", "lt", "le")
_INSTANTS = frozenset({"lastSeen", "creationDateTimeUtc", "createdDateTime", "lastUpdateDateTime"})

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<string>'(?:[^']|'')*')
    | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,7})?)?Z)
    | (?P<number>-?\d+(?:\.\d+)?)
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<punct>[(),/:])
    )""",
    re.X,
)


class ODataError(ValueError):
    """The filter is not one Defender would accept."""


@dataclass(frozen=True)
class Token:
    """One lexical token: its kind, its text and where it starts."""

    kind: str
    text: str
    at: int


@dataclass(frozen=True)
class Literal:
    """A constant."""

    value: Any


@dataclass(frozen=True)
class Field:
    """A machine property, or the lambda variable inside any()."""

    name: str


@dataclass(frozen=True)
class Compare:
    """`left op right`."""

    op: str
    left: Any
    right: Any


@dataclass(frozen=True)
class Logical:
    """`left and|or right`."""

    op: str
    left: Any
    right: Any


@dataclass(frozen=True)
class Not:
    """`not operand`."""

    operand: Any


@dataclass(frozen=True)
class StartsWith:
    """`startswith(field, 'prefix')`."""

    field: Any
    prefix: str


@dataclass(frozen=True)
class AnyTag:
    """`machineTags/any(var: predicate)`."""

    var: str
    predicate: Any


def tokenize(text: str) -> list[Token]:
    """Split filter text into tokens, refusing any character the grammar does not know."""
    tokens: list[Token] = []
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise ODataError(f"Syntax error at position {position} in '{text}'")
        kind = match.lastgroup or ""
        tokens.append(Token(kind, match.group(kind), match.start(kind)))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str, fields: frozenset[str], entity: str) -> None:
        self.fields = fields
        self.entity = entity
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0
        self.variables: set[str] = set()

    def peek(self, offset: int = 0) -> Token | None:
        at = self.index + offset
        return self.tokens[at] if at < len(self.tokens) else None

    def next(self) -> Token:
        token = self.peek()
        if token is None:
            raise ODataError(f"Unexpected end of filter '{self.text}'")
        self.index += 1
        return token

    def accept(self, text: str) -> bool:
        token = self.peek()
        if token is not None and token.kind in ("name", "punct") and token.text == text:
            self.index += 1
            return True
        return False

    def expect(self, text: str) -> None:
        if not self.accept(text):
            token = self.peek()
            where = f"position {token.at}" if token else "the end"
            raise ODataError(f"Expected '{text}' at {where} in '{self.text}'")

    def parse(self) -> Any:
        node = self.expr()
        if self.peek() is not None:
            raise ODataError(f"Syntax error at position {self.next().at} in '{self.text}'")
        return node

    def expr(self) -> Any:
        node = self.conjunction()
        while self.accept("or"):
            node = Logical("or", node, self.conjunction())
        return node

    def conjunction(self) -> Any:
        node = self.unary()
        while self.accept("and"):
            node = Logical("and", node, self.unary())
        return node

    def unary(self) -> Any:
        if self.accept("not"):
            return Not(self.unary())
        return self.compare()

    def compare(self) -> Any:
        left = self.operand()
        token = self.peek()
        if token is not None and token.kind == "name" and token.text in COMPARISONS:
            self.index += 1
            return Compare(token.text, left, self.operand())
        return left

    def operand(self) -> Any:
        token = self.next()
        if token.kind == "punct" and token.text == "(":
            node = self.expr()
            self.expect(")")
            return node
        if token.kind == "string":
            return Literal(token.text[1:-1].replace("''", "'"))
        if token.kind == "number":
            return Literal(float(token.text) if "." in token.text else int(token.text))
        if token.kind == "datetime":
            return Literal(_Instant(token.text))
        if token.kind != "name":
            raise ODataError(f"Syntax error at position {token.at} in '{self.text}'")
        if token.text in ("true", "false", "null"):
            return Literal({"true": True, "false": False, "null": None}[token.text])
        if token.text == "startswith":
            self.expect("(")
            field = self.operand()
            self.expect(",")
            prefix = self.operand()
            self.expect(")")
            if not isinstance(prefix, Literal) or not isinstance(prefix.value, str):
                raise ODataError("startswith takes a string literal")
            return StartsWith(field, prefix.value)
        if token.text == "machineTags" and self.accept("/"):
            self.expect("any")
            self.expect("(")
            var = self.next()
            if var.kind != "name":
                raise ODataError(f"Expected a lambda variable at position {var.at}")
            self.expect(":")
            self.variables.add(var.text)
            predicate = self.expr()
            self.variables.discard(var.text)
            self.expect(")")
            return AnyTag(var.text, predicate)
        if token.text in self.variables:
            return Field(token.text)
        if token.text not in self.fields:
            raise ODataError(
                f"Could not find a property named '{token.text}' on type "
                f"'microsoft.windowsDefenderATP.api.{self.entity}'"
            )
        return Field(token.text)


class _Instant:
    """A datetime, comparable to the ISO-8601 strings machines carry (up to 7 fraction digits)."""

    __slots__ = ("key",)

    def __init__(self, text: str) -> None:
        match = re.match(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?", text)
        if not match:
            raise ODataError(f"Not a datetime: '{text}'")
        parts = match.groups()
        fraction = (parts[6] or "").ljust(7, "0")[:7]
        self.key = (*(int(p) for p in parts[:5]), int(parts[5] or 0), int(fraction))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Instant) and self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)

    def __lt__(self, other: _Instant) -> bool:
        return self.key < other.key


def parse(text: str, fields: frozenset[str] = FIELDS, entity: str = "PublicMachine") -> Any:
    """The syntax tree of a filter, or ODataError."""
    return _Parser(text, fields, entity).parse()


def compile_filter(
    text: str, fields: frozenset[str] = FIELDS, entity: str = "PublicMachine"
) -> Callable[[dict[str, Any]], bool]:
    """A predicate over entity dicts (machines by default) for a filter."""
    tree = parse(text, fields, entity)
    return lambda machine: bool(evaluate(tree, machine, {}))


def evaluate(node: Any, machine: dict[str, Any], scope: dict[str, Any]) -> Any:
    """Evaluate a syntax tree against one machine."""
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, Field):
        if node.name in scope:
            return scope[node.name]
        value = machine.get(node.name)
        return _Instant(value) if node.name in _INSTANTS and isinstance(value, str) else value
    if isinstance(node, Logical):
        left = bool(evaluate(node.left, machine, scope))
        if node.op == "and":
            return left and bool(evaluate(node.right, machine, scope))
        return left or bool(evaluate(node.right, machine, scope))
    if isinstance(node, Not):
        return not evaluate(node.operand, machine, scope)
    if isinstance(node, StartsWith):
        value = evaluate(node.field, machine, scope)
        return isinstance(value, str) and value.startswith(node.prefix)
    if isinstance(node, AnyTag):
        tags = machine.get("machineTags") or []
        return any(evaluate(node.predicate, machine, {**scope, node.var: t}) for t in tags)
    if isinstance(node, Compare):
        return _compare(
            node.op, evaluate(node.left, machine, scope), evaluate(node.right, machine, scope)
        )
    raise ODataError(f"cannot evaluate {node!r}")


def _compare(op: str, left: Any, right: Any) -> bool:
    if op == "eq":
        return bool(left == right)
    if op == "ne":
        return bool(left != right)
    if left is None or right is None:
        return False
    try:
        if op == "gt":
            return bool(right < left)
        if op == "ge":
            return bool(not left < right)
        if op == "lt":
            return bool(left < right)
        return bool(not right < left)
    except TypeError:
        raise ODataError(f"cannot compare {left!r} with {right!r}") from None
