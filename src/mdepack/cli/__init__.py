"""The `mdepack` command: one module per command group, each with its parser and its handler.

    mdepack actions                       list the actions
    mdepack describe ACTION               its input and output schema
    mdepack run ACTION --input JSON       JSON text, @file, or - for stdin; output JSON on stdout
    mdepack playbook check PLAYBOOK...    static check against the manifest
    mdepack playbook run PLAYBOOK --input JSON
    mdepack emulator [--port N] [--state-dir DIR] [--machines N] [--seed S] [--data FILE]
    mdepack mcp [--allow-writes] [--actions A,B] [--http HOST:PORT]
    mdepack export openapi|step-functions ...
    mdepack bundle lambda|azure-functions ...
    mdepack doctor [--json]               configuration, token roles by action, one read
    mdepack demo                          emulator + the hash->tag playbook, end to end

Exit status: 0 success; 2 refused before any API call; 1 failed talking to the API; 3 a write
ran, and for some items what was asked is not in effect: not done (blocked, refused, not found,
not sent, unconfirmed, failed) or ended Failed, TimeOut or Cancelled (output on stdout).
On failure stderr carries {"error": {"type", "message", ...}}.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from mdepack import logs
from mdepack.cli import actions, bundles, demo, doctor, emulator, exports, mcp, playbooks
from mdepack.cli.inputs import read_json_argument
from mdepack.cli.output import print_error
from mdepack.errors import MdepackError, internal

__all__ = ["main", "read_json_argument"]
GROUPS = (actions, playbooks, doctor, emulator, mcp, exports, bundles, demo)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = _parser(wants_help="-h" in arguments or "--help" in arguments)
    args = parser.parse_args(arguments)
    default = "INFO" if args.verbose else "ERROR" if args.quiet else "WARNING"
    level = os.environ.get("MDE_LOG_LEVEL", default).upper()
    logging.basicConfig(level=level, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(logs.Redacting())
    logs.redact_library_logs()
    command: Callable[[argparse.Namespace], int] = args.command
    try:
        return command(args)
    except MdepackError as error:
        print_error(error.to_dict())
        return error.exit_code
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # the last line of defence: a JSON error, never a secret
        unexpected = internal(error)
        print_error(unexpected.to_dict())
        return unexpected.exit_code


def _parser(wants_help: bool = True) -> argparse.ArgumentParser:
    """The argument parser; what only help shows (the action list) is read only when asked."""
    from mdepack import __version__

    parser = argparse.ArgumentParser(
        prog="mdepack",
        description="Defender for Endpoint machine actions for SOAR playbooks and triggers.",
        epilog="Exit status: 0 success; 2 refused before any API call; 1 the API call failed; "
        "3 a write was not done for some items (blocked, refused, not found, not sent, "
        "unconfirmed, failed) or a response action ended Failed, TimeOut or Cancelled.",
    )
    parser.add_argument("--version", action="version", version=f"mdepack {__version__}")
    _verbosity(parser, default=False)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    for group in GROUPS:
        group.register(commands, wants_help)
    _each_command(parser, lambda command: _verbosity(command, default=argparse.SUPPRESS))
    return parser


def _verbosity(parser: argparse.ArgumentParser, default: Any) -> None:
    """-v / -q, before the command or after it (a later one does not reset an earlier one)."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=default,
        help="log one line per API call on stderr",
    )
    group.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=default,
        help="nothing on stderr but errors: no wait notices, no step report",
    )


def _each_command(parser: argparse.ArgumentParser, add: Callable[[Any], None]) -> None:
    for action in parser._actions:  # argparse offers no public walk over its subcommands
        if isinstance(action, argparse._SubParsersAction):
            for command in dict.fromkeys(action.choices.values()):
                add(command)
                _each_command(command, add)
