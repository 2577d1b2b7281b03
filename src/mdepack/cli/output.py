"""What every command shares on the way out: JSON on stdout (compact for engines, indented for
a person), the error line on stderr, and a client that tells a person at a terminal what it does."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from mdepack.redact import redact

# The exit status when a write ran and for some items what was asked is not in effect.
EXIT_NOT_DONE = 3


def style_options() -> argparse.ArgumentParser:
    """The --pretty / --compact options, as a parent parser."""
    output = argparse.ArgumentParser(add_help=False)
    style = output.add_mutually_exclusive_group()
    style.add_argument(
        "--pretty",
        dest="pretty",
        action="store_true",
        default=None,
        help="indented JSON (the default when stdout is a terminal)",
    )
    style.add_argument(
        "--compact",
        dest="pretty",
        action="store_false",
        help="one-line JSON (the default when stdout is a pipe or a file)",
    )
    return output


def print_json(document: Any, args: argparse.Namespace) -> None:
    """The document on stdout."""
    # Engines, pipes and files get compact JSON (the C encoder); a person at a terminal gets it
    # indented. --pretty / --compact force either.
    pretty = args.pretty if args.pretty is not None else sys.stdout.isatty()
    sys.stdout.write(json.dumps(document, indent=2 if pretty else None) + "\n")


def print_error(document: dict[str, Any]) -> None:
    """The error line on stderr, secrets redacted."""
    sys.stderr.write(redact(json.dumps(document)) + "\n")


def command_client(args: argparse.Namespace, no_retries: bool = False) -> Any:
    """The client a command runs on: it says on stderr why it waits, for waits of 2 s or more,
    terminal or not (a SOAR step's log shows it), unless -q; on a terminal it shows progress."""
    from mdepack.client import ApiClient
    from mdepack.config import Config

    config = Config.from_env()
    tty = sys.stderr.isatty()
    return ApiClient(
        config.with_overrides(max_attempts=1) if no_retries else config,
        progress=_show_progress if tty else None,
        notice=None if quiet(args) else _say,
    )


def quiet(args: argparse.Namespace) -> bool:
    """True with -q: nothing on stderr but errors."""
    return bool(getattr(args, "quiet", False))


def _say(text: str) -> None:
    # On a terminal the line may follow a progress counter: start over at its beginning.
    sys.stderr.write(("\r" if sys.stderr.isatty() else "") + f"{text}\n")
    sys.stderr.flush()


def _show_progress(items: int, calls: int) -> None:
    sys.stderr.write(f"\r{items} machines, {calls} API calls")
    sys.stderr.flush()
