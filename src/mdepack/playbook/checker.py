"""`mdepack playbook check`: prove a playbook from the manifest's schemas before anything runs.

Refused, naming the step, the input, the reason and the YAML line: an unknown action; an unknown
or missing required input; a reference to an unknown or later step, or to a field the source's
output schema does not have; a value whose type cannot fit the input; semantic tags (x-contains)
that disagree along an edge; a value that may be null or empty where the input refuses it,
unless the step is guarded by `if`. Where the types cannot be known, a note says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jmespath
from jmespath.exceptions import JMESPathError

from mdepack import manifest as manifest_module
from mdepack import schemas, validation
from mdepack.errors import InputError
from mdepack.machines import unknown_fields
from mdepack.playbook import document, types
from mdepack.playbook.document import Playbook


@dataclass(frozen=True)
class Problem:
    """One finding: an error fails the check, a note does not."""

    path: Path
    line: int | None
    message: str
    step: str | None = None
    input: str | None = None
    severity: str = "error"

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else str(self.path)
        subject = ", ".join(
            part
            for part in (
                f"step {self.step!r}" if self.step else "",
                f"input {self.input!r}" if self.input else "",
            )
            if part
        )
        return f"{where}: {self.severity}: {subject + ': ' if subject else ''}{self.message}"


def check_file(path: Path) -> list[Problem]:
    """Every problem of the playbook at `path` (errors and notes)."""
    try:
        playbook = document.load(path)
    except InputError as error:
        return [Problem(path, None, error.message)]
    return check(playbook)


def errors(problems: list[Problem]) -> list[Problem]:
    """Only the problems that fail the check."""
    return [p for p in problems if p.severity == "error"]


def check(playbook: Playbook) -> list[Problem]:
    """Check a loaded playbook against the manifest."""
    return analyse(playbook)[0]


def analyse(playbook: Playbook) -> tuple[list[Problem], dict[str, types.Schema]]:
    """The problems, and the typing context of each step's expressions (the playbook's inputs
    and the earlier steps' outputs, narrowed by their `fields`), by step id."""
    checker = _Checker(playbook)
    return checker.run(), checker.roots


class _Checker:
    def __init__(self, playbook: Playbook) -> None:
        self.playbook = playbook
        self.pack = manifest_module.load()
        self.problems: list[Problem] = []
        inputs = playbook.document.get("inputs") or {"type": "object", "properties": {}}
        self.inputs_type = schemas.inline(inputs, playbook.base_uri)
        self.outputs: dict[str, types.Schema] = {}
        self.roots: dict[str, types.Schema] = {}

    def run(self) -> list[Problem]:
        steps = self.playbook.steps
        ids = [str(step["id"]) for step in steps]
        for index, step in enumerate(steps):
            if ids.count(step["id"]) > 1 and ids.index(step["id"]) < index:
                self.report(f"duplicate step id {step['id']!r}", ("steps", index, "id"), step["id"])
            self.check_step(index, step, ids[index:])
        for name, value in (self.playbook.document.get("outputs") or {}).items():
            for path, expression, _ in document.expressions(value, ("outputs", name)):
                self.type_of(expression, [], path, None, None)
        return self.problems

    def report(
        self,
        message: str,
        path: tuple[Any, ...],
        step: str | None = None,
        input: str | None = None,
        severity: str = "error",
    ) -> None:
        self.problems.append(
            Problem(self.playbook.path, self.playbook.line(*path), message, step, input, severity)
        )

    def root(self, later: list[str]) -> types.Schema:
        steps = {"type": "object", "properties": dict(self.outputs), "x-later-steps": later}
        return {
            "type": "object",
            "properties": {"inputs": self.inputs_type, "steps": steps},
            "x-root": True,
        }

    def type_of(
        self,
        expression: str,
        later: list[str],
        path: tuple[Any, ...],
        step: str | None,
        input: str | None,
    ) -> types.Schema | None:
        try:
            tree = jmespath.compile(expression).parsed
        except JMESPathError as error:
            self.report(f"`{expression}` is not a JMESPath expression: {error}", path, step, input)
            return None
        context = types.Context()
        try:
            result = types.infer(tree, self.root(later), context)
        except types.TypeProblem as problem:
            self.report(f"`{expression}` {problem}", path, step, input)
            return None
        for note in dict.fromkeys(context.notes):
            self.report(f"`{expression}`: {note}", path, step, input, severity="note")
        return result

    def check_step(self, index: int, step: dict[str, Any], later: list[str]) -> None:
        step_id = str(step["id"])
        at = ("steps", index)
        self.roots[step_id] = self.root(later)
        action = self.pack.actions.get(step["action"])
        if action is None:
            known = ", ".join(sorted(self.pack.actions))
            self.report(
                f"unknown action {step['action']!r} (known: {known})", (*at, "action"), step_id
            )
            self.outputs[step_id] = types.UNKNOWN
            return
        guarded = "if" in step
        if guarded:
            for path, expression, _ in document.expressions(step["if"], (*at, "if")):
                self.type_of(expression, later, path, step_id, None)
        schema = schemas.inlined(action.input)
        properties = schema.get("properties", {})
        given = step.get("with") or {}
        for name in given:
            if name not in properties:
                self.report(
                    f"unknown input for {action.name} (inputs: {', '.join(sorted(properties))})",
                    (*at, "with", name),
                    step_id,
                    name,
                )
        for name in schema.get("required", []):
            if name not in given:
                self.report(
                    f"missing required input of {action.name}", (*at, "with"), step_id, name
                )
        for name, value in given.items():
            if name in properties:
                self.check_value(
                    action,
                    name,
                    value,
                    properties[name],
                    later,
                    (*at, "with", name),
                    step_id,
                    guarded,
                )
        output = schemas.inlined(action.output)
        fields = given.get("fields")
        if isinstance(fields, list) and all(isinstance(f, str) for f in fields):
            for name, close in unknown_fields(fields):
                hint = f"; did you mean {close!r}?" if close else ""
                self.report(
                    f"{name!r} is not a Machine field{hint}",
                    (*at, "with", "fields"),
                    step_id,
                    "fields",
                )
            output = types.narrow(output, ["id", *fields], f"step {step_id!r} keeps only")
        self.outputs[step_id] = types.nullable(output) if guarded else output

    def check_value(
        self,
        action: manifest_module.Action,
        name: str,
        value: Any,
        target: types.Schema,
        later: list[str],
        path: tuple[Any, ...],
        step: str,
        guarded: bool,
    ) -> None:
        found = list(document.expressions(value, path))
        if not found:
            literal = validation.schema_set().inline(
                {"$ref": schemas.uri(action.input) + "#/properties/" + name},
                schemas.uri(f"playbooks/literal-{name}.json"),
            )
            if not literal.is_valid(value):
                _, rule = literal.explain(value)
                self.report(f"the value {value!r} {rule}", path, step, name)
            return
        source = self.value_type(value, later, path, step, name)
        if source is None:
            return
        for problem in types.fits(source, target, guarded):
            self.report(problem, path, step, name)

    def value_type(
        self, value: Any, later: list[str], path: tuple[Any, ...], step: str, name: str
    ) -> types.Schema | None:
        if isinstance(value, str):
            whole = document.WHOLE.match(value)
            if whole:
                return self.type_of(whole.group(1), later, path, step, name)
            for _, expression, _ in document.expressions(value, path):
                if self.type_of(expression, later, path, step, name) is None:
                    return None
            return {"type": "string"}
        if isinstance(value, dict):
            properties = {}
            for key, item in value.items():
                item_type = self.value_type(item, later, (*path, key), step, name)
                if item_type is None:
                    return None
                properties[key] = item_type
            return {"type": "object", "properties": properties}
        if isinstance(value, list):
            items = [
                self.value_type(item, later, (*path, i), step, name) for i, item in enumerate(value)
            ]
            if any(item is None for item in items):
                return None
            return {
                "type": "array",
                "items": types.union([i for i in items if i is not None]),
                "minItems": len(items),
            }
        return {"const": value}
