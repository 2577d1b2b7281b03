"""Playbook expressions in Amazon States Language (JSONPath): a value that is a path from
`inputs` or `steps` (`steps.related.machines[].id` -> `$.steps.related.machines[*].id`), a
string with paths embedded (`States.Format`), a list of paths and plain values
(`States.Array`), and, in `if`, comparisons of a path with a literal, boolean paths, `&&`, `||`
and `!` as Choice rules. Anything else is refused naming the place, with InputError (exit 2).
"""

from __future__ import annotations

import json
import re
from typing import Any

import jmespath

from mdepack.errors import InputError
from mdepack.playbook import document, types

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# A field name written in brackets, ['name']: nothing that could close the quote or the bracket.
_BRACKETED = re.compile(r"^[A-Za-z0-9_@ -]+$")
COMPARISONS = {
    "gt": "GreaterThan",
    "gte": "GreaterThanEquals",
    "lt": "LessThan",
    "lte": "LessThanEquals",
    "eq": "Equals",
}
FLIPPED = {"gt": "lt", "gte": "lte", "lt": "gt", "lte": "gte", "eq": "eq", "ne": "ne"}


def untranslatable(message: str, *, field: str, rule: str) -> InputError:
    """The error for a playbook construct the state machine cannot express (exit 2)."""
    return InputError(message, field=field, rule=rule)


# -- values -----------------------------------------------------------------------------


def parameters(values: dict[str, Any], where: str) -> dict[str, Any]:
    """A `with` (or `outputs`) mapping as a state's Parameters: a key whose value is a path
    takes `.$`; InputError naming the place when a value cannot be translated."""
    result: dict[str, Any] = {}
    for key, value in values.items():
        if str(key).endswith(".$"):
            # ASL reads a key ending in .$ as a path to evaluate, not as a literal name.
            raise untranslatable(
                f"{where}: the key {key!r} ends in '.$', which a state machine evaluates as "
                "a path; rename it",
                field="with",
                rule="keys that do not end in .$",
            )
        translated = _value(value, f"{where}, {key}")
        if isinstance(translated, _Path):
            result[f"{key}.$"] = translated.text
        else:
            result[key] = translated
    return result


def _value(value: Any, where: str) -> Any:
    if isinstance(value, dict):
        return parameters(value, where)
    if isinstance(value, list):
        if not any(list(document.expressions(item)) for item in value):
            return value
        # A list built from expressions becomes States.Array over its items.
        items = ", ".join(_argument(item, where) for item in value)
        return _Path(f"States.Array({items})")
    if not isinstance(value, str):
        return value
    whole = document.WHOLE.match(value)
    if whole:
        return _Path(jsonpath(whole.group(1), where))
    embedded = list(document.EMBEDDED.finditer(value))
    if not embedded:
        return value
    template, paths, at = "", [], 0
    for match in embedded:
        template += _escape(value[at : match.start()]) + "{}"
        paths.append(jsonpath(match.group(1), where))
        at = match.end()
    template += _escape(value[at:])
    return _Path(f"States.Format('{template}', {', '.join(paths)})")


def _argument(item: Any, where: str) -> str:
    """One item of a list as an intrinsic-function argument: a path or a literal."""
    if isinstance(item, str):
        whole = document.WHOLE.match(item)
        if whole:
            return jsonpath(whole.group(1), where)
        if not list(document.expressions(item)):
            return f"'{_escape(item)}'"
    elif item is None or isinstance(item, bool | int | float):
        return json.dumps(item)
    raise untranslatable(
        f"{where}: a list item must be one ${{{{ }}}} expression or a plain value to "
        "become a state's parameter; give the whole list as one expression",
        field="with",
        rule="translatable to Amazon States Language",
    )


# -- conditions -------------------------------------------------------------------------


def condition(value: Any, step_id: str, roots: types.Schema) -> dict[str, Any]:
    """A step's `if` as a Choice rule; `roots` types what the expression reads."""
    whole = document.WHOLE.match(value) if isinstance(value, str) else None
    if whole is None:
        raise untranslatable(
            f"step {step_id!r}: `if` must be one ${{{{ }}}} expression",
            field="if",
            rule="translatable to Amazon States Language",
        )
    return _rule(jmespath.compile(whole.group(1)).parsed, whole.group(1), step_id, roots)


def _rule(node: dict[str, Any], text: str, step_id: str, roots: types.Schema) -> dict[str, Any]:
    kind = node["type"]
    children = node.get("children", [])
    if kind == "and_expression":
        return {"And": [_rule(c, text, step_id, roots) for c in children]}
    if kind == "or_expression":
        return {"Or": [_rule(c, text, step_id, roots) for c in children]}
    if kind == "not_expression":
        return {"Not": _rule(children[0], text, step_id, roots)}
    if kind == "comparator":
        return _comparison(node, text, step_id)
    path = _path_of(node, text, f"step {step_id!r}, if")
    kind_of = types.json_types(types.infer(node, roots, types.Context()))
    if kind_of == {"boolean"}:
        return _present(path, {"Variable": path, "BooleanEquals": True})
    raise untranslatable(
        f"step {step_id!r}, if: `{text}` is {' or '.join(sorted(kind_of))}, not a boolean: "
        "compare it explicitly (e.g. `count > `0``)",
        field="if",
        rule="translatable to Amazon States Language",
    )


def _comparison(node: dict[str, Any], text: str, step_id: str) -> dict[str, Any]:
    op = node["value"]
    left, right = node["children"]
    if left["type"] == "literal" and right["type"] != "literal":
        left, right, op = right, left, FLIPPED[op]
    if right["type"] != "literal":
        raise untranslatable(
            f"step {step_id!r}, if: `{text}` compares two paths; compare a path with a literal",
            field="if",
            rule="translatable to Amazon States Language",
        )
    path = _path_of(left, text, f"step {step_id!r}, if")
    literal = right["value"]
    if isinstance(literal, bool):
        family = "Boolean"
    elif isinstance(literal, (int, float)):
        family = "Numeric"
    elif isinstance(literal, str):
        family = "String"
    else:
        raise untranslatable(
            f"step {step_id!r}, if: `{text}` compares with {json.dumps(literal)}",
            field="if",
            rule="translatable to Amazon States Language",
        )
    if family == "Boolean" and op not in ("eq", "ne"):
        raise untranslatable(
            f"step {step_id!r}, if: `{text}` orders booleans",
            field="if",
            rule="translatable to Amazon States Language",
        )
    rule = {"Variable": path, f"{family}{COMPARISONS['eq' if op == 'ne' else op]}": literal}
    return _present(path, {"Not": rule} if op == "ne" else rule)


class _Path:
    """A JSONPath (or intrinsic function) standing for a value: its key takes `.$`."""

    def __init__(self, text: str) -> None:
        self.text = text


def jsonpath(expression: str, where: str) -> str:
    """The JSONPath of a JMESPath path from `inputs` or `steps`; InputError when there is none."""
    return _path_of(jmespath.compile(expression).parsed, expression, where)


def _path_of(node: dict[str, Any], text: str, where: str) -> str:
    parts = _parts(node, text, where)
    if not parts or parts[0] not in (".inputs", ".steps"):
        raise untranslatable(
            f"{where}: `{text}` must start at inputs or steps",
            field="with",
            rule="translatable to Amazon States Language",
        )
    return "$" + "".join(parts)


def _parts(node: dict[str, Any], text: str, where: str) -> list[str]:
    kind = node["type"]
    children = node.get("children", [])
    if kind == "field":
        name = str(node["value"])
        if NAME.match(name):
            return [f".{name}"]
        if _BRACKETED.match(name):
            return [f"['{name}']"]
        raise untranslatable(
            f"{where}: the field name {name!r} in `{text}` cannot be written in a JSONPath safely; "
            "use letters, digits, _, -, @ and spaces",
            field="with",
            rule="field names of letters, digits, _, -, @ and spaces",
        )
    if kind == "subexpression":
        return [p for child in children for p in _parts(child, text, where)]
    if kind == "index_expression" and children[1]["type"] == "index":
        return [*_parts(children[0], text, where), f"[{int(children[1]['value'])}]"]
    if kind == "flatten":
        return [*_parts(children[0], text, where), "[*]"]
    if kind == "projection":
        left = children[0]
        head = (
            _parts(left, text, where)
            if left["type"] == "flatten"
            else [
                *_parts(left, text, where),
                "[*]",
            ]
        )
        right = children[1]
        return head if right["type"] == "identity" else [*head, *_parts(right, text, where)]
    raise untranslatable(
        f"{where}: `{text}` uses {kind.replace('_', ' ')}, which has no JSONPath form; "
        "keep to paths (a.b, a[0], a[].b)",
        field="with",
        rule="translatable to Amazon States Language",
    )


def _present(path: str, rule: dict[str, Any]) -> dict[str, Any]:
    return {"And": [{"Variable": path, "IsPresent": True}, rule]}


def _escape(text: str) -> str:
    # Intrinsic-function string literals escape these four characters with a backslash.
    return re.sub(r"([\\'{}])", r"\\\1", text)
