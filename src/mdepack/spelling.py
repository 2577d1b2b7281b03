"""What a person types, read kindly: did-you-mean for names (actions, playbooks, Machine fields)
and enum values in any case, sent in the API's spelling."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any


def closest(word: str, known: Iterable[str], most: int = 3) -> list[str]:
    """The known names `word` most likely meant: the same name in another case, then close
    spellings, then names containing it (`isolate` -> isolate_machines, unisolate_machines)."""
    names = list(known)
    by_lower = {name.lower(): name for name in names}
    if word.lower() in by_lower:
        return [by_lower[word.lower()]]
    close = difflib.get_close_matches(word, names, n=most, cutoff=0.6)
    within = [name for name in names if word and word.lower() in name.lower()]
    return list(dict.fromkeys([*close, *within]))[:most]


def hint(word: str, known: Iterable[str]) -> str:
    """`; did you mean 'a'?` (or `'a' or 'b'`), or nothing when no name is close."""
    found = closest(word, known)
    return "; did you mean " + " or ".join(repr(name) for name in found) + "?" if found else ""


def respelt(given: dict[str, Any], spellings: dict[str, dict[str, str]]) -> dict[str, Any]:
    """`given` with each enum value (or list of them) in the spelling its schema has."""
    return {name: _respelt(value, spellings.get(name)) for name, value in given.items()}


def _respelt(value: Any, known: dict[str, str] | None) -> Any:
    if not known:
        return value
    if isinstance(value, list):
        return [known.get(v.lower(), v) if isinstance(v, str) else v for v in value]
    return known.get(value.lower(), value) if isinstance(value, str) else value


def enum_spellings(schema: dict[str, Any]) -> dict[str, dict[str, str]]:
    """For each top-level property whose values come from an enum (itself, its list items, or a
    branch of anyOf/oneOf), its values by lower-case spelling; a value already spelt as the enum
    has it is kept (some enums hold two spellings on purpose, `onboarded` and `Onboarded`)."""
    found: dict[str, dict[str, str]] = {}
    for name, prop in (schema.get("properties") or {}).items():
        values = _enum_values(prop)
        if values:
            spelt: dict[str, str] = {}
            for value in values:
                spelt.setdefault(value.lower(), value)
            spelt.update({value: value for value in values})
            found[name] = spelt
    return found


def _enum_values(prop: Any) -> list[str]:
    if not isinstance(prop, dict):
        return []
    if isinstance(prop.get("enum"), list):
        return [v for v in prop["enum"] if isinstance(v, str)]
    branches = [prop.get("items"), *(prop.get("anyOf") or []), *(prop.get("oneOf") or [])]
    return [v for branch in branches for v in _enum_values(branch)]
