"""`mdepack playbook check|run|list`."""

from __future__ import annotations

import argparse
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
