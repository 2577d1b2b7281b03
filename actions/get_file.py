"""GET /api/files/{sha1 or sha256}: what Defender knows of a file. The output carries `sha1` at
the top, so a SHA-256 from an alert can reach get_file_machines, which takes SHA-1 only. A file
the API does not know is `found: false`, not an error."""

from __future__ import annotations

from typing import Any

from mdepack.api import ActionApi


def run(inputs: dict[str, Any], api: ActionApi) -> dict[str, Any]:
    """The file's information."""
    file = api.get(missing_ok=True, hash=inputs["hash"].lower())
    if not isinstance(file, dict):
        return {"found": False, "file": None, "sha1": None, "sha256": None}
    sha1 = file.get("sha1")
    return {
        "found": True,
        "file": file,
        "sha1": sha1.lower() if isinstance(sha1, str) else None,
        "sha256": file.get("sha256"),
    }
