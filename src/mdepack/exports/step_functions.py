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

This module builds the states; `mdepack.exports.asl_expressions` translates the expressions in
them (paths, `States.Format`, `States.Array`, Choice rules) and refuses, naming the step and the
expression, what has no translation (functions, filters, `||` defaults).
"""

from __future__ import annotations

import re
from typing import Any

from mdepack import manifest as manifest_module
from mdepack import validation
from mdepack.errors import InputError
from mdepack.exports.asl_expressions import NAME, condition, parameters, untranslatable
from mdepack.playbook import checker, document, types
from mdepack.playbook.document import Playbook
from mdepack.playbook.empty import empty_output

_ARN = re.compile(
    r"^arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]{1,64}(?::[A-Za-z0-9_$-]+)?$"
)
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


def export(name_or_path: str, function_arn: str) -> dict[str, Any]:
    """The state machine of a playbook (a path or a shipped playbook's name)."""
    return _exported(name_or_path, function_arn)[1]


def _exported(name_or_path: str, function_arn: str) -> tuple[Playbook, dict[str, Any]]:
    """The playbook, loaded and checked once, and its state machine."""
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
    return playbook, _Machine(playbook, function_arn, roots).build()


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
            "Parameters": parameters(outputs, "outputs"),
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
                "Choices": [{**condition(step["if"], step_id, self.roots[step_id]), "Next": name}],
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
                "input": parameters(step.get("with") or {}, f"step {step_id!r}"),
            },
            "ResultPath": f"$.steps.{step_id}",
            "Retry": RETRY,
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Failed"}],
            "Next": following,
        }

    def _state_name(self, step: dict[str, Any]) -> str:
        step_id = str(step["id"])
        if not NAME.match(step_id) or step_id in ("Inputs", "Outputs", "Failed", "Defaults"):
            raise untranslatable(
                f"step {step_id!r}: a step id must be a plain name to become a state",
                field="steps",
                rule="a plain step id",
            )
        return step_id


def sam_template(name_or_path: str, function_arn: str) -> dict[str, Any]:
    """The state machine as a SAM template: one `AWS::Serverless::StateMachine` whose role may
    invoke the pack's function (that ARN, and its versions and aliases) and nothing else."""
    playbook, definition = _exported(name_or_path, function_arn)
    logical = "".join(p.capitalize() for p in re.split(r"[^A-Za-z0-9]+", playbook.name) if p)
    invoke = [function_arn] if function_arn.count(":") > 6 else [function_arn, f"{function_arn}:*"]
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Transform": "AWS::Serverless-2016-10-31",
        "Description": f"mdepack playbook {playbook.name} as a Step Functions state machine "
        "running each step on the pack's Lambda function (mdepack export step-functions --sam).",
        "Resources": {
            f"{logical}StateMachine": {
                "Type": "AWS::Serverless::StateMachine",
                "Properties": {
                    "Type": "STANDARD",
                    "Definition": definition,
                    "Policies": [
                        {
                            "Version": "2012-10-17",
                            "Statement": [
                                {
                                    "Effect": "Allow",
                                    "Action": "lambda:InvokeFunction",
                                    "Resource": invoke,
                                }
                            ],
                        }
                    ],
                },
            }
        },
        "Outputs": {
            "StateMachineArn": {
                "Description": "The state machine to start with the playbook's inputs.",
                "Value": {"Ref": f"{logical}StateMachine"},
            }
        },
    }
