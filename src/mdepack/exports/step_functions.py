"""`mdepack export step-functions PLAYBOOK --function-arn ARN`: a playbook as an Amazon States
Language state machine (JSONPath query language) that runs each step on the pack's Lambda
handler.

- `Inputs`: a Pass state merging the playbook's input defaults under the execution's input
  (`States.JsonMerge`), so `$.inputs` holds what the pack's own runner would see.
- Each step: a Task invoking the function with `{"action": NAME, "input": {...}}`, its result at
  `$.steps.<id>`; `Retry` on the pack's retryable errors (`TransientError`, `RateLimitError`) and
  Lambda's own, with capped, jittered backoff; `Catch` to a `Failed` state that keeps the typed
  error (`ErrorPath`). A step with `if` gets a Choice before it; when skipped, a Pass writes the
  action's typed empty output, as the pack's runner does.
- `Outputs`: a final Pass state with the playbook's outputs.

Expressions translate when they are a path from `inputs` or `steps` (fields, `[n]`, `[]`, `[*]`:
`steps.related.machines[].id` → `$.steps.related.machines[*].id`), a string with such paths
embedded (`States.Format`), or, in `if`, comparisons of a path with a literal, a boolean path,
`&&`, `||` and `!`. Anything else (functions, filters, `||` defaults, literals in lists) is refused
with the step and the expression named.
"""

from __future__ import annotations

import json
import re
from typing import Any

import jmespath

from mdepack import manifest as manifest_module
from mdepack import validation
from mdepack.errors import InputError
from mdepack.playbook import checker, document, types
from mdepack.playbook.document import Playbook
from mdepack.playbook.empty import empty_output

_ARN = re.compile(
    r"^arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]{1,64}(?::[A-Za-z0-9_$-]+)?$"
)
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# A field name written in brackets, ['name']: nothing that could close the quote or the bracket.
_BRACKETED = re.compile(r"^[A-Za-z0-9_@ -]+$")
RETRY = [
    {
        "ErrorEquals": ["RateLimitError"],
        "IntervalSeconds": 30,
        "MaxAttempts": 3,
        "BackoffRate": 2.0,
        "MaxDelaySeconds": 300,
        "JitterStrategy": "FULL",
    },
    {
        "ErrorEquals": [
            "TransientError",
            "Lambda.ServiceException",
            "Lambda.AWSLambdaException",
            "Lambda.SdkClientException",
            "Lambda.TooManyRequestsException",
        ],
        "IntervalSeconds": 2,
        "MaxAttempts": 4,
        "BackoffRate": 2.0,
        "MaxDelaySeconds": 60,
        "JitterStrategy": "FULL",
    },
]
COMPARISONS = {
    "gt": "GreaterThan",
    "gte": "GreaterThanEquals",
    "lt": "LessThan",
    "lte": "LessThanEquals",
    "eq": "Equals",
}
FLIPPED = {"gt": "lt", "gte": "lte", "lt": "gt", "lte": "gte", "eq": "eq", "ne": "ne"}


def _untranslatable(message: str, *, field: str, rule: str) -> InputError:
    """The error for a playbook construct the state machine cannot express (exit 2)."""
    return InputError(message, field=field, rule=rule)


def export(name_or_path: str, function_arn: str) -> dict[str, Any]:
    """The state machine of a playbook (a path or a shipped playbook's name)."""
    if not _ARN.match(function_arn):
        raise InputError(
            f"--function-arn: {function_arn!r} is not a Lambda function ARN "
            "(arn:aws:lambda:REGION:ACCOUNT:function:NAME)",
            field="function_arn",
            rule="a Lambda function ARN",
        )
    playbook = document.load(document.find(name_or_path))
    found, roots = checker.analyse(playbook)
    problems = checker.errors(found)
    if problems:
        raise InputError(
            f"{playbook.path}: fails the check: {problems[0]}",
            field="playbook",
            rule="must pass the static check",
        )
    return _Machine(playbook, function_arn, roots).build()


class _Machine:
    def __init__(
        self, playbook: Playbook, function_arn: str, roots: dict[str, types.Schema]
    ) -> None:
        self.playbook = playbook
        self.arn = function_arn
        self.roots = roots  # what the check knows of the values each step's expressions read
        self.states: dict[str, Any] = {}
        self.pack = manifest_module.load()

    def build(self) -> dict[str, Any]:
        steps = self.playbook.steps
        names = [self._state_name(step) for step in steps]
        entries = [f"If {n}" if "if" in s else n for n, s in zip(names, steps, strict=True)]
        self.states["Inputs"] = self._inputs(entries[0] if entries else "Outputs")
        for index, step in enumerate(steps):
            following = entries[index + 1] if index + 1 < len(steps) else "Outputs"
            self._step(step, names[index], following)
        outputs = self.playbook.document.get("outputs") or {}
        self.states["Outputs"] = {
            "Type": "Pass",
            "Parameters": self._parameters(outputs, "outputs"),
            "End": True,
        }
        self.states["Failed"] = {
            "Type": "Fail",
            "Comment": "A step failed after its retries; the error is the pack's typed error.",
            "ErrorPath": "$.error.Error",
            "CausePath": "$.error.Cause",
        }
        description = str(self.playbook.document.get("description", "")).strip()
        return {
            "Comment": f"mdepack playbook {self.playbook.name}: {description}".strip(": "),
            "QueryLanguage": "JSONPath",
            "StartAt": "Defaults" if "Defaults" in self.states else "Inputs",
            "States": self.states,
        }

    def _inputs(self, following: str) -> dict[str, Any]:
        schema = self.playbook.document.get("inputs") or {}
        defaults = validation.apply_defaults(schema, {}, self.playbook.relative)
        if not defaults:
            return {"Type": "Pass", "Parameters": {"inputs.$": "$", "steps": {}}, "Next": following}
        self.states["Defaults"] = {
            "Type": "Pass",
            "Comment": "The playbook's input defaults; the execution's input wins.",
            "Parameters": {"defaults": defaults, "given.$": "$"},
            "Next": "Inputs",
        }
        return {
            "Type": "Pass",
            "Parameters": {
                "inputs.$": "States.JsonMerge($.defaults, $.given, false)",
                "steps": {},
            },
            "Next": following,
        }

    def _step(self, step: dict[str, Any], name: str, following: str) -> None:
        step_id, action = str(step["id"]), str(step["action"])
        if "if" in step:
            self.states[f"If {name}"] = {
                "Type": "Choice",
                "Choices": [{**self._condition(step["if"], step_id), "Next": name}],
                "Default": f"Skip {name}",
            }
            self.states[f"Skip {name}"] = {
                "Type": "Pass",
                "Comment": "Skipped: the action's typed empty output, as the pack's runner gives.",
                "Result": empty_output(action),
                "ResultPath": f"$.steps.{step_id}",
                "Next": following,
            }
        self.states[name] = {
            "Type": "Task",
            "Comment": self.pack.action(action).description,
            "Resource": self.arn,
            "Parameters": {
                "action": action,
                "input": self._parameters(step.get("with") or {}, f"step {step_id!r}"),
            },
            "ResultPath": f"$.steps.{step_id}",
            "Retry": RETRY,
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Failed"}],
            "Next": following,
        }

    def _state_name(self, step: dict[str, Any]) -> str:
        step_id = str(step["id"])
        if not _NAME.match(step_id) or step_id in ("Inputs", "Outputs", "Failed", "Defaults"):
            raise _untranslatable(
                f"step {step_id!r}: a step id must be a plain name to become a state",
                field="steps",
                rule="a plain step id",
            )
        return step_id

    # -- values -----------------------------------------------------------------------------

    def _parameters(self, values: dict[str, Any], where: str) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in values.items():
            if str(key).endswith(".$"):
                # ASL reads a key ending in .$ as a path to evaluate, not as a literal name.
                raise _untranslatable(
                    f"{where}: the key {key!r} ends in '.$', which a state machine evaluates as "
                    "a path; rename it",
                    field="with",
                    rule="keys that do not end in .$",
                )
            translated = self._value(value, f"{where}, {key}")
            if isinstance(translated, _Path):
                result[f"{key}.$"] = translated.text
            else:
                result[key] = translated
        return result

    def _value(self, value: Any, where: str) -> Any:
        if isinstance(value, dict):
            return self._parameters(value, where)
        if isinstance(value, list):
            if not any(list(document.expressions(item)) for item in value):
                return value
            # A list built from expressions becomes States.Array over its items.
            items = ", ".join(self._argument(item, where) for item in value)
            return _Path(f"States.Array({items})")
        if not isinstance(value, str):
            return value
        whole = document.WHOLE.match(value)
        if whole:
            return _Path(jsonpath(whole.group(1), where))
        embedded = list(document.EMBEDDED.finditer(value))
        if not embedded:
            return value
        template, paths, at = "", [], 0
        for match in embedded:
            template += _escape(value[at : match.start()]) + "{}"
            paths.append(jsonpath(match.group(1), where))
            at = match.end()
        template += _escape(value[at:])
        return _Path(f"States.Format('{template}', {', '.join(paths)})")

    def _argument(self, item: Any, where: str) -> str:
        """One item of a list as an intrinsic-function argument: a path or a literal."""
        if isinstance(item, str):
            whole = document.WHOLE.match(item)
            if whole:
                return jsonpath(whole.group(1), where)
            if not list(document.expressions(item)):
                return f"'{_escape(item)}'"
        elif item is None or isinstance(item, bool | int | float):
            return json.dumps(item)
        raise _untranslatable(
            f"{where}: a list item must be one ${{{{ }}}} expression or a plain value to "
            "become a state's parameter; give the whole list as one expression",
            field="with",
            rule="translatable to Amazon States Language",
        )

    # -- conditions -------------------------------------------------------------------------

    def _condition(self, value: Any, step_id: str) -> dict[str, Any]:
        whole = document.WHOLE.match(value) if isinstance(value, str) else None
        if whole is None:
            raise _untranslatable(
                f"step {step_id!r}: `if` must be one ${{{{ }}}} expression",
                field="if",
                rule="translatable to Amazon States Language",
            )
        return self._rule(jmespath.compile(whole.group(1)).parsed, whole.group(1), step_id)

    def _rule(self, node: dict[str, Any], text: str, step_id: str) -> dict[str, Any]:
        kind = node["type"]
        children = node.get("children", [])
        if kind == "and_expression":
            return {"And": [self._rule(c, text, step_id) for c in children]}
        if kind == "or_expression":
            return {"Or": [self._rule(c, text, step_id) for c in children]}
        if kind == "not_expression":
            return {"Not": self._rule(children[0], text, step_id)}
        if kind == "comparator":
            return self._comparison(node, text, step_id)
        path = _path_of(node, text, f"step {step_id!r}, if")
        kind_of = types.json_types(types.infer(node, self.roots[step_id], types.Context()))
        if kind_of == {"boolean"}:
            return _present(path, {"Variable": path, "BooleanEquals": True})
        raise _untranslatable(
            f"step {step_id!r}, if: `{text}` is {' or '.join(sorted(kind_of))}, not a boolean: "
            "compare it explicitly (e.g. `count > `0``)",
            field="if",
            rule="translatable to Amazon States Language",
        )

    def _comparison(self, node: dict[str, Any], text: str, step_id: str) -> dict[str, Any]:
        op = node["value"]
        left, right = node["children"]
        if left["type"] == "literal" and right["type"] != "literal":
            left, right, op = right, left, FLIPPED[op]
        if right["type"] != "literal":
            raise _untranslatable(
                f"step {step_id!r}, if: `{text}` compares two paths; compare a path with a literal",
                field="if",
                rule="translatable to Amazon States Language",
            )
        path = _path_of(left, text, f"step {step_id!r}, if")
        literal = right["value"]
        if isinstance(literal, bool):
            family = "Boolean"
        elif isinstance(literal, (int, float)):
            family = "Numeric"
        elif isinstance(literal, str):
            family = "String"
        else:
            raise _untranslatable(
                f"step {step_id!r}, if: `{text}` compares with {json.dumps(literal)}",
                field="if",
                rule="translatable to Amazon States Language",
            )
        if family == "Boolean" and op not in ("eq", "ne"):
            raise _untranslatable(
                f"step {step_id!r}, if: `{text}` orders booleans",
                field="if",
                rule="translatable to Amazon States Language",
            )
        rule = {"Variable": path, f"{family}{COMPARISONS['eq' if op == 'ne' else op]}": literal}
        return _present(path, {"Not": rule} if op == "ne" else rule)


class _Path:
    """A JSONPath (or intrinsic function) standing for a value: its key takes `.$`."""

    def __init__(self, text: str) -> None:
        self.text = text


def jsonpath(expression: str, where: str) -> str:
    """The JSONPath of a JMESPath path from `inputs` or `steps`; InputError when there is none."""
    return _path_of(jmespath.compile(expression).parsed, expression, where)


def _path_of(node: dict[str, Any], text: str, where: str) -> str:
    parts = _parts(node, text, where)
    if not parts or parts[0] not in (".inputs", ".steps"):
        raise _untranslatable(
            f"{where}: `{text}` must start at inputs or steps",
            field="with",
            rule="translatable to Amazon States Language",
        )
    return "$" + "".join(parts)


def _parts(node: dict[str, Any], text: str, where: str) -> list[str]:
    kind = node["type"]
    children = node.get("children", [])
    if kind == "field":
        name = str(node["value"])
        if _NAME.match(name):
            return [f".{name}"]
        if _BRACKETED.match(name):
            return [f"['{name}']"]
        raise _untranslatable(
            f"{where}: the field name {name!r} in `{text}` cannot be written in a JSONPath safely; "
            "use letters, digits, _, -, @ and spaces",
            field="with",
            rule="field names of letters, digits, _, -, @ and spaces",
        )
    if kind == "subexpression":
        return [p for child in children for p in _parts(child, text, where)]
    if kind == "index_expression" and children[1]["type"] == "index":
        return [*_parts(children[0], text, where), f"[{int(children[1]['value'])}]"]
    if kind == "flatten":
        return [*_parts(children[0], text, where), "[*]"]
    if kind == "projection":
        left = children[0]
        head = (
            _parts(left, text, where)
            if left["type"] == "flatten"
            else [
                *_parts(left, text, where),
                "[*]",
            ]
        )
        right = children[1]
        return head if right["type"] == "identity" else [*head, *_parts(right, text, where)]
    raise _untranslatable(
        f"{where}: `{text}` uses {kind.replace('_', ' ')}, which has no JSONPath form; "
        "keep to paths (a.b, a[0], a[].b)",
        field="with",
        rule="translatable to Amazon States Language",
    )


def _present(path: str, rule: dict[str, Any]) -> dict[str, Any]:
    return {"And": [{"Variable": path, "IsPresent": True}, rule]}


def _escape(text: str) -> str:
    # Intrinsic-function string literals escape these four characters with a backslash.
    return re.sub(r"([\\'{}])", r"\\\1", text)
