"""The output a skipped step leaves behind: the action's output shape with typed empty values
(`[]` for lists, `0` for counts, `false` for flags, `null` where the schema allows null), so a
later expression such as `steps.tag.updated` gives `[]`, not `null`, on every engine."""

from __future__ import annotations

import copy
import functools
from typing import Any

from mdepack import manifest as manifest_module
from mdepack import schemas


def empty_output(action: str) -> Any:
    """The typed empty output of `action`: a fresh copy each time, so a run that changes it
    cannot change the next one (a warm Lambda keeps this module)."""
    return copy.deepcopy(_empty_output(action))


@functools.cache
def _empty_output(action: str) -> Any:
    spec = manifest_module.load().action(action)
    schema = schemas.inlined(spec.output)
    return empty(schema)


def empty(schema: Any) -> Any:
    """The empty value of a (dereferenced) schema's type."""
    if not isinstance(schema, dict):
        return None
    branches = schema.get("anyOf") or schema.get("oneOf")
    kinds = schema.get("type")
    kinds = kinds if isinstance(kinds, list) else [kinds] if kinds else []
    if "null" in kinds or (branches and any(b.get("type") == "null" for b in branches)):
        return None
    if branches:
        return empty(branches[0])
    if "object" in kinds or "properties" in schema:
        required = schema.get("required", [])
        properties = schema.get("properties", {})
        return {name: empty(properties.get(name)) for name in required if name in properties}
    for kind, value in (("array", []), ("integer", 0), ("number", 0), ("boolean", False)):
        if kind in kinds:
            return value
    return "" if "string" in kinds else None
