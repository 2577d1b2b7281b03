"""JSON Schema validation: compiled once, fast on the happy path, readable on failure.

Verdicts come from `jsonschema_rs` (a compiled validator: checking a 10,000-machine page must
cost less than parsing it). Only when an instance fails is the reference `jsonschema` library
asked which rule broke, so an error names the field and the rule in words, using the schema's
`x-error` text where it has one. tests/test_schemas.py proves both agree on a corpus.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Iterable
from typing import Any

import jsonschema_rs

from mdepack import manifest as manifest_module
from mdepack import schemas
from mdepack.errors import InputError, MdepackError, OutputValidationError
from mdepack.schemas import BASE_URI, never_fetch, uri

_EXPLAIN_AT_MOST = 20  # failures looked at to word an error


class SchemaSet:
    """Every schema of the pack, registered so that relative `$ref`s resolve between files."""

    def __init__(self, manifest: manifest_module.Manifest) -> None:
        self.manifest = manifest
        self.resources = list(schemas.resources())
        self.registry = schemas.compiled_registry()

    def validator(self, relative: str) -> Validator:
        """A compiled validator for a pack schema file."""
        # The wrapper needs a URI of its own: under the file's URI it would shadow the file and
        # refer to itself.
        return Validator(self, {"$ref": uri(relative)}, BASE_URI + "validate/" + relative)

    def inline(self, schema: dict[str, Any], base_uri: str) -> Validator:
        """A compiled validator for a schema written elsewhere (a playbook's inputs)."""
        return Validator(self, schema, base_uri)


class Validator:
    """Checks instances against one schema; raises the pack's error on failure."""

    def __init__(self, schemas: SchemaSet, schema: dict[str, Any], base_uri: str) -> None:
        self.schemas = schemas
        self.schema = schema
        self.base_uri = base_uri
        self._compiled = jsonschema_rs.Draft202012Validator(
            schema, registry=schemas.registry, base_uri=base_uri, retriever=never_fetch
        )

    def is_valid(self, instance: Any) -> bool:
        """The verdict alone."""
        return bool(self._compiled.is_valid(instance))

    def check_input(self, instance: Any, where: str = "") -> None:
        """Raise InputError naming the field and the rule when `instance` does not fit."""
        if not self._compiled.is_valid(instance):
            field, rule = self.explain(instance)
            path = f"{where}.{field}" if where and field else (where or field)
            raise InputError(f"{path}: {rule}" if path else rule, field=path or None, rule=rule)

    def check_output(self, instance: Any, action: str) -> None:
        """Raise OutputValidationError when the API's answer does not fit the output schema."""
        if not self._compiled.is_valid(instance):
            field, rule = self.explain(instance)
            raise OutputValidationError(
                f"{action}: the API's answer does not fit the output schema at "
                f"{field or 'the top level'}: {rule}",
                field=field or None,
                rule=rule,
            )

    def explain(self, instance: Any) -> tuple[str, str]:
        """(field path, rule in words) for the most relevant failure, from the reference library.

        Only the first few failures are looked at, so a huge invalid input costs little to refuse;
        where the failure is an item of a list, the count of bad items is added (a compiled check).
        """
        import jsonschema
        from referencing import Resource
        from referencing.jsonschema import DRAFT202012

        own = Resource.from_contents(self.schema, default_specification=DRAFT202012)
        registry = schemas.reference_registry().with_resource(self.base_uri, own)
        validator = jsonschema.Draft202012Validator({"$ref": self.base_uri}, registry=registry)
        found = list(itertools.islice(validator.iter_errors(instance), _EXPLAIN_AT_MOST))
        error = _first_alike(found, jsonschema.exceptions.best_match(found))
        if error is None:  # the two libraries disagree; say what the compiled one saw
            first = next(iter(self._compiled.iter_errors(instance)))
            return _path(first.instance_path), str(first.message)
        field, rule = _describe(error)
        counted = self._bad_items(error, instance)
        if counted is not None and counted[0] > 1:
            rule = f"{rule} ({counted[0]:,} of {counted[1]:,} items fail)"
        return field, rule

    def _bad_items(self, error: Any, instance: Any) -> tuple[int, int] | None:
        """(failing, all) items of the list holding the failing item, by the same schema."""
        path = list(error.absolute_path)
        if not path or not isinstance(path[-1], int):
            return None
        items = _at(instance, path[:-1])
        if not isinstance(items, list):
            return None
        where = self._location(error.schema)
        if where is not None:
            # By reference to its place, so the node's own `#/...` references keep their document.
            schema, base = {"$ref": where}, BASE_URI + "count/"
        elif _pointer_to(self.schema, error.schema) is not None:
            schema, base = error.schema, self.base_uri  # a schema written elsewhere (playbook)
        else:
            return None
        check = jsonschema_rs.Draft202012Validator(
            schema, registry=self.schemas.registry, base_uri=base, retriever=never_fetch
        )
        return sum(1 for item in items if not check.is_valid(item)), len(items)

    def _location(self, node: Any) -> str | None:
        """`URI#pointer` of `node` (found by identity) in the registered pack schemas."""
        for key, document in self.schemas.resources:
            pointer = _pointer_to(document, node)
            if pointer is not None:
                return f"{key}#{pointer}"
        return None


@functools.cache
def schema_set() -> SchemaSet:
    """The pack's schemas, loaded and registered once per process."""
    return SchemaSet(manifest_module.load())


def apply_defaults(
    schema: dict[str, Any], inputs: dict[str, Any], base: str = "playbooks/"
) -> dict[str, Any]:
    """A copy of `inputs` with the schema's top-level property defaults filled in, following a
    property's `$ref` into the pack's schemas (relative to `base`, the schema's own path)."""
    filled = dict(inputs)
    for name, prop in schema.get("properties", {}).items():
        if name not in filled:
            found = _default_of(prop, base)
            if found is not None:
                filled[name] = found[0]
    return filled


@functools.cache
def action_defaults(relative: str) -> dict[str, Any]:
    """The top-level defaults of a pack schema file, worked out once."""
    return apply_defaults(manifest_module.load().schema(relative), {}, relative)


def _default_of(prop: Any, base: str) -> tuple[Any] | None:
    """(default,) of a property schema, or of the schema its `$ref` names; None when none."""
    if not isinstance(prop, dict):
        return None
    if "default" in prop:
        return (prop["default"],)
    followed = schemas.follow(prop, uri(base))
    if followed is None:
        return None
    target, document = followed
    return _default_of(target, document.removeprefix(BASE_URI))


def _describe(error: Any) -> tuple[str, str]:
    path = _path(error.absolute_path)
    kind = error.validator
    value = error.validator_value
    if kind == "required":
        missing = [n for n in value if n not in error.instance]
        if len(missing) == 1:
            return _join(path, missing[0]), "is required"
        return path or "input", f"missing required inputs: {', '.join(missing)}"
    if kind == "additionalProperties":
        known = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(known))
        return _join(path, extra[0]), f"is not a known field (known: {', '.join(known)})"
    rule = _outermost_hint(error)
    if rule:
        return path, rule
    words: dict[str, Callable[[], str]] = {
        "type": lambda: f"must be of type {_words(value)}",
        "enum": lambda: f"must be one of: {_words(value)}",
        "const": lambda: f"must be {value!r}",
        "minItems": lambda: "must not be empty" if value == 1 else f"needs at least {value} items",
        "maxItems": lambda: f"takes at most {value} items",
        "uniqueItems": lambda: "must not repeat a value",
        "minLength": lambda: (
            "must not be empty" if value == 1 else f"needs at least {value} characters"
        ),
        "maxLength": lambda: f"takes at most {value} characters",
        "pattern": lambda: f"must match the pattern {value}",
        "minimum": lambda: f"must be at least {value}",
        "maximum": lambda: f"must be at most {value}",
        "exclusiveMinimum": lambda: f"must be more than {value}",
        "exclusiveMaximum": lambda: f"must be less than {value}",
        "anyOf": lambda: _alternatives(error),
        "oneOf": lambda: _alternatives(error),
        "format": lambda: f"must be a valid {value}",
    }
    if kind in words:
        return path, words[kind]()
    return path, str(error.message)


def _first_alike(found: list[Any], chosen: Any) -> Any:
    """Of the errors like `chosen` (same rule, same list), the one at the earliest item."""
    if chosen is None:
        return None
    parent = list(chosen.absolute_path)[:-1]
    for error in found:
        if error.validator == chosen.validator and list(error.absolute_path)[:-1] == parent:
            return error
    return chosen


def _alternatives(error: Any) -> str:
    """`anyOf`/`oneOf` in words: the types or values the branches accept."""
    kinds: list[str] = []
    for branch in error.validator_value:
        if isinstance(branch, dict) and "enum" in branch:
            kinds.append("one of " + _words(branch["enum"]))
        elif isinstance(branch, dict) and "type" in branch:
            kinds.append("a list" if branch["type"] == "array" else f"a {_words(branch['type'])}")
        elif isinstance(branch, dict) and "$ref" in branch:
            kinds.append(str(branch["$ref"]).rpartition("/")[2].replace("_", " "))
    if kinds:
        return "must be " + " or ".join(dict.fromkeys(kinds))
    return "does not fit any of the accepted forms"


def _at(instance: Any, path: list[Any]) -> Any:
    for part in path:
        instance = instance[part]
    return instance


def _pointer_to(document: Any, node: Any, at: str = "") -> str | None:
    """The JSON pointer of `node` inside `document` (by identity), or None."""
    if document is node:
        return at
    if isinstance(document, dict):
        children: Iterable[tuple[Any, Any]] = document.items()
    elif isinstance(document, list):
        children = enumerate(document)
    else:
        return None
    for key, value in children:
        escaped = str(key).replace("~", "~0").replace("/", "~1")
        found = _pointer_to(value, node, f"{at}/{escaped}")
        if found is not None:
            return found
    return None


def _outermost_hint(error: Any) -> str | None:
    hint = None
    node = error
    while node is not None:
        if isinstance(node.schema, dict) and "x-error" in node.schema:
            hint = node.schema["x-error"]
        node = node.parent
    return hint


def _path(parts: Iterable[Any]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _words(value: Any) -> str:
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)


__all__ = ["MdepackError", "SchemaSet", "Validator", "schema_set"]
