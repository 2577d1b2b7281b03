"""The pack's schemas as one set of documents: where each is known (`uri`), what a pointer names
(`resolve`), every `$ref` inlined (`inline`) or copied into named definitions (`hoisted`,
`bundled`), the references that leave the pack (`foreign_references`), and the registries the
validators share, each built once per process.

Every walk over `$ref`s lives here; validation, the playbook checker, `describe`, MCP and the
OpenAPI export call it.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterator
from typing import Any
from urllib.parse import urldefrag, urljoin

from mdepack import manifest as manifest_module

BASE_URI = "https://mdepack.invalid/"


def uri(relative: str) -> str:
    """The identifier a pack file's schema is known by (its path under a fixed base)."""
    return BASE_URI + relative


def pointer_parts(target: str) -> tuple[str, list[str]]:
    """(document URI, JSON-pointer parts unescaped) of a pack URI such as
    `https://mdepack.invalid/schemas/common.json#/$defs/sha1`."""
    document, pointer = urldefrag(target)
    parts = [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/") if p]
    return document, parts


def resolve(target: str) -> Any:
    """The schema node a pack URI with a pointer names (KeyError when there is none)."""
    document, parts = pointer_parts(target)
    node: Any = manifest_module.load().schema(document.removeprefix(BASE_URI))
    for part in parts:
        node = node[part]
    return node


def follow(node: Any, base: str) -> tuple[Any, str] | None:
    """(the schema `node`'s `$ref` names, the URI of the document holding it), or None when
    `node` has no reference into another pack file."""
    ref = node.get("$ref") if isinstance(node, dict) else None
    if not isinstance(ref, str) or ref.startswith("#"):
        return None
    target = urljoin(base, ref)
    return resolve(target), urldefrag(target)[0]


# -- every reference inlined --------------------------------------------------------------


def inline(schema: Any, base: str, seen: tuple[str, ...] = ()) -> Any:
    """The schema with every `$ref` into the pack's schemas inlined (siblings kept); a recursive
    reference stops at its second visit."""
    if isinstance(schema, list):
        return [inline(item, base, seen) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result = {key: inline(value, base, seen) for key, value in schema.items() if key != "$ref"}
    ref = schema.get("$ref")
    if isinstance(ref, str):
        target = urljoin(base, ref)
        if target in seen:
            return result
        resolved = inline(copy.deepcopy(resolve(target)), urldefrag(target)[0], (*seen, target))
        result = {**resolved, **result}
    return result


def inlined(relative: str) -> Any:
    """The pack schema file at `relative` with every `$ref` inlined (a fresh copy)."""
    return inline(manifest_module.load().schema(relative), uri(relative))


# -- references copied into named definitions --------------------------------------------


def bundled(relative: str) -> dict[str, Any]:
    """The schema file at `relative` (e.g. schemas/x.input.json), self-contained: every `$ref`
    into another pack file copied under its own `$defs`, a root that is an object schema."""
    root, definitions = hoisted(relative, "#/$defs/")
    if definitions:
        root["$defs"] = definitions
    return root


def hoisted(
    relative: str, prefix: str, definitions: dict[str, Any] | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(root, definitions) of the schema file at `relative`, `$ref`s as `prefix` + name (for
    OpenAPI, `#/components/schemas/`). Pass the same `definitions` for several files to share
    one set of names."""
    schema = copy.deepcopy(manifest_module.load().schema(relative))
    return schema_hoisted(schema, relative, prefix, definitions)


def schema_hoisted(
    schema: dict[str, Any], relative: str, prefix: str, definitions: dict[str, Any] | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Like :func:`hoisted` for a schema written elsewhere whose `$ref`s are relative to the
    pack path `relative` (a playbook's inputs)."""
    found: dict[str, Any] = {} if definitions is None else definitions
    root: dict[str, Any] = _rewrite(schema, uri(relative), found, prefix)
    ref = root.get("$ref")
    if isinstance(ref, str) and ref.startswith(prefix):
        # A root that is only a reference: inline its target, keep the rest.
        target = found[ref.removeprefix(prefix)]
        root = {**{k: v for k, v in root.items() if k != "$ref"}, **copy.deepcopy(target)}
    root.setdefault("type", "object")
    root.pop("$defs", None)
    return root, found


def _rewrite(node: Any, base: str, definitions: dict[str, Any], prefix: str) -> Any:
    if isinstance(node, list):
        return [_rewrite(item, base, definitions, prefix) for item in node]
    if not isinstance(node, dict):
        return node
    result = {
        key: _rewrite(value, base, definitions, prefix)
        for key, value in node.items()
        if key not in ("$ref", "$defs")
    }
    ref = node.get("$ref")
    if isinstance(ref, str):
        result["$ref"] = prefix + _define(urljoin(base, ref), definitions, prefix)
    return result


def _define(target: str, definitions: dict[str, Any], prefix: str) -> str:
    """Copy the schema at `target` (a pack URI with a pointer) into `definitions`; its name."""
    document, parts = pointer_parts(target)
    name = parts[-1] if len(parts) == 2 and parts[0] == "$defs" else "_".join(parts) or "root"
    if name in definitions:
        return name
    definitions[name] = {}  # reserve the name: a schema may refer to itself
    definitions[name] = _rewrite(copy.deepcopy(resolve(target)), document, definitions, prefix)
    return name


# -- references that leave the pack --------------------------------------------------------


def foreign_references(schema: Any, base: str, where: str) -> Iterator[tuple[str, str]]:
    """(path, rule) for each `$ref` (and `$id`, `$dynamicRef`) that would leave the pack's own
    schemas: nothing outside them is ever fetched."""
    if isinstance(schema, list):
        for index, item in enumerate(schema):
            yield from foreign_references(item, base, f"{where}[{index}]")
        return
    if not isinstance(schema, dict):
        return
    for key in ("$id", "$dynamicRef"):
        if key in schema:
            yield f"{where}.{key}", f"{key} is not allowed in a playbook's inputs"
    ref = schema.get("$ref")
    if isinstance(ref, str) and not ref.startswith("#"):
        target = urldefrag(urljoin(base, ref))[0]
        relative = target.removeprefix(BASE_URI)
        if target == relative or relative not in manifest_module.load().schema_files():
            yield (
                f"{where}.$ref",
                f"{ref!r} is not one of the pack's schemas (../schemas/*.json); "
                "other references are never fetched",
            )
    for key, value in schema.items():
        if key not in ("$ref", "enum", "const", "default", "examples"):
            yield from foreign_references(value, base, f"{where}.{key}")


# -- the registries ------------------------------------------------------------------------


@functools.cache
def resources() -> tuple[tuple[str, dict[str, Any]], ...]:
    """(URI, schema) of every schema file of the pack."""
    pack = manifest_module.load()
    return tuple((uri(p), pack.schema(p)) for p in pack.schema_files())


@functools.cache
def compiled_registry() -> Any:
    """The pack's schemas registered for `jsonschema_rs`, so relative `$ref`s resolve."""
    import jsonschema_rs

    return jsonschema_rs.Registry(list(resources()), retriever=never_fetch)


@functools.cache
def reference_registry() -> Any:
    """The pack's schemas registered for the reference `jsonschema` library (`referencing`),
    used only to word a failure."""
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    return Registry().with_resources(
        (key, Resource.from_contents(doc, default_specification=DRAFT202012))
        for key, doc in resources()
    )


def never_fetch(target: str) -> Any:
    """The retriever of both registries: every schema is registered up front, so a reference to
    anything else (http://, file://) is an error, never a request or a file read."""
    raise ValueError(f"{target} is not one of the pack's schemas and is never fetched")
