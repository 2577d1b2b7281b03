"""Self-contained JSON Schemas: a pack schema with every `$ref` into another pack file copied in
under `$defs` and pointed at locally, and a root that is an object schema, never a bare `$ref`
(MCP clients and OpenAPI tools resolve nothing outside the document)."""

from __future__ import annotations

import copy
from typing import Any
from urllib.parse import urldefrag, urljoin

from mdepack import manifest as manifest_module
from mdepack.validation import BASE_URI, uri


def bundled(relative: str) -> dict[str, Any]:
    """The schema file at `relative` (e.g. schemas/x.input.json), self-contained."""
    pack = manifest_module.load()
    definitions: dict[str, Any] = {}
    root: dict[str, Any] = _rewrite(
        copy.deepcopy(pack.schema(relative)), uri(relative), definitions
    )
    ref = root.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        # A root that is only a reference: inline its target, keep the rest.
        target = definitions[ref.removeprefix("#/$defs/")]
        root = {**{k: v for k, v in root.items() if k != "$ref"}, **copy.deepcopy(target)}
    root.setdefault("type", "object")
    root.pop("$defs", None)
    if definitions:
        root["$defs"] = definitions
    return root


def _rewrite(node: Any, base: str, definitions: dict[str, Any]) -> Any:
    if isinstance(node, list):
        return [_rewrite(item, base, definitions) for item in node]
    if not isinstance(node, dict):
        return node
    result = {
        key: _rewrite(value, base, definitions) for key, value in node.items() if key != "$ref"
    }
    ref = node.get("$ref")
    if isinstance(ref, str):
        result["$ref"] = "#/$defs/" + _define(urljoin(base, ref), definitions)
    return result


def _define(target: str, definitions: dict[str, Any]) -> str:
    """Copy the schema at `target` (a pack URI with a pointer) into `definitions`; its name."""
    document, pointer = urldefrag(target)
    parts = [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/") if p]
    name = parts[-1] if len(parts) == 2 and parts[0] == "$defs" else "_".join(parts) or "root"
    if name in definitions:
        return name
    definitions[name] = {}  # reserve the name: a schema may refer to itself
    node: Any = manifest_module.load().schema(document.removeprefix(BASE_URI))
    for part in parts:
        node = node[part]
    definitions[name] = _rewrite(copy.deepcopy(node), document, definitions)
    return name
