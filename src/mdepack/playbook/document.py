"""Loading a playbook: YAML with the line of every value, checked against schemas/playbook.json,
and the `${{ expression }}` syntax shared by the checker and the runner."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mdepack import manifest as manifest_module
from mdepack import schemas, spelling, validation
from mdepack.errors import InputError

WHOLE = re.compile(r"^\s*\$\{\{\s*(.*?)\s*\}\}\s*$", re.S)
EMBEDDED = re.compile(r"\$\{\{\s*(.*?)\s*\}\}", re.S)
Path_ = tuple[str | int, ...]


@dataclass
class Playbook:
    """A parsed playbook, with the YAML line of each value by its path."""

    path: Path
    document: dict[str, Any]
    lines: dict[Path_, int] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The playbook's name."""
        return str(self.document.get("name", self.path.stem))

    @property
    def steps(self) -> list[dict[str, Any]]:
        """The steps, in order."""
        return list(self.document.get("steps") or [])

    @property
    def relative(self) -> str:
        """Its place among the pack's files (playbooks/NAME.yaml), which its `$ref`s start from."""
        return f"playbooks/{self.path.name}"

    @property
    def base_uri(self) -> str:
        """The URI its inputs schema's relative `$ref`s resolve against (the pack's playbooks/)."""
        return schemas.uri(self.relative)

    def line(self, *path: str | int) -> int | None:
        """The line of the value at `path`, or of its nearest parent."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return None


def load(path: Path) -> Playbook:
    """Parse and format-check a playbook; InputError names the line of what is wrong."""
    try:
        text = path.read_text()
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        document = yaml.safe_load(text)
    except OSError as error:
        raise InputError(
            f"{path}: cannot read: {error.strerror}", field="playbook", rule="readable file"
        ) from None
    except yaml.YAMLError as error:
        raise InputError(
            f"{path}: not valid YAML: {error}", field="playbook", rule="valid YAML"
        ) from None
    playbook = Playbook(path, document if isinstance(document, dict) else {}, {})
    if node is not None:
        _record_lines(node, (), playbook.lines)
    schema = validation.schema_set().validator("schemas/playbook.json")
    if not schema.is_valid(document):
        where, rule = schema.explain(document)
        raise _at(playbook, where, rule)
    inputs = playbook.document.get("inputs")
    for where, rule in schemas.foreign_references(inputs, playbook.base_uri, "inputs"):
        raise _at(playbook, where, rule)
    return playbook


def _at(playbook: Playbook, where: str, rule: str) -> InputError:
    line = playbook.line(*_parse_path(where))
    at = f" (line {line})" if line else ""
    return InputError(
        f"{playbook.path}{at}: {where or 'playbook'}: {rule}", field=where or "playbook", rule=rule
    )


def find(name_or_path: str | Path) -> Path:
    """A playbook file by path, or a shipped playbook by its file name, with or without `.yaml`
    and with dashes for underscores (so a shipped playbook's `name:` finds it too: the pack's
    test_playbooks checks every `name:` is its file name so spelled)."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    folder = manifest_module.pack_root() / "playbooks"
    text = str(name_or_path)
    for candidate in (text, text.replace("-", "_"), text.removesuffix(".yaml")):
        for file in (folder / f"{candidate}.yaml", folder / candidate):
            if file.is_file() and file.parent == folder:
                return file
    stems = [p.stem for p in sorted(folder.glob("*.yaml"))]
    near = spelling.hint(text.replace("-", "_").removesuffix(".yaml"), stems)
    raise InputError(
        f"playbook: no playbook {text!r}: not a file, nor a shipped playbook "
        f"({', '.join(stems)}){near}",
        field="playbook",
        rule="must name a playbook file or a shipped playbook",
    )


def shipped() -> list[Playbook]:
    """The playbooks that ship with the pack, loaded."""
    folder = manifest_module.pack_root() / "playbooks"
    return [load(path) for path in sorted(folder.glob("*.yaml"))]


def expressions(value: Any, path: Path_ = ()) -> Iterator[tuple[Path_, str, bool]]:
    """(path, expression, whole) for every `${{ }}` in a value; whole: the value is only that."""
    if isinstance(value, str):
        whole = WHOLE.match(value)
        if whole:
            yield path, whole.group(1), True
        else:
            for match in EMBEDDED.finditer(value):
                yield path, match.group(1), False
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from expressions(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from expressions(item, (*path, index))


def render(value: Any, evaluate: Callable[[str], Any]) -> Any:
    """The value with every expression evaluated: a whole expression keeps its JSON type."""
    if isinstance(value, str):
        whole = WHOLE.match(value)
        if whole:
            return evaluate(whole.group(1))
        return EMBEDDED.sub(lambda m: _text(evaluate(m.group(1))), value)
    if isinstance(value, dict):
        return {key: render(item, evaluate) for key, item in value.items()}
    if isinstance(value, list):
        return [render(item, evaluate) for item in value]
    return value


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _record_lines(node: yaml.Node, path: Path_, lines: dict[Path_, int]) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = (*path, key.value)
            _record_lines(value, child, lines)
            lines[child] = key.start_mark.line + 1  # the key's line names the input best
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _record_lines(item, (*path, index), lines)


def _parse_path(text: str) -> Path_:
    parts: list[str | int] = []
    for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", text):
        parts.append(int(index) if index else name)
    return tuple(parts)
