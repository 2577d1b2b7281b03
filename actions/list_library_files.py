"""GET /api/libraryfiles: the live response library (scripts a RunScript may run, files a PutFile
may put), with each file's sha256, description and parameters."""

from __future__ import annotations

from typing import Any

from mdepack.api import ActionApi


def run(inputs: dict[str, Any], api: ActionApi) -> dict[str, Any]:
    """The library's files."""
    files = api.collection()
    return {"files": files, "count": len(files)}
