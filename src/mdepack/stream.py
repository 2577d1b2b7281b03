"""`mdepack run ACTION --jsonl`: machines as JSON lines, page by page, so memory stays flat.

Each page is validated against the action's output schema before its lines are written.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from mdepack import manifest as manifest_module
from mdepack import validation
from mdepack.api import ActionApi
from mdepack.client import ApiClient
from mdepack.config import Config
from mdepack.invoke import invoke, prepare


def stream_machines(name: str, inputs: Any, *, client: ApiClient | None = None) -> Iterator[str]:
    """JSON lines, one machine each, for a collection action (any other: its output, one line)."""
    pack = manifest_module.load()
    prepared = prepare(name, inputs)
    streamer = pack.streamer(name)
    client = client or ApiClient(Config.from_env())
    if streamer is None:
        output = invoke(name, inputs, client=client)
        for machine in output.get("machines", [output]):
            yield json.dumps(machine) + "\n"
        return
    checker = validation.action_validator(name, "output")
    for page in streamer(prepared, ActionApi(client, pack.action(name))):
        checker.check_output({"machines": page, "count": len(page)}, name)
        yield "".join(json.dumps(machine) + "\n" for machine in page)
