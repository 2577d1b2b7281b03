"""Self-contained JSON Schemas: a pack schema with every `$ref` into another pack file copied in
as a named definition and pointed at locally, and a root that is an object schema, never a bare
`$ref` (MCP clients and OpenAPI tools resolve nothing outside their document).

`bundled()` keeps the definitions under the schema's own `$defs`; `hoisted()` hands them back
separately, with `$ref`s pointing wherever the caller keeps them (`#/components/schemas/`).
"""

from __future__ import annotations

import copy
from typing import Any
from urllib.parse import urljoin

from mdepack import manifest as manifest_module
from mdepack.validation import pointer_parts, resolve, uri


def bundled(relative: str) -> dict[str, Any]:
    """The schema file at `relative` (e.g. schemas/x.input.json), self-contained."""
    root, definitions = hoisted(relative, "#/$defs/")
    if definitions:
        root["$defs"] = definitions
    return root


def hoisted(
    relative: str, prefix: str, definitions: dict[str, Any] | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(root, definitions) of the schema file at `relative`, `$ref`s as `prefix` + name.

    Pass the same `definitions` for several files to share one set of names.
    """
    return schema_hoisted(
        copy.deepcopy(manifest_module.load().schema(relative)), relative, prefix, definitions
    )


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
