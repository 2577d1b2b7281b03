"""JMESPath typed abstractly over JSON Schemas: what an expression yields, found from the schemas
alone, and whether that fits an action's input.

A type is a JSON Schema with its `$ref`s inlined. `{}` is "unknown": where the checker cannot
know, it says so in a note rather than guessing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Schema = dict[str, Any]
UNKNOWN: Schema = {}
NULL: Schema = {"type": "null"}
ALL_TYPES = frozenset({"string", "number", "integer", "boolean", "object", "array", "null"})


class TypeProblem(Exception):
    """An expression that cannot work, whatever the data."""


@dataclass
class Context:
    """What typing one expression learned beyond its type."""

    notes: list[str] = field(default_factory=list)


def narrow(schema: Any, keep: list[str], why: str) -> Any:
    """`schema` with every Machine in it reduced to the fields in `keep` (a step's `fields`)."""
    if isinstance(schema, list):
        return [narrow(item, keep, why) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result = {key: narrow(value, keep, why) for key, value in schema.items()}
    if result.get("x-entity") == "Machine":
        properties = result.get("properties", {})
        kept = list(dict.fromkeys(keep))
        result["properties"] = {name: properties.get(name, UNKNOWN) for name in kept}
        result["x-kept-by"] = f"{why} {', '.join(kept)}"
    return result


def json_types(schema: Schema) -> frozenset[str]:
    """The JSON types a schema's values can have."""
    if "const" in schema:
        return frozenset({_type_of(schema["const"])})
    if "enum" in schema:
        return frozenset(_type_of(v) for v in schema["enum"])
    branches = schema.get("anyOf") or schema.get("oneOf")
    own = schema.get("type")
    own_set = ALL_TYPES if own is None else frozenset(own if isinstance(own, list) else [own])
    if "integer" in own_set or "number" in own_set:
        own_set = own_set | {"integer"} if "number" in own_set else own_set
    if branches:
        union: frozenset[str] = frozenset().union(*(json_types(b) for b in branches))
        return union & own_set if own is not None else union
    return own_set


def nullable(schema: Schema) -> Schema:
    """The type, or null."""
    if "null" in json_types(schema) or schema == UNKNOWN:
        return schema
    return {"anyOf": [schema, NULL]}


def without_null(schema: Schema) -> list[Schema]:
    """The non-null branches of a type."""
    branches = schema.get("anyOf") or schema.get("oneOf")
    if branches:
        return [b for branch in branches for b in without_null(branch)]
    if json_types(schema) == {"null"}:
        return []
    return [schema]


def infer(node: dict[str, Any], current: Schema, context: Context) -> Schema:
    """The type of a JMESPath AST node evaluated against a value of type `current`."""
    kind = node["type"]
    children = node.get("children", [])
    if kind == "field":
        return field_type(current, node["value"], context)
    if kind == "subexpression" or kind == "pipe":
        result = current
        for child in children:
            result = infer(child, result, context)
        return result
    if kind in ("identity", "current"):
        return current
    if kind == "literal":
        return {"const": node["value"]}
    if kind == "index_expression":
        left = infer(children[0], current, context)
        index = children[1]
        if index["type"] == "index":
            return nullable(items_of(left, context, "an index"))
        return infer(index, left, context)
    if kind == "flatten":
        inner = items_of(infer(children[0], current, context), context, "a flatten ([])")
        flat = [
            items_of(b, context, "") if json_types(b) == {"array"} else b
            for b in without_null(inner)
        ]
        return {"type": "array", "items": union(flat)}
    if kind in ("projection", "filter_projection"):
        left = infer(children[0], current, context)
        item = items_of(left, context, "a projection")
        if kind == "filter_projection":
            infer(children[2], item, context)
        right = infer(children[1], item, context)
        return {"type": "array", "items": right}
    if kind == "value_projection":
        infer(children[0], current, context)
        context.notes.append("cannot know the types of an object's values (`*`)")
        return {"type": "array"}
    if kind == "function_expression":
        return _function(node["value"], [infer(c, current, context) for c in children], context)
    if kind in ("comparator", "not_expression"):
        for child in children:
            infer(child, current, context)
        return {"type": "boolean"}
    if kind in ("and_expression", "or_expression"):
        return union([infer(child, current, context) for child in children])
    if kind == "multi_select_list":
        return {"type": "array", "items": union([infer(c, current, context) for c in children])}
    if kind == "multi_select_dict":
        properties = {
            pair["value"]: infer(pair["children"][0], current, context) for pair in children
        }
        return {"type": "object", "properties": properties}
    context.notes.append(f"cannot know what `{kind}` yields")
    return UNKNOWN


def field_type(current: Schema, name: str, context: Context) -> Schema:
    """The type of `.name` on a value of type `current`; TypeProblem when it cannot exist."""
    if current == UNKNOWN:
        return UNKNOWN
    branches = without_null(current)
    maybe_null = len(branches) < len(current.get("anyOf") or current.get("oneOf") or [current]) or (
        "null" in json_types(current)
    )
    results = []
    for branch in branches:
        types = json_types(branch)
        if "object" not in types:
            raise TypeProblem(f"{_a(types)} has no field {name!r}")
        properties = branch.get("properties")
        if properties is None:
            context.notes.append(
                f"cannot know the type of field {name!r}: its schema declares no fields"
            )
            results.append(UNKNOWN)
            continue
        if name not in properties:
            later = branch.get("x-later-steps", [])
            if name in later:
                raise TypeProblem(f"refers to step {name!r}, which runs later")
            if "x-later-steps" in branch:
                raise TypeProblem(
                    f"refers to unknown step {name!r} (earlier steps: {_words(properties) or 'none'})"
                )
            if "x-root" in branch:
                raise TypeProblem(f"unknown name {name!r}: expressions start at inputs or steps")
            if "x-kept-by" in branch:
                raise TypeProblem(f"has no field {name!r}: {branch['x-kept-by']} (its fields)")
            raise TypeProblem(f"has no field {name!r} (fields: {_words(properties)})")
        results.append(properties[name])
    if not results:
        return NULL
    result = union(results)
    return nullable(result) if maybe_null else result


def items_of(schema: Schema, context: Context, what: str) -> Schema:
    """The item type of an array type (null on null)."""
    if schema == UNKNOWN:
        return UNKNOWN
    branches = without_null(schema)
    items = []
    for branch in branches:
        if "array" not in json_types(branch):
            raise TypeProblem(f"{what} needs an array, not {_a(json_types(branch))}")
        items.append(branch.get("items", UNKNOWN))
    return union(items) if items else NULL


def fits(source: Schema, target: Schema, guarded: bool = False) -> list[str]:
    """Why a value of type `source` may not fit `target` (empty: it fits)."""
    if source == UNKNOWN or target == UNKNOWN:
        return []
    have, want = json_types(source), json_types(target)
    if "number" in want:
        want = want | {"integer"}
    if not have & want:
        return [f"{_a(have)} cannot fit: it needs {_a(want)}"]
    problems = []
    extra = have - want
    if extra and not guarded:
        problems.append(f"may be {_words(extra)}, which it does not accept")
    tags_have, tags_want = _tags(source), _tags(target)
    if tags_have and tags_want and not tags_have & tags_want:
        problems.append(f"carries {_words(tags_have)} where it expects {_words(tags_want)}")
    if (
        "array" in have
        and target.get("minItems", 0) > 0
        and not source.get("minItems")
        and not guarded
    ):
        problems.append("may be an empty list, which it does not accept (guard the step with `if`)")
    if have & want == {"array"} or ("array" in have and "array" in want and len(want) == 1):
        source_items = union(
            [b.get("items", UNKNOWN) for b in without_null(source) if "array" in json_types(b)]
        )
        target_items = union(
            [b.get("items", UNKNOWN) for b in without_null(target) if "array" in json_types(b)]
        )
        problems += [f"its items: {p}" for p in fits(source_items, target_items, guarded)]
    return problems


def _tags(schema: Schema) -> frozenset[str]:
    tags = set(schema.get("x-contains", []))
    if not tags:
        for branch in without_null(schema):
            if branch is not schema:
                tags |= set(branch.get("x-contains", []))
    return frozenset(tags)


def _function(name: str, args: list[Schema], context: Context) -> Schema:
    fixed = {
        "length": "integer",
        "to_string": "string",
        "join": "string",
        "type": "string",
        "to_number": "number",
        "sum": "number",
        "avg": "number",
        "abs": "number",
        "ceil": "number",
        "floor": "number",
        "contains": "boolean",
        "starts_with": "boolean",
        "ends_with": "boolean",
    }
    if name in fixed:
        return {"type": fixed[name]}
    if name in ("sort", "reverse", "to_array") and args:
        return args[0] if name != "to_array" else {"type": "array"}
    if name == "keys":
        return {"type": "array", "items": {"type": "string"}}
    if name in ("max", "min") and args:
        return nullable(items_of(args[0], context, name + "()"))
    if name == "not_null" and args:
        return union([b for a in args for b in without_null(a)])
    context.notes.append(f"cannot know what {name}() yields")
    return UNKNOWN


def union(schemas: list[Schema]) -> Schema:
    """One type for values of any of these types (UNKNOWN absorbs the rest)."""
    unique: list[Schema] = []
    for schema in schemas:
        if schema == UNKNOWN:
            return UNKNOWN
        if schema not in unique:
            unique.append(schema)
    if not unique:
        return NULL
    return unique[0] if len(unique) == 1 else {"anyOf": unique}


def _type_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _words(values: Any) -> str:
    return (
        " or ".join(sorted(values)) if not isinstance(values, dict) else ", ".join(sorted(values))
    )


def _a(types: Any) -> str:
    words = _words(types)
    return ("an " if words[0] in "aeiou" else "a ") + words
