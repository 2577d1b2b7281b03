"""`mdepack bundle azure-functions`: a Functions app folder (Python v2 model) with the pack and
its dependencies in `.python_packages/lib/site-packages`, ready for
`func azure functionapp publish APP --no-build` (or a zip deploy)."""

from __future__ import annotations

import json
from pathlib import Path

from mdepack.bundle import packages
from mdepack.errors import InputError

FUNCTION_APP = """\
# The mdepack HTTP trigger: POST /api/actions/{name} and POST /api/playbooks/{name}
# (function-key auth). Settings: the MDE_* variables; see deploy/azure/README.md.
from mdepack.triggers.azure_functions import app  # noqa: F401
"""
HOST = {
    "version": "2.0",
    # One call may wait for the rate budget and retries (MDE_RETRY_BUDGET, 120 s by default).
    "functionTimeout": "00:10:00",
    "logging": {"logLevel": {"default": "Warning", "Function": "Information"}},
    "extensionBundle": {
        "id": "Microsoft.Azure.Functions.ExtensionBundle",
        "version": "[4.*, 5.0.0)",
    },
}
REQUIREMENTS = """\
# The pack and its dependencies are in .python_packages (built by `mdepack bundle azure-functions`
# for this platform); publish with `func azure functionapp publish APP --no-build`.
"""


def build(output: Path, python: str = "3.12") -> int:
    """Write the app folder to `output` (which must be empty or new); its size in bytes."""
    if output.exists() and any(output.iterdir()):
        raise InputError(
            f"--output: {output} is not empty", field="output", rule="a new or empty folder"
        )
    site = output / ".python_packages" / "lib" / "site-packages"
    site.mkdir(parents=True)
    packages.install(site, packages.lock("azure-functions", python, "x86_64"), python, "x86_64")
    packages.copy_pack(site)
    packages.prune(site)
    (output / "function_app.py").write_text(FUNCTION_APP)
    (output / "host.json").write_text(json.dumps(HOST, indent=2) + "\n")
    (output / "requirements.txt").write_text(REQUIREMENTS)
    return packages.size(output)
