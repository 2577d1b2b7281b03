"""JSON Schema validation: compiled once, fast on the happy path, readable on failure.

Verdicts come from `jsonschema_rs` (a compiled validator: checking a 10,000-machine page must
cost less than parsing it). Only when an instance fails is the reference `jsonschema` library
asked which rule broke, so an error names the field and the rule in words, using the schema's
`x-error` text where it has one. tests/test_validation.py proves both agree on a corpus.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

import jsonschema_rs

from mdepack import manifest as manifest_module
from mdepack.errors import InputError, MdepackError, OutputValidationError

BASE_URI = "https://mdepack.invalid/"


def uri(relative: str) -> str:
    """The identifier a pack file's schema is known by (its path under a fixed base)."""
    return BASE_URI + relative


class SchemaSet:
    """Every schema of the pack, registered so that relative `$ref`s resolve between files."""

    def __init__(self, manifest: manifest_module.Manifest) -> None:
        self.manifest = manifest
        self.resources = [(uri(p), manifest.schema(p)) for p in manifest.schema_files()]
        self.registry = jsonschema_rs.Registry(self.resources)

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
            schema, registry=schemas.registry, base_uri=base_uri
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
        """(field path, rule in words) for the most relevant failure, from the reference library."""
        import jsonschema
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT202012

        resources = [
            (key, Resource.from_contents(doc, default_specification=DRAFT202012))
            for key, doc in [*self.schemas.resources, (self.base_uri, self.schema)]
        ]
        validator = jsonschema.Draft202012Validator(
            {"$ref": self.base_uri}, registry=Registry().with_resources(resources)
        )
        error = jsonschema.exceptions.best_match(validator.iter_errors(instance))
        if error is None:  # the two libraries disagree; say what the compiled one saw
            first = next(iter(self._compiled.iter_errors(instance)))
            return _path(first.instance_path), str(first.message)
        return _describe(error)


@functools.cache
def schema_set() -> SchemaSet:
    """The pack's schemas, loaded and registered once per process."""
    return SchemaSet(manifest_module.load())


@functools.cache
def action_validator(action: str, kind: str) -> Validator:
    """The compiled input or output validator of an action, built once per process."""
    spec = manifest_module.load().action(action)
    return schema_set().validator(spec.input if kind == "input" else spec.output)


def apply_defaults(schema: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
    """A copy of `inputs` with the schema's top-level property defaults filled in."""
    filled = dict(inputs)
    for name, prop in schema.get("properties", {}).items():
        if name not in filled and isinstance(prop, dict) and "default" in prop:
            filled[name] = prop["default"]
    return filled


def _describe(error: Any) -> tuple[str, str]:
    path = _path(error.absolute_path)
    kind = error.validator
    if kind == "required":
        missing = next(n for n in error.validator_value if n not in error.instance)
        return _join(path, missing), "is required"
    if kind == "additionalProperties":
        known = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(known))
        return _join(path, extra[0]), f"is not a known field (known: {', '.join(known)})"
    rule = _outermost_hint(error)
    if rule:
        return path, rule
    if kind == "type":
        return path, f"must be of type {_words(error.validator_value)}"
    if kind == "enum":
        return path, f"must be one of: {_words(error.validator_value)}"
    return path, str(error.message)


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


__all__ = ["MdepackError", "SchemaSet", "Validator", "action_validator", "schema_set"]
