"""Did-you-mean for names a person types: actions, playbooks, Machine fields."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


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
