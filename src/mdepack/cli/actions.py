"""`mdepack actions`, `mdepack describe ACTION` and `mdepack run ACTION --input JSON`."""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from typing import Any

from mdepack.cli.inputs import INPUT_HELP, read_json_argument
from mdepack.cli.output import EXIT_NOT_DONE, command_client, print_json, style_options


def register(commands: Any, wants_help: bool) -> None:
    """Add the three commands to the top-level subparsers."""
    listed = commands.add_parser("actions", help="list the actions", parents=[style_options()])
    listed.add_argument("--json", action="store_true", help="as JSON")
    listed.set_defaults(command=list_actions)

    describe_ = commands.add_parser(
        "describe", help="an action's input and output schema", parents=[style_options()]
    )
    describe_.add_argument("action", help="an action's name (see `mdepack actions`)")
    describe_.set_defaults(command=describe)

    run_ = commands.add_parser(
        "run",
        help="run an action",
        parents=[style_options()],
        epilog=_run_epilog() if wants_help else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run_.add_argument("action", help="the action to run (listed below)")
    run_.add_argument("--input", default="{}", help=INPUT_HELP)
    run_.add_argument(
        "--jsonl",
        action="store_true",
        help="stream the collection (machines, hunting rows), one JSON line each",
    )
    run_.add_argument("--no-retries", action="store_true", help="one attempt per call")
    run_.add_argument(
        "--file",
        metavar="PATH",
        help="for an action that uploads (content_base64): the file to send; its name is "
        "file_name unless the input gives one",
    )
    run_.set_defaults(command=run)


def list_actions(args: argparse.Namespace) -> int:
    """The manifest's actions, a line each or as JSON."""
    from mdepack import manifest

    pack = manifest.load()
    if args.json:
        print_json(
            [
                {
                    "name": a.name,
                    "description": a.description,
                    "side_effects": a.side_effects,
                    "permission": a.permission,
                    "tracking_permission": a.tracking_permission,
                }
                for a in pack.actions.values()
            ],
            args,
        )
        return 0
    width = max(len(name) for name in pack.actions)
    for action in pack.actions.values():
        sys.stdout.write(
            f"{action.name:<{width}}  {action.side_effects:<5}  {action.description}\n"
        )
    return 0


def describe(args: argparse.Namespace) -> int:
    """One action's endpoint, permissions, example and schemas."""
    from mdepack import manifest
    from mdepack.schemas import inlined

    action = manifest.load().action(args.action)
    print_json(
        {
            "name": action.name,
            "description": action.description,
            "http": {"method": action.method, "path": action.path},
            "permission": action.permission,
            "tracking_permission": action.tracking_permission,
            "side_effects": action.side_effects,
            "example": action.example,
            # $refs inlined, so the rules of shared types (tag, sha1, ...) are there to read.
            "input": inlined(action.input),
            "output": inlined(action.output),
        },
        args,
    )
    return 0


def run(args: argparse.Namespace) -> int:
    """Run one action; exit 3 when a write reports items not done."""
    from mdepack.bulk import not_done
    from mdepack.invoke import invoke, prepare

    inputs = read_json_argument(args.input)
    if args.file:
        inputs = with_file(args.action, inputs, args.file)
    prepare(args.action, inputs)  # bad input is refused before any configuration is read
    client = command_client(args, no_retries=args.no_retries)
    if args.jsonl:
        from mdepack.stream import stream_lines

        for line in stream_lines(args.action, inputs, client=client):
            sys.stdout.write(line)
    else:
        output = invoke(args.action, inputs, client=client)
        print_json(output, args)
        if not_done(output):
            return EXIT_NOT_DONE
    if client is not None and client.progress is not None and client.calls:
        sys.stderr.write("\n")
    return 0


def with_file(action: str, inputs: Any, path: str) -> Any:
    """The inputs with the file at `path` as `content_base64` (and `file_name` by default), for
    an action whose input takes a file's content; InputError otherwise, naming --file."""
    import base64
    from pathlib import Path

    from mdepack.errors import InputError

    if "content_base64" not in _properties(action):
        rule = "is only for actions that upload a file (content_base64)"
        raise InputError(f"--file: {rule}", field="--file", rule=rule)
    file = Path(path)
    if not file.is_file():
        raise InputError(f"--file: no file at {path}", field="--file", rule="must name a file")
    if not isinstance(inputs, dict):
        return inputs
    encoded = base64.b64encode(file.read_bytes()).decode()
    return {"file_name": file.name, **inputs, "content_base64": encoded}


def _properties(action: str) -> set[str]:
    from mdepack import manifest
    from mdepack.schemas import inlined

    return set(inlined(manifest.load().action(action).input).get("properties", {}))


def _run_epilog() -> str:
    """The actions and one example, read from the manifest when help is asked for."""
    from mdepack import manifest

    pack = manifest.load()
    lines = [
        f"  {a.name:<31} {a.side_effects:<5}  {textwrap.shorten(a.description, 70, placeholder=' ...')}"
        for a in pack.actions.values()
    ]
    example = json.dumps(pack.action("get_file_machines").example)
    return (
        "actions:\n"
        + "\n".join(lines)
        + f"\n\nexample:\n  mdepack run get_file_machines --input '{example}'\n"
        "  mdepack describe ACTION shows an action's inputs and outputs."
    )
