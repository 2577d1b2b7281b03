"""`mdepack bundle lambda|azure-functions`: deployable serverless artefacts."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(commands: Any, wants_help: bool) -> None:
    """Add `bundle` and its platforms to the top-level subparsers."""
    bundle = commands.add_parser("bundle", help="build a deployable serverless artefact")
    kinds = bundle.add_subparsers(required=True, metavar="PLATFORM")
    zipped = kinds.add_parser("lambda", help="a zip for AWS Lambda, with its dependencies")
    zipped.add_argument("--output", required=True, type=Path, help="the zip file to write")
    zipped.add_argument("--python", default="3.12", help="the Lambda runtime's Python (3.12)")
    zipped.add_argument(
        "--arch", default="x86_64", choices=["x86_64", "arm64"], help="the function's architecture"
    )
    zipped.set_defaults(command=aws_lambda)
    azure = kinds.add_parser("azure-functions", help="a Functions app folder for Azure")
    azure.add_argument("--output", required=True, type=Path, help="a new or empty folder")
    azure.add_argument("--python", default="3.12", help="the Functions runtime's Python (3.12)")
    azure.set_defaults(command=azure_functions)


def aws_lambda(args: argparse.Namespace) -> int:
    """Build the Lambda zip."""
    from mdepack.bundle import aws_lambda as builder

    size = builder.build(args.output, args.python, args.arch)
    sys.stdout.write(
        f"{args.output}: {size / 1_048_576:.1f} MiB, Python {args.python}, {args.arch}; "
        f"handler {builder.HANDLER}\n"
    )
    return 0


def azure_functions(args: argparse.Namespace) -> int:
    """Build the Functions app folder."""
    from mdepack.bundle import azure_functions as builder

    size = builder.build(args.output, args.python)
    sys.stdout.write(
        f"{args.output}: {size / 1_048_576:.1f} MiB, Python {args.python}; publish with "
        "`func azure functionapp publish APP --no-build`\n"
    )
    return 0
