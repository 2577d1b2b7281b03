"""`mdepack run ACTION --jsonl`: machines as JSON lines, page by page, so memory stays flat.

Each page is validated against the action's output schema before its lines are written.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from mdepack.client import ApiClient
from mdepack.config import Config
from mdepack.invoke import prepared


def stream_machines(name: str, inputs: Any, *, client: ApiClient | None = None) -> Iterator[str]:
    """JSON lines, one machine each, for a collection action (any other: its output, one line)."""
    action = prepared(name)
    ready = action.inputs(inputs)
    client = client or ApiClient(Config.from_env())
    if action.stream is None:
        output = action.call(ready, client)
        for machine in output.get("machines", [output]):
            yield json.dumps(machine) + "\n"
        return
    for page in action.stream(ready, action.api(client)):
        action.output.check_output({"machines": page, "count": len(page)}, name)
        yield "".join(json.dumps(machine) + "\n" for machine in page)
