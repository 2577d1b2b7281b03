"""`mdepack playbook check|run|list`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from mdepack.cli.inputs import INPUT_HELP, read_json_argument
from mdepack.cli.output import command_client, print_json, quiet, style_options
from mdepack.errors import InputError


def register(commands: Any, wants_help: bool) -> None:
    """Add `playbook` and its subcommands to the top-level subparsers."""
    playbook = commands.add_parser("playbook", help="check or run playbooks")
    playbook_commands = playbook.add_subparsers(required=True, metavar="SUBCOMMAND")
    check_ = playbook_commands.add_parser("check", help="check playbooks against the manifest")
    check_.add_argument(
        "playbooks", nargs="+", help="playbook files, or shipped playbooks by name (see list)"
    )
    check_.set_defaults(command=check)
    run_ = playbook_commands.add_parser("run", help="run a playbook", parents=[style_options()])
    run_.add_argument("playbook", help="a playbook file, or a shipped playbook's name")
    run_.add_argument("--input", default="{}", help=INPUT_HELP)
    run_.set_defaults(command=run)
    listed = playbook_commands.add_parser("list", help="the shipped playbooks")
    listed.set_defaults(command=list_playbooks)
    describe_ = playbook_commands.add_parser(
        "describe", help="a playbook's inputs, steps and outputs", parents=[style_options()]
    )
    describe_.add_argument("playbook", help="a playbook file, or a shipped playbook's name")
    describe_.add_argument("--json", action="store_true", help="as JSON")
    describe_.set_defaults(command=describe)


def check(args: argparse.Namespace) -> int:
    """Check each playbook; exit 2 when any fails."""
    from mdepack.playbook.checker import Problem, check_file, errors
    from mdepack.playbook.document import find

    failed = 0
    for name in args.playbooks:
        try:
            path = find(name)
        except InputError as error:
            path, problems = Path(name), [Problem(Path(name), None, error.message)]
        else:
            problems = check_file(path)
        for problem in problems:
            sys.stderr.write(f"{problem}\n")
        if errors(problems):
            failed += 1
        else:
            sys.stdout.write(f"{path}: ok\n")
    if failed:
        raise InputError(
            f"{failed} of {len(args.playbooks)} playbooks failed the check",
            field="playbook",
            rule="must pass the static check",
        )
    return 0


def list_playbooks(args: argparse.Namespace) -> int:
    """The shipped playbooks, a line each."""
    from mdepack.playbook.document import shipped

    for playbook in shipped():
        description = " ".join(str(playbook.document.get("description", "")).split())
        sys.stdout.write(f"{playbook.path.stem:<32} {description}\n")
    return 0


def describe(args: argparse.Namespace) -> int:
    """What a playbook takes, does and gives, before running it."""
    from mdepack.playbook.document import find, load

    described = description(load(find(args.playbook)))
    if args.json:
        print_json(described, args)
        return 0
    lines = [f"{described['name']}: {described['description']}", "", "inputs:"]
    for item in described["inputs"]:
        need = "required" if item["required"] else f"default {json.dumps(item.get('default'))}"
        lines.append(f"  {item['name']:<14} {item['type']:<24} {need}")
        if item["description"]:
            lines.append(f"  {'':<14} {item['description']}")
    lines += ["", "steps:"]
    for step in described["steps"]:
        when = f"  if {step['if']}" if "if" in step else ""
        lines.append(f"  {step['id']:<14} {step['action']} ({step['side_effects']}){when}")
    lines += ["", "outputs:"]
    lines += [f"  {name:<14} {expression}" for name, expression in described["outputs"].items()]
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def description(playbook: Any) -> dict[str, Any]:
    """A playbook's name, description, inputs (type, required, default, description), steps
    (action, side effects, condition) and outputs."""
    from mdepack import manifest, schemas

    inputs = schemas.inline(playbook.document.get("inputs") or {}, playbook.base_uri)
    required = set(inputs.get("required", []))
    pack = manifest.load()
    steps = []
    for step in playbook.steps:
        action = pack.actions.get(str(step.get("action")))
        entry = {
            "id": str(step.get("id")),
            "action": str(step.get("action")),
            "side_effects": action.side_effects if action else "unknown",
        }
        if "if" in step:
            entry["if"] = str(step["if"])
        steps.append(entry)
    return {
        "name": playbook.name,
        "description": " ".join(str(playbook.document.get("description", "")).split()),
        "inputs": [
            {
                "name": name,
                "type": _type_words(prop),
                "required": name in required,
                **({"default": prop["default"]} if "default" in prop else {}),
                "description": " ".join(str(prop.get("description", "")).split()),
            }
            for name, prop in (inputs.get("properties") or {}).items()
        ],
        "steps": steps,
        "outputs": {k: str(v) for k, v in (playbook.document.get("outputs") or {}).items()},
    }


def _type_words(prop: dict[str, Any]) -> str:
    if "enum" in prop:
        return "one of " + ", ".join(str(v) for v in prop["enum"])
    if prop.get("type") == "array":
        items = prop.get("items") or {}
        return f"list of {_type_words(items)}" if items else "list"
    if "type" in prop:
        return str(prop["type"])
    branches = prop.get("anyOf") or prop.get("oneOf") or []
    return " or ".join(dict.fromkeys(_type_words(b) for b in branches)) or "any"


def run(args: argparse.Namespace) -> int:
    """Run a playbook: outputs on stdout, each step's report on stderr."""
    from mdepack.playbook.runner import run_file

    inputs = read_json_argument(args.input)
    # Waits are told on stderr (and progress shown on a terminal); -q keeps stderr for errors.
    try:
        client = command_client(args)
    except InputError:
        client = None  # the runner refuses bad inputs first, then the configuration
    report = None if quiet(args) else sys.stderr
    result = run_file(args.playbook, inputs, client=client, report=report)
    print_json(result.outputs, args)
    return 0
