"""Reads manifest.yaml, the single source of truth, and loads actions from its entrypoints.

The pack's content (manifest, actions, schemas, playbooks) sits at the repository root in a
checkout and under `mdepack/_pack/` in a wheel; :func:`pack_root` finds it, and an action is then
loaded the same way in both: from the file its entrypoint names, relative to the manifest.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mdepack import spelling
from mdepack.config import APIS
from mdepack.errors import InputError

ActionFunction = Callable[[dict[str, Any], Any], dict[str, Any]]
SIDE_EFFECTS = ("read", "write")


@dataclass(frozen=True)
class Action:
    """One action as the manifest declares it."""

    name: str
    description: str
    entrypoint: str
    input: str
    output: str
    method: str
    path: str
    permission: str
    side_effects: str
    example: dict[str, Any]
    destructive: bool = False
    idempotent: bool = True
    rate: tuple[int, int] | None = None  # (per minute, per hour) of an endpoint's own budget
    tracking_permission: str | None = None  # the role that reading its machine actions needs
    sensitive: bool = False  # its output is a secret-bearing link, kept from agents by default
    api: str = "defender"  # the API family it calls: `defender` or `graph`
    timeout: float | None = None  # seconds its call may take, when the API allows longer
    # Further endpoints the action calls (an alert's comments), by name: (method, path).
    endpoints: tuple[tuple[str, str, str], ...] = ()

    @property
    def writes(self) -> bool:
        """True when the action changes state in the tenant."""
        return self.side_effects == "write"


def pack_root() -> Path:
    """The folder holding manifest.yaml: inside the installed package, else the checkout root."""
    package = Path(__file__).resolve().parent
    for candidate in (package / "_pack", package.parent.parent):
        if (candidate / "manifest.yaml").is_file():
            return candidate
    raise RuntimeError(f"mdepack: no manifest.yaml beside {package}")


class Manifest:
    """The parsed manifest: actions by name, and their schemas and entrypoints."""

    def __init__(self, root: Path, document: dict[str, Any]) -> None:
        self.root = root
        self.document = document
        self.actions: dict[str, Action] = {
            name: _action(name, spec) for name, spec in document["actions"].items()
        }
        self._schemas: dict[str, dict[str, Any]] = {}
        self._functions: dict[str, ActionFunction] = {}

    def action(self, name: str) -> Action:
        """The action called `name`, or InputError listing the known ones."""
        try:
            return self.actions[name]
        except (KeyError, TypeError):
            known = ", ".join(sorted(self.actions))
            near = spelling.hint(name, self.actions) if isinstance(name, str) else ""
            raise InputError(
                f"action: unknown action {name!r}{near} (known: {known})",
                field="action",
                rule="must name an action in the manifest",
            ) from None

    def schema(self, relative: str) -> dict[str, Any]:
        """A schema file's parsed JSON, by its path relative to the pack root."""
        if relative not in self._schemas:
            self._schemas[relative] = json.loads((self.root / relative).read_text())
        return self._schemas[relative]

    def schema_files(self) -> list[str]:
        """Every schema file of the pack, relative to the pack root."""
        return sorted(f"schemas/{p.name}" for p in (self.root / "schemas").glob("*.json"))

    def function(self, name: str) -> ActionFunction:
        """The action's `run` function, imported from the file its entrypoint names."""
        if name not in self._functions:
            self._functions[name] = load_entrypoint(self.root, self.action(name).entrypoint)
        return self._functions[name]

    def streamer(self, name: str) -> Callable[..., Any] | None:
        """The action module's optional `stream(inputs, api)` generator of result pages."""
        found = self._attribute(name, "stream")
        return found if callable(found) else None

    def streamed_items(self, name: str) -> str:
        """The output key a streamed page's items go under: the module's `ITEMS`, else
        `machines`."""
        found = self._attribute(name, "ITEMS")
        return found if isinstance(found, str) else "machines"

    def _attribute(self, name: str, attribute: str) -> Any:
        return getattr(sys.modules.get(self.function(name).__module__), attribute, None)


def load_entrypoint(root: Path, entrypoint: str) -> ActionFunction:
    """Import `path/to/module.py:function` relative to `root` under a private module name."""
    relative, _, attribute = entrypoint.partition(":")
    path = root / relative
    module_name = "mdepack._actions." + path.stem
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None or not path.is_file():
        raise RuntimeError(f"entrypoint {entrypoint!r}: no module at {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    function = getattr(module, attribute or "run", None)
    if not callable(function):
        raise RuntimeError(f"entrypoint {entrypoint!r}: {path.name} has no function {attribute!r}")
    return function  # type: ignore[no-any-return]


@functools.cache
def load(root: Path | None = None) -> Manifest:
    """The pack's manifest, parsed once per process."""
    import yaml  # imported here: only the manifest needs YAML on an action's path

    root = root or pack_root()
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(root / "manifest.yaml", encoding="utf-8") as stream:
        document = yaml.load(stream, Loader=loader)  # noqa: S506 - a safe loader, C or Python
    return Manifest(root, document)


def _action(name: str, spec: dict[str, Any]) -> Action:
    http = spec["http"]
    if spec["side_effects"] not in SIDE_EFFECTS:
        raise RuntimeError(f"manifest: {name}.side_effects must be read or write")
    api = spec.get("api", "defender")
    if api not in APIS:
        raise RuntimeError(f"manifest: {name}.api must be one of {', '.join(APIS)}")
    return Action(
        name=name,
        description=spec["description"],
        entrypoint=spec["entrypoint"],
        input=spec["input"],
        output=spec["output"],
        method=http["method"].upper(),
        path=http["path"],
        permission=spec["permission"],
        side_effects=spec["side_effects"],
        example=spec.get("example") or {},
        destructive=bool(spec.get("destructive", False)),
        idempotent=bool(spec.get("idempotent", spec["side_effects"] == "read")),
        rate=(int(spec["rate"]["per_minute"]), int(spec["rate"]["per_hour"]))
        if "rate" in spec
        else None,
        tracking_permission=spec.get("tracking_permission"),
        sensitive=bool(spec.get("sensitive", False)),
        api=api,
        timeout=float(spec["timeout"]) if "timeout" in spec else None,
        endpoints=tuple(
            (key, value["method"].upper(), value["path"])
            for key, value in (spec.get("endpoints") or {}).items()
        ),
    )
