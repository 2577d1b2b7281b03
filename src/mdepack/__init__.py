"""mdepack: Microsoft Defender for Endpoint machine actions for SOAR playbooks and triggers.

    import mdepack
    result = mdepack.run("get_file_machines", {"sha1": "1e5bc9d7e413ddd7902c2932e418702b84d0cc07"})

`run` validates the inputs (an invalid one raises `mdepack.InputError` before any call), calls the
API with the MDE_* settings from the environment (or a `Config` you pass), validates the output
and returns it as a plain dict. Failures raise the typed errors below; the CLI, the serverless
triggers, the MCP server and the playbook runner all go through the same function.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mdepack.errors import (
    ApiError,
    AuthError,
    ConfigError,
    GuardError,
    InputError,
    MdepackError,
    NotFoundError,
    OutputValidationError,
    PermissionDeniedError,
    RateLimitError,
    TransientError,
)

if TYPE_CHECKING:
    from mdepack.config import Config

__version__ = "0.1.0"


def run(action: str, inputs: dict[str, Any], *, config: Config | None = None) -> dict[str, Any]:
    """Run one action and return its validated output (see the module's docstring)."""
    from mdepack.invoke import invoke

    return invoke(action, inputs, config=config)


def __getattr__(name: str) -> Any:
    """`mdepack.Config` and `mdepack.emulator`, imported on first use so that `import mdepack`
    stays light (a Lambda cold start pays for neither)."""
    if name == "Config":
        from mdepack.config import Config

        return Config
    if name == "emulator":
        import importlib

        return importlib.import_module("mdepack.emulator")
    raise AttributeError(f"module 'mdepack' has no attribute {name!r}")


def actions() -> list[str]:
    """The names of the pack's actions, from the manifest."""
    from mdepack.manifest import load

    return list(load().actions)


__all__ = [
    "ApiError",
    "AuthError",
    "Config",
    "ConfigError",
    "GuardError",
    "InputError",
    "MdepackError",
    "NotFoundError",
    "OutputValidationError",
    "PermissionDeniedError",
    "RateLimitError",
    "TransientError",
    "__version__",
    "actions",
    "run",
]
