"""A small interpreter for the subset of Amazon States Language (JSONPath) that
`mdepack export step-functions` writes: Pass, Choice, Task, Fail; Parameters with paths and the
intrinsics States.JsonMerge, States.Format and States.Array; ResultPath; Retry (its waits
recorded, not slept) and Catch, checked against AWS's own examples in tests/test_asl.py. It lets the tests run an exported state machine against the emulator with the Lambda handler
in-process, since there is no AWS here."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from typing import Any

_TOKEN = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\['([^']*)'\]|\[(\d+)\]|\[\*\]")


class ExecutionFailed(Exception):
    """The machine reached a Fail state."""

    def __init__(self, error: str, cause: str) -> None:
        super().__init__(f"{error}: {cause}")
        self.error, self.cause = error, cause


def get(document: Any, path: str) -> Any:
    """The value at a JSONPath such as `$.steps.a.machines[*].id`; KeyError when absent."""
    if not path.startswith("$"):
        raise ValueError(path)
    values, many = [document], False
    for match in _TOKEN.finditer(path[1:]):
        name, quoted, index = match.groups()
        if match.group(0) == "[*]":
            values = [item for value in values for item in value]
            many = True
        elif index is not None:
            values = [value[int(index)] for value in values]
        else:
            key = name if name is not None else quoted
            values = [value[key] for value in values]
    return values if many else values[0]


def put(document: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of `document` with `value` at a ResultPath such as `$.steps.a`."""
    if path == "$":
        return value  # type: ignore[no-any-return]
    result = copy.deepcopy(document)
    keys = [m.group(1) for m in _TOKEN.finditer(path[1:])]
    node = result
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    node[keys[-1]] = value
    return result


def parameters(template: Any, state: Any) -> Any:
    """Parameters resolved against the state's input."""
    if isinstance(template, list):
        return [parameters(item, state) for item in template]
    if not isinstance(template, dict):
        return template
    result = {}
    for key, value in template.items():
        if key.endswith(".$"):
            result[key[:-2]] = _expression(value, state)
        else:
            result[key] = parameters(value, state)
    return result


def _expression(text: str, state: Any) -> Any:
    if text.startswith("States.JsonMerge("):
        first, second, _deep = _arguments(text)
        return {**get(state, first), **get(state, second)}
    if text.startswith("States.Format("):
        template, *paths = _arguments(text)
        values = [get(state, p) for p in paths]
        pieces = re.split(r"(?<!\\)\{\}", template[1:-1])
        out = pieces[0]
        for value, piece in zip(values, pieces[1:], strict=True):
            out += (value if isinstance(value, str) else json.dumps(value)) + piece
        return re.sub(r"\\(.)", r"\1", out)
    if text.startswith("States.Array("):
        return [_literal(argument, state) for argument in _arguments(text)]
    return get(state, text)


def _literal(argument: str, state: Any) -> Any:
    if argument.startswith("$"):
        return get(state, argument)
    if argument.startswith("'"):
        return re.sub(r"\\(.)", r"\1", argument[1:-1])
    return json.loads(argument)


def _arguments(text: str) -> list[str]:
    inner = text[text.index("(") + 1 : -1]
    return [a.strip() for a in re.findall(r"'(?:\\.|[^'])*'|[^,]+", inner)]


def matches(rule: dict[str, Any], state: Any) -> bool:
    """A Choice rule's verdict."""
    if "And" in rule:
        return all(matches(r, state) for r in rule["And"])
    if "Or" in rule:
        return any(matches(r, state) for r in rule["Or"])
    if "Not" in rule:
        return not matches(rule["Not"], state)
    if "IsPresent" in rule:
        try:
            get(state, rule["Variable"])
            present = True
        except (KeyError, IndexError, TypeError):
            present = False
        return present == rule["IsPresent"]
    value = get(state, rule["Variable"])
    for family, kind in (("Boolean", bool), ("Numeric", (int, float)), ("String", str)):
        for test, compare in (
            ("Equals", lambda a, b: a == b),
            ("GreaterThan", lambda a, b: a > b),
            ("GreaterThanEquals", lambda a, b: a >= b),
            ("LessThan", lambda a, b: a < b),
            ("LessThanEquals", lambda a, b: a <= b),
        ):
            if f"{family}{test}" in rule:
                return isinstance(value, kind) and bool(compare(value, rule[f"{family}{test}"]))
    raise ValueError(f"unsupported rule {rule}")


def execute(
    machine: dict[str, Any],
    given: Any,
    task: Callable[[str, Any], Any],
    waits: list[float] | None = None,
) -> Any:
    """Run the machine on `given`; `task(resource, payload)` runs a Task's function. The retry
    waits it would make are appended to `waits`."""
    states = machine["States"]
    name, state = machine["StartAt"], given
    for _ in range(1000):
        spec = states[name]
        kind = spec["Type"]
        if kind == "Fail":
            raise ExecutionFailed(get(state, spec["ErrorPath"]), get(state, spec["CausePath"]))
        if kind == "Choice":
            name = next((c["Next"] for c in spec["Choices"] if matches(c, state)), spec["Default"])
            continue
        if kind == "Pass":
            result = (
                parameters(spec["Parameters"], state)
                if "Parameters" in spec
                else spec.get("Result", state)
            )
            state = put(state, spec.get("ResultPath", "$"), result)
        elif kind == "Task":
            payload = parameters(spec.get("Parameters", state), state)
            caught = _run_task(spec, payload, task, waits)
            if isinstance(caught, _Caught):
                state = put(state, caught.result_path, caught.error)
                name = caught.next
                continue
            state = put(state, spec.get("ResultPath", "$"), caught)
        else:
            raise ValueError(f"unsupported state type {kind}")
        if spec.get("End"):
            return state
        name = spec["Next"]
    raise RuntimeError("the machine did not end")


class _Caught:
    def __init__(self, error: dict[str, str], result_path: str, next_: str) -> None:
        self.error, self.result_path, self.next = error, result_path, next_


def _run_task(
    spec: dict[str, Any],
    payload: Any,
    task: Callable[[str, Any], Any],
    waits: list[float] | None = None,
) -> Any:
    """The task's result, after its retriers; or where its catcher sends the error.

    As AWS evaluates them: the first retrier whose ErrorEquals matches the error is the one that
    applies; once its MaxAttempts are spent the error goes to Catch (a later retrier that also
    matches is not asked). Each retrier counts its own attempts, and its n-th wait is
    IntervalSeconds (default 1) x BackoffRate (default 2) ** (n - 1), capped by MaxDelaySeconds;
    the waits are recorded in `waits`, not slept.
    """
    attempts: dict[int, int] = {}
    while True:
        try:
            return task(spec["Resource"], payload)
        except Exception as error:
            name = type(error).__name__
            matching = next(
                (
                    (index, retrier)
                    for index, retrier in enumerate(spec.get("Retry", []))
                    if _matches(retrier, name)
                ),
                None,
            )
            if matching is not None:
                index, retrier = matching
                attempts[index] = attempts.get(index, 0) + 1
                if attempts[index] <= retrier.get("MaxAttempts", 3):
                    wait = retrier.get("IntervalSeconds", 1) * retrier.get("BackoffRate", 2.0) ** (
                        attempts[index] - 1
                    )
                    if "MaxDelaySeconds" in retrier:
                        wait = min(wait, retrier["MaxDelaySeconds"])
                    if waits is not None:
                        waits.append(wait)
                    continue
            cause = json.dumps({"errorType": name, "errorMessage": str(error)})
            for catcher in spec.get("Catch", []):
                if _matches(catcher, name):
                    return _Caught(
                        {"Error": name, "Cause": cause},
                        catcher.get("ResultPath", "$"),
                        catcher["Next"],
                    )
            raise


def _matches(rule: dict[str, Any], name: str) -> bool:
    return name in rule["ErrorEquals"] or "States.ALL" in rule["ErrorEquals"]
