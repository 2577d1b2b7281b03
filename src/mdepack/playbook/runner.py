"""`mdepack playbook run`: validate the inputs, run the steps in order through `invoke`, skip a
step whose `if` is falsy, stop at the first failure naming the step, and report each step's
status, time and API calls."""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import jmespath

from mdepack import schemas, spelling, validation
from mdepack.client import ApiClient
from mdepack.config import Config
from mdepack.errors import MdepackError
from mdepack.invoke import invoke
from mdepack.playbook import document
from mdepack.playbook.document import Playbook
from mdepack.playbook.empty import empty_output


@dataclass
class StepReport:
    """How one step went."""

    id: str
    action: str
    status: str
    seconds: float = 0.0
    calls: int = 0

    def line(self) -> str:
        """One line of the report."""
        return f"  {self.id:<16} {self.action:<20} {self.status:<8} {self.seconds:6.2f}s  {self.calls} API call{'s' if self.calls != 1 else ''}"


@dataclass
class RunResult:
    """The playbook's outputs and the per-step report."""

    outputs: dict[str, Any]
    steps: list[StepReport] = field(default_factory=list)

    @property
    def calls(self) -> int:
        """API calls made by all steps."""
        return sum(step.calls for step in self.steps)


@functools.lru_cache(maxsize=256)
def _compiled(expression: str) -> Any:
    return jmespath.compile(expression)


def run_file(
    name_or_path: str | Path,
    inputs: Any,
    *,
    client: ApiClient | None = None,
    report: TextIO | None = None,
) -> RunResult:
    """Load a playbook (a path, or a shipped playbook's name) and run it."""
    return run(document.load(document.find(name_or_path)), inputs, client=client, report=report)


def run(
    playbook: Playbook,
    inputs: Any,
    *,
    client: ApiClient | None = None,
    report: TextIO | None = None,
) -> RunResult:
    """Run a loaded playbook. Raises the failing step's error, naming the step."""
    schema = playbook.document.get("inputs") or {"type": "object"}
    if isinstance(inputs, dict):  # `block` or `Block`: enum values in any case
        spelt = spelling.enum_spellings(schemas.inline(schema, playbook.base_uri))
        inputs = spelling.respelt(inputs, spelt)
    validation.schema_set().inline(schema, playbook.base_uri).check_input(inputs, where="inputs")
    # Defaults of the inputs apply, so `dry_run: {default: true}` means a dry run unless asked.
    inputs = validation.apply_defaults(schema, inputs, playbook.relative)
    context: dict[str, Any] = {"inputs": inputs, "steps": {}}
    result = RunResult({})
    api: ApiClient | None = client

    def evaluate(expression: str) -> Any:
        return _compiled(expression).search(context)

    if report:
        report.write(f"playbook {playbook.name}\n")
    for step in playbook.steps:
        step_id, action = str(step["id"]), str(step["action"])
        entry = StepReport(step_id, action, "skipped")
        result.steps.append(entry)
        if "if" in step and not _truthy(document.render(step["if"], evaluate)):
            # A skipped step's outputs are typed empties ([], 0, false), as engines expect.
            context["steps"][step_id] = empty_output(action)
            if report:
                report.write(entry.line() + "\n")
            continue
        api = api or ApiClient(Config.from_env())
        before, started = api.calls, time.perf_counter()
        try:
            output = invoke(action, document.render(step.get("with") or {}, evaluate), client=api)
            context["steps"][step_id] = output
            entry.status = "dry run" if output.get("dry_run") is True else "ok"
        except MdepackError as error:
            entry.status = "failed"
            raise _named(error, step_id, action, result) from None
        finally:
            entry.seconds = time.perf_counter() - started
            entry.calls = api.calls - before
            if report:
                report.write(entry.line() + "\n")
    result.outputs = document.render(playbook.document.get("outputs") or {}, evaluate)
    if report:
        report.write(f"  {result.calls} API calls in all\n")
    return result


def _named(error: MdepackError, step_id: str, action: str, result: RunResult) -> MdepackError:
    # The report is read when the error is shown, after the step's time and calls are filled in.
    return error.with_context(
        prefix=f"step {step_id!r} ({action}): ", step=step_id, steps=result.steps
    )


def _truthy(value: Any) -> bool:
    # JMESPath truthiness: empty strings, lists and objects are false, as are false and null.
    return value not in (None, False, "", [], {})
