"""`mdepack run ACTION --jsonl`: a collection as JSON lines, page by page, so memory stays flat.

An action module with a `stream(inputs, api)` generator of pages names the output key its items
go under as `ITEMS` (default `machines`: list_machines; `results`: run_hunting_query's rows).
Each page is validated against the action's output schema before its lines are written.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from mdepack.client import ApiClient
from mdepack.config import Config
from mdepack.invoke import prepared


def stream_lines(name: str, inputs: Any, *, client: ApiClient | None = None) -> Iterator[str]:
    """JSON lines, one item each, for a collection action (any other: its output's machines, or
    the output itself, one line)."""
    action = prepared(name)
    ready = action.inputs(inputs)
    client = client or ApiClient(Config.from_env())
    if action.stream is None:
        output = action.call(ready, client)
        for item in output.get("machines", [output]):
            yield json.dumps(item) + "\n"
        return
    for page in action.stream(ready, action.api(client)):
        action.output.check_output({action.items: page, "count": len(page)}, name)
        yield "".join(json.dumps(item) + "\n" for item in page)
