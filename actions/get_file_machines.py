"""GET /api/files/{sha1}/machines: machines that have seen a file. SHA-1 only.

A file no machine has seen is an empty result: newer API revisions answer 200 with an empty set,
older ones 404; both give `{machines: [], count: 0}`.
"""

from __future__ import annotations

from typing import Any

from mdepack.api import ActionApi
from mdepack.machines import collection


def run(inputs: dict[str, Any], api: ActionApi) -> dict[str, Any]:
    """Machines related to the file."""
    machines = api.collection(sha1=inputs["sha1"].lower())
    return collection(machines, inputs.get("fields"))
