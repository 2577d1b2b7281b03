"""`mdepack export openapi|step-functions`: the pack described to another engine."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def register(commands: Any, wants_help: bool) -> None:
    """Add `export` and its formats to the top-level subparsers."""
    export = commands.add_parser("export", help="describe the pack to another engine")
    targets = export.add_subparsers(required=True, metavar="FORMAT")
    openapi_ = targets.add_parser(
        "openapi", help="OpenAPI 3.1 of the HTTP trigger (--swagger: a Swagger 2.0 connector)"
    )
    openapi_.add_argument(
        "--swagger",
        action="store_true",
        help="Swagger 2.0, for a Power Automate / Logic Apps custom connector",
    )
    openapi_.add_argument(
        "--host",
        default="localhost:7071",
        help="the function app's host for the Swagger 2.0 document (HOST[:PORT])",
    )
    openapi_.add_argument(
        "--base-url",
        default="https://localhost:7071/api",
        help="the default server URL in the OpenAPI 3.1 document",
    )
    openapi_.set_defaults(command=openapi)
    sfn = targets.add_parser(
        "step-functions", help="a playbook as an AWS Step Functions state machine (ASL)"
    )
    sfn.add_argument("playbook", help="a playbook file, or a shipped playbook's name")
    sfn.add_argument(
        "--function-arn",
        required=True,
        help="the ARN of the Lambda function running mdepack.triggers.aws_lambda.handler",
    )
    sfn.add_argument(
        "--sam",
        action="store_true",
        help="a SAM template deploying the state machine, its role allowed to invoke only that "
        "function (cfn-lint clean)",
    )
    sfn.set_defaults(command=step_functions)


def openapi(args: argparse.Namespace) -> int:
    """OpenAPI 3.1, or with --swagger a Swagger 2.0 connector (its notes on stderr)."""
    from mdepack.exports import openapi as documents

    if not args.swagger:
        sys.stdout.write(json.dumps(documents.openapi(args.base_url), indent=2) + "\n")
        return 0
    notes: list[str] = []
    document = documents.swagger(args.host, notes)
    for note in dict.fromkeys(notes):
        sys.stderr.write(f"note: {note}\n")
    sys.stdout.write(json.dumps(document, indent=2) + "\n")
    return 0


def step_functions(args: argparse.Namespace) -> int:
    """A playbook's state machine definition."""
    from mdepack.exports import step_functions as exporter

    if args.sam:
        document = exporter.sam_template(args.playbook, args.function_arn)
    else:
        document = exporter.export(args.playbook, args.function_arn)
    sys.stdout.write(json.dumps(document, indent=2) + "\n")
    return 0
