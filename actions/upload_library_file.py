"""POST /api/libraryfiles (multipart/form-data): add a script or file to the live response library.

The content comes base64 (`content_base64`; from the CLI, `--file PATH`); it is decoded and its
size checked against the API's 20 MB before any call. Without `override`, a file of the same name
is refused by the API.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any

from mdepack.api import ActionApi
from mdepack.errors import InputError

MAX_BYTES = 20 * 1024 * 1024


def run(inputs: dict[str, Any], api: ActionApi) -> dict[str, Any]:
    """Upload the file (or, with dry_run, say what would be)."""
    try:
        content = base64.b64decode(inputs["content_base64"], validate=False)
    except (binascii.Error, ValueError):
        rule = "must be base64 text"
        raise InputError(f"content_base64: {rule}", field="content_base64", rule=rule) from None
    if len(content) > MAX_BYTES:
        rule = f"must decode to at most 20 MB (the library's limit); it is {len(content):,} bytes"
        raise InputError(f"content_base64: {rule}", field="content_base64", rule=rule)
    result: dict[str, Any] = {
        "file_name": inputs["file_name"],
        "size": len(content),
        "sha256": hashlib.sha256(content).hexdigest(),
        "dry_run": inputs["dry_run"],
        "uploaded": False,
    }
    if inputs["dry_run"]:
        return result
    form: dict[str, str | tuple[str, bytes]] = {
        "File": (inputs["file_name"], content),
        "Description": inputs["description"],
        "HasParameters": "true" if inputs["has_parameters"] else "false",
        "OverrideIfExists": "true" if inputs["override"] else "false",
    }
    if "parameters_description" in inputs:
        form["ParametersDescription"] = inputs["parameters_description"]
    result["file"] = api.upload(form)
    result["uploaded"] = True
    return result
