"""Golden tests for the ASL interpreter the Step Functions tests use, from the examples in AWS's
Step Functions guide ("Handling errors in Step Functions workflows"), so the round trip does not
rest on the interpreter agreeing with the exporter alone."""

from __future__ import annotations

from typing import Any

import pytest
from asl import execute


class ErrorA(Exception):
    pass


class ErrorB(Exception):
    pass


class ErrorC(Exception):
    pass


class Timeout(Exception):
    pass


def failing(*errors: type[Exception], result: Any = "done") -> tuple[Any, list[str]]:
    """A task that raises `errors` in turn, then returns `result`; and the calls it saw."""
    queue, seen = list(errors), []

    def task(resource: str, payload: Any) -> Any:
        seen.append(resource)
        if queue:
            raise queue.pop(0)("failed")
        return result

    return task, seen


def machine(retry: list[dict[str, Any]], catch: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "StartAt": "X",
        "States": {
            "X": {
                "Type": "Task",
                "Resource": "arn:aws:states:us-east-1:123456789012:task:X",
                "Retry": retry,
                "Catch": catch,
                "ResultPath": "$.x",
                "End": True,
            },
            "Z": {"Type": "Pass", "Result": "caught", "ResultPath": "$.z", "End": True},
        },
    }


# The guide's "complex retry scenario": two retriers and a catch-all.
COMPLEX = machine(
    [
        {
            "ErrorEquals": ["ErrorA", "ErrorB"],
            "IntervalSeconds": 1,
            "BackoffRate": 2.0,
            "MaxAttempts": 2,
        },
        {"ErrorEquals": ["ErrorC"], "IntervalSeconds": 5},
    ],
    [{"ErrorEquals": ["States.ALL"], "Next": "Z"}],
)


def test_a_spent_retrier_sends_the_error_to_catch() -> None:
    # ErrorA, ErrorB, ErrorC, ErrorB: waits of 1 and 2 s (first retrier), 5 s (second), and the
    # fourth error matches the first retrier, whose two attempts are spent: on to Catch (Z).
    task, seen = failing(ErrorA, ErrorB, ErrorC, ErrorB)
    waits: list[float] = []
    final = execute(COMPLEX, {}, task, waits)
    assert final["z"] == "caught" and "x" not in final
    assert waits == [1, 2, 5] and len(seen) == 4


def test_a_later_matching_retrier_is_not_asked() -> None:
    spent_first = machine(
        [
            {"ErrorEquals": ["ErrorA"], "MaxAttempts": 1},
            {"ErrorEquals": ["States.ALL"], "MaxAttempts": 3},
        ],
        [{"ErrorEquals": ["States.ALL"], "Next": "Z"}],
    )
    task, seen = failing(ErrorA, ErrorA, ErrorA, ErrorA)
    assert execute(spent_first, {}, task)["z"] == "caught"
    assert len(seen) == 2  # one try and one retry: AWS does not fall through to States.ALL


def test_retries_succeed_within_max_attempts_and_defaults_apply() -> None:
    # The guide's first example: retry States.Timeout twice, 3 s then 4.5 s.
    timeout = machine(
        [
            {
                "ErrorEquals": ["Timeout"],
                "IntervalSeconds": 3,
                "MaxAttempts": 2,
                "BackoffRate": 1.5,
            }
        ],
        [],
    )
    task, seen = failing(Timeout, Timeout)
    waits: list[float] = []
    assert execute(timeout, {}, task, waits)["x"] == "done"
    assert waits == [3, 4.5] and len(seen) == 3
    defaults = machine([{"ErrorEquals": ["ErrorA"]}], [])
    task, seen = failing(ErrorA, ErrorA, ErrorA, ErrorA)
    waits = []
    with pytest.raises(ErrorA):
        execute(defaults, {}, task, waits)
    assert waits == [1, 2, 4] and len(seen) == 4  # MaxAttempts 3, IntervalSeconds 1, rate 2


def test_max_attempts_zero_never_retries_and_max_delay_caps() -> None:
    never = machine(
        [{"ErrorEquals": ["ErrorA"], "MaxAttempts": 0}],
        [{"ErrorEquals": ["ErrorA"], "Next": "Z"}],
    )
    task, seen = failing(ErrorA)
    assert execute(never, {}, task)["z"] == "caught" and len(seen) == 1
    capped = machine(
        [{"ErrorEquals": ["ErrorA"], "IntervalSeconds": 4, "MaxAttempts": 3, "MaxDelaySeconds": 6}],
        [],
    )
    task, _ = failing(ErrorA, ErrorA, ErrorA)
    waits: list[float] = []
    execute(capped, {}, task, waits)
    assert waits == [4, 6, 6]


def test_an_uncaught_error_fails_the_execution() -> None:
    task, _ = failing(ErrorC, ErrorC, ErrorC, ErrorC)
    only_c = machine([{"ErrorEquals": ["ErrorC"], "MaxAttempts": 1}], [])
    with pytest.raises(ErrorC):
        execute(only_c, {}, task)
