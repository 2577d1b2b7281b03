"""`mdepack.json_stream`: an answer read piece by piece gives what `json.loads` gives, whatever
the chunk boundaries; an answer cut short or not an object is an error, not a short result.
And `mdepack.kql`'s literals, which the emulator's KQL lexer reads back exactly."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from mdepack import json_stream, kql
from mdepack.emulator import kql as emulated
from mdepack.errors import InputError

ANSWER = {
    "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#huntingQueryResults",
    "schema": [{"name": "n", "type": "Int64"}, {"name": "s", "type": "String"}],
    "results": [{"n": i, "s": f'caf\u00e9 {i} \\ " ]}}'} for i in range(50)] + [{"n": 12345}],
    "tail": 7,
}


def read(document: bytes, size: int, key: str = "results") -> dict[str, Any]:
    chunks = [document[i : i + size] for i in range(0, len(document), size)]
    found: dict[str, Any] = {}
    for name, value in json_stream.members(chunks, key):
        if name == key:
            found.setdefault(key, []).append(value)
        else:
            found[name] = value
    return found


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 100_000])
def test_any_chunking_reads_the_same_as_json_loads(size: int) -> None:
    document = json.dumps(ANSWER, indent=1).encode()
    assert read(document, size) == ANSWER


def test_an_empty_object_and_an_empty_array() -> None:
    assert read(b"{}", 1) == {}
    assert read(b'{"results": [], "schema": []}', 1) == {"schema": []}


def test_the_streamed_key_may_come_before_the_others() -> None:
    document = json.dumps({"results": [{"a": 1}], "schema": [1]}).encode()
    assert read(document, 3) == {"results": [{"a": 1}], "schema": [1]}


@pytest.mark.parametrize(
    "document",
    [
        b"",
        b"[1, 2]",
        b'{"results": [{"a": 1}',
        b'{"results": [{"a": 1},',
        b'{"a": 1',
        b'{"a": 1} x',
    ],
)
def test_an_answer_cut_short_or_not_an_object_is_an_error(document: bytes) -> None:
    with pytest.raises(json_stream.StreamError):
        read(document, 4)


def test_a_number_split_across_chunks_is_read_whole() -> None:
    assert read(b'{"results": [], "n": 123456}', 24) == {"n": 123456}


@pytest.mark.parametrize(
    "value",
    [
        "plain",
        "",
        "'",
        '"',
        "\\",
        "\\'",
        "a\nb",
        "a\tb",
        "| take 1 //",
        "@'x'",
        "\u00e9\u4e2d",
        0,
        -1,
        2**63 - 1,
        1.5,
        -0.25,
        1e20,
        True,
        False,
    ],
)
def test_each_literal_is_read_back_exactly_by_a_kql_lexer(value: Any) -> None:
    query = kql.bound("print v = v", {"v": value})
    _, rows = emulated.run(emulated.parse(query), {})
    assert rows == [{"v": value}]
    assert type(rows[0]["v"]) is type(value)


def test_nan_and_infinities_are_real_literals() -> None:
    assert kql.literal(math.inf, "v") == "real(+inf)"
    assert kql.literal(-math.inf, "v") == "real(-inf)"
    assert kql.literal(math.nan, "v") == "real(nan)"


@pytest.mark.parametrize("name", ["1a", "a-b", "", "let", "Where", "x" * 129, "a b"])
def test_names_that_are_not_kql_identifiers_are_refused(name: str) -> None:
    with pytest.raises(InputError) as caught:
        kql.name(name, "parameters.x")
    assert caught.value.field == "parameters.x"
