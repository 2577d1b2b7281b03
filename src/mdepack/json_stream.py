"""One JSON object read as it arrives, so an answer of 100,000 rows never sits in memory whole.

`members(chunks, streamed)` yields the object's top-level members as `(name, value)` in the
order they come, except that the array under `streamed` is yielded one element at a time, each as
`(streamed, element)`. Each value is decoded by the standard library's C scanner; only the
framing (braces, commas, the array) is walked here. An answer cut short or not an object raises
`StreamError`, naming what was read.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

_SPACE = re.compile(r"[ \t\n\r]*")
# The separator after an array element, when the text already holds it whole.
_NEXT = re.compile(r"[ \t\n\r]*([,\]])")
_SCAN: Any = json.JSONDecoder().scan_once  # type: ignore[attr-defined]  # the C scanner
_KEEP = 1 << 16  # consumed text is dropped once this much has piled up


class StreamError(ValueError):
    """The streamed answer is not a complete JSON object."""


class _Reader:
    """Text from byte chunks, with a read position; more is read only when it is needed."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._decode = codecs.getincrementaldecoder("utf-8")()
        self.text = ""
        self.at = 0
        self.ended = False

    def more(self) -> bool:
        """Read one more chunk; False at the end of the body."""
        if self.ended:
            return False
        if self.at > _KEEP:
            self.text, self.at = self.text[self.at :], 0
        for chunk in self._chunks:
            piece = self._decode.decode(chunk)
            if piece:
                self.text += piece
                return True
        self.text += self._decode.decode(b"", final=True)
        self.ended = True
        return False

    def char(self) -> str:
        """The next character that is not white space ("" at the end), not consumed."""
        while True:
            self.at = _SPACE.match(self.text, self.at).end()  # type: ignore[union-attr]
            if self.at < len(self.text):
                return self.text[self.at]
            if not self.more():
                return ""

    def expect(self, wanted: str, where: str) -> str:
        """Consume one of the characters in `wanted`; StreamError for anything else."""
        found = self.char()
        if not found or found not in wanted:
            shown = repr(found) if found else "the end of the answer"
            raise StreamError(f"expected {' or '.join(wanted)} {where}, found {shown}")
        self.at += 1
        return found

    def value(self) -> Any:
        """The next JSON value, reading more until it is whole."""
        if self.at >= len(self.text) or self.text[self.at] in " \t\n\r":
            self.char()
        while True:
            try:
                value, end = _SCAN(self.text, self.at)
            except (StopIteration, json.JSONDecodeError):
                if self.more():
                    continue
                raise StreamError("the answer was cut short inside a value") from None
            # A number at the very end of the text may continue in the next chunk.
            if end == len(self.text) and not self.ended and self.more():
                continue
            self.at = end
            return value


def members(chunks: Iterable[bytes], streamed: str) -> Iterator[tuple[str, Any]]:
    """The top-level members of the JSON object in `chunks`, the `streamed` array element-wise."""
    reader = _Reader(chunks)
    reader.expect("{", "at the start of the answer")
    if reader.char() == "}":
        reader.at += 1
        return
    while True:
        if reader.char() != '"':
            reader.expect('"', "before a member name")
        name = reader.value()
        reader.expect(":", f"after {name!r}")
        if name == streamed and reader.char() == "[":
            reader.at += 1
            if reader.char() == "]":
                reader.at += 1
            else:
                while True:
                    yield name, reader.value()
                    found = _NEXT.match(reader.text, reader.at)
                    if found is not None:  # the common case: no need to read more first
                        reader.at = found.end()
                        if found.group(1) == "]":
                            break
                    elif reader.expect(",]", f"between the elements of {name!r}") == "]":
                        break
        else:
            yield name, reader.value()
        if reader.expect(",}", "between members") == "}":
            break
    if reader.char():
        raise StreamError("the answer goes on after its object")
