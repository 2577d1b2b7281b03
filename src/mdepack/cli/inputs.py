"""Reading `--input`: JSON text, @FILE (a regular file) or - (standard input), capped in size."""

from __future__ import annotations

import json
import os
import stat
import sys
from typing import Any, BinaryIO

from mdepack.errors import InputError

INPUT_HELP = (
    "JSON text, @FILE (a regular file) or - (standard input). Large inputs, such as thousands "
    "of machine ids, belong in - or @FILE: the system limits a command line's length "
    "('Argument list too long'). At most 32 MiB."
)
# The largest --input read from a file or standard input: 200,000 machine ids are about 8 MiB.
MAX_INPUT_BYTES = 32 * 1024 * 1024


def read_json_argument(text: str, what: str = "input") -> Any:
    """JSON from text, @file (a regular file) or - (stdin), at most MAX_INPUT_BYTES of it.

    InputError when it is not JSON, too large, or not a regular file (a FIFO or a device such as
    /dev/zero would block or never end).
    """
    if text == "-":
        data = _read_capped(sys.stdin.buffer, "standard input", what)
    elif text.startswith("@"):
        data = _read_file(text[1:], what)
    else:
        data = text.encode()
    try:
        return json.loads(data)
    except ValueError as error:
        hint = ""
        if text[:1] not in '{["' and (text.endswith(".json") or os.path.isfile(text)):
            hint = f"; to read the file, write @{text}"  # `--input ids.json` for `@ids.json`
        raise InputError(
            f"{what}: not valid JSON ({error}){hint}", field=what, rule="valid JSON"
        ) from None
    except RecursionError:
        raise InputError(
            f"{what}: nested too deeply to read",
            field=what,
            rule="JSON nested a few hundred levels",
        ) from None


def _read_file(name: str, what: str) -> bytes:
    try:
        if not stat.S_ISREG(os.stat(name).st_mode):
            raise InputError(
                f"{what}: {name!r} is not a regular file (use - to read standard input)",
                field=what,
                rule="a regular file",
            )
        with open(name, "rb") as stream:
            return _read_capped(stream, repr(name), what)
    except OSError as error:
        raise InputError(
            f"{what}: cannot read {name!r}: {error.strerror}", field=what, rule="readable file"
        ) from None


def _read_capped(stream: BinaryIO, source: str, what: str) -> bytes:
    data = stream.read(MAX_INPUT_BYTES + 1)
    if len(data) > MAX_INPUT_BYTES:
        mib = MAX_INPUT_BYTES // (1024 * 1024)
        raise InputError(
            f"{what}: {source} is larger than {mib} MiB; pass less, or split the work",
            field=what,
            rule=f"at most {mib} MiB",
        )
    return data
