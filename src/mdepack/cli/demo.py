"""`mdepack demo`: the file hash -> machines -> tag chain on the emulator."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(commands: Any, wants_help: bool) -> None:
    """Add `demo` to the top-level subparsers."""
    demo = commands.add_parser(
        "demo", help="the file hash -> machines -> tag chain on the emulator"
    )
    demo.add_argument(
        "--machines", type=int, default=500, help="size of the emulator's fleet (default 500)"
    )
    demo.set_defaults(command=run)


def run(args: argparse.Namespace) -> int:
    """Run the demo, printing as it goes."""
    from mdepack.demo import run_demo

    return run_demo(sys.stdout, machines=args.machines)
