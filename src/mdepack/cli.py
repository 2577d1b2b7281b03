"""The `mdepack` command.

    mdepack actions                       list the actions
    mdepack describe ACTION               its input and output schema
    mdepack run ACTION --input JSON       JSON text, @file, or - for stdin; output JSON on stdout
    mdepack playbook check PLAYBOOK...    static check against the manifest
    mdepack playbook run PLAYBOOK --input JSON
    mdepack emulator [--port N] [--state-dir DIR] [--machines N] [--seed S] [--data FILE]
    mdepack demo                          emulator + the hash->tag playbook, end to end

Exit status: 0 success; 2 refused before any API call; 1 failed talking to the API; 3 a response
action ran, and on some machines what was asked is not in effect: not done (blocked, refused, not
found, not sent, unconfirmed) or ended Failed, TimeOut or Cancelled (output on stdout).
On failure stderr carries {"error": {"type", "message", ...}}.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import stat
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from mdepack.errors import InputError, MdepackError, internal
from mdepack.redact import redact

INPUT_HELP = (
    "JSON text, @FILE (a regular file) or - (standard input). Large inputs, such as thousands "
    "of machine ids, belong in - or @FILE: the system limits a command line's length "
    "('Argument list too long'). At most 32 MiB."
)
EXIT_ACTIONS_FAILED = 3
# The largest --input read from a file or standard input: 200,000 machine ids are about 8 MiB.
MAX_INPUT_BYTES = 32 * 1024 * 1024


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = _parser(wants_help="-h" in arguments or "--help" in arguments)
    args = parser.parse_args(arguments)
    level = os.environ.get("MDE_LOG_LEVEL", "INFO" if args.verbose else "WARNING").upper()
    logging.basicConfig(level=level, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")
    command: Callable[[argparse.Namespace], int] = args.command
    try:
        return command(args)
    except MdepackError as error:
        _print_error(error.to_dict())
        return error.exit_code
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # the last line of defence: a JSON error, never a secret
        unexpected = internal(error)
        _print_error(unexpected.to_dict())
        return unexpected.exit_code


def _parser(wants_help: bool = True) -> argparse.ArgumentParser:
    """The argument parser; the action list in `run --help` is read only when help is asked."""
    from mdepack import __version__

    parser = argparse.ArgumentParser(
        prog="mdepack",
        description="Defender for Endpoint machine actions for SOAR playbooks and triggers.",
        epilog="Exit status: 0 success; 2 refused before any API call; 1 the API call failed; "
        "3 a response action was not done on some machines (blocked, refused, not found, not "
        "sent, unconfirmed) or ended Failed, TimeOut or Cancelled.",
    )
    parser.add_argument("--version", action="version", version=f"mdepack {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log one line per API call on stderr"
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
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

    actions = commands.add_parser("actions", help="list the actions", parents=[output])
    actions.add_argument("--json", action="store_true", help="as JSON")
    actions.set_defaults(command=_actions)

    describe = commands.add_parser(
        "describe", help="an action's input and output schema", parents=[output]
    )
    describe.add_argument("action", help="an action's name (see `mdepack actions`)")
    describe.set_defaults(command=_describe)

    run = commands.add_parser(
        "run",
        help="run an action",
        parents=[output],
        epilog=_run_epilog() if wants_help else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("action", help="the action to run (listed below)")
    run.add_argument("--input", default="{}", help=INPUT_HELP)
    run.add_argument("--jsonl", action="store_true", help="stream machines, one JSON line each")
    run.add_argument("--no-retries", action="store_true", help="one attempt per call")
    run.set_defaults(command=_run)

    playbook = commands.add_parser("playbook", help="check or run playbooks")
    playbook_commands = playbook.add_subparsers(required=True, metavar="SUBCOMMAND")
    check = playbook_commands.add_parser("check", help="check playbooks against the manifest")
    check.add_argument(
        "playbooks", nargs="+", help="playbook files, or shipped playbooks by name (see list)"
    )
    check.set_defaults(command=_playbook_check)
    play = playbook_commands.add_parser("run", help="run a playbook", parents=[output])
    play.add_argument("playbook", help="a playbook file, or a shipped playbook's name")
    play.add_argument("--input", default="{}", help=INPUT_HELP)
    play.set_defaults(command=_playbook_run)
    listed = playbook_commands.add_parser("list", help="the shipped playbooks")
    listed.set_defaults(command=_playbook_list)

    emulator = commands.add_parser("emulator", help="run the local Defender API emulator")
    emulator.add_argument("--port", type=int, default=8443, help="0 takes a free port")
    emulator.add_argument(
        "--state-dir",
        type=Path,
        default=Path(".emulator"),
        help="where ca.pem and the env file (MDE_* settings for the pack) are written",
    )
    emulator.add_argument(
        "--machines", type=int, default=500, help="size of the generated fleet (default 500)"
    )
    emulator.add_argument(
        "--seed", type=int, default=1, help="seed of the generated fleet: same seed, same fleet"
    )
    emulator.add_argument("--data", type=Path, help="a fleet as JSON instead of a generated one")
    emulator.add_argument(
        "--legacy-not-found", action="store_true", help="404 for unknown files and users"
    )
    emulator.add_argument(
        "--rate-per-minute", type=int, default=100, help="calls an app may make a minute (100)"
    )
    emulator.add_argument(
        "--rate-per-hour", type=int, default=1500, help="calls an app may make an hour (1500)"
    )
    emulator.set_defaults(command=_emulator)

    mcp = commands.add_parser(
        "mcp",
        help="serve the actions as MCP tools to an AI agent, reads only unless --allow-writes "
        "(stdio; needs the mcp extra)",
    )
    access = mcp.add_mutually_exclusive_group()
    access.add_argument(
        "--read-only",
        action="store_true",
        help="offer only the actions that read (the default, said explicitly)",
    )
    access.add_argument(
        "--allow-writes",
        action="store_true",
        help="offer the response actions and tagging too; without MDE_MAX_MACHINES_CEILING an "
        "agent's call may touch at most 10 machines",
    )
    mcp.add_argument(
        "--actions",
        help="offer only these actions, comma-separated (e.g. get_machine,get_file); writes "
        "among them need --allow-writes",
    )
    mcp.add_argument(
        "--http",
        metavar="HOST:PORT",
        help="serve the streamable-HTTP transport on a loopback address instead of stdio, with a "
        "bearer token (MDE_MCP_TOKEN, or one printed at start)",
    )
    mcp.set_defaults(command=_mcp)

    export = commands.add_parser("export", help="describe the pack to another engine")
    targets = export.add_subparsers(required=True, metavar="FORMAT")
    openapi = targets.add_parser(
        "openapi", help="OpenAPI 3.1 of the HTTP trigger (--swagger: a Swagger 2.0 connector)"
    )
    openapi.add_argument(
        "--swagger",
        action="store_true",
        help="Swagger 2.0, for a Power Automate / Logic Apps custom connector",
    )
    openapi.add_argument(
        "--host",
        default="localhost:7071",
        help="the function app's host for the Swagger 2.0 document (HOST[:PORT])",
    )
    openapi.add_argument(
        "--base-url",
        default="https://localhost:7071/api",
        help="the default server URL in the OpenAPI 3.1 document",
    )
    openapi.set_defaults(command=_export_openapi)
    sfn = targets.add_parser(
        "step-functions", help="a playbook as an AWS Step Functions state machine (ASL)"
    )
    sfn.add_argument("playbook", help="a playbook file, or a shipped playbook's name")
    sfn.add_argument(
        "--function-arn",
        required=True,
        help="the ARN of the Lambda function running mdepack.triggers.aws_lambda.handler",
    )
    sfn.set_defaults(command=_export_step_functions)

    bundle = commands.add_parser("bundle", help="build a deployable serverless artefact")
    kinds = bundle.add_subparsers(required=True, metavar="PLATFORM")
    zipped = kinds.add_parser("lambda", help="a zip for AWS Lambda, with its dependencies")
    zipped.add_argument("--output", required=True, type=Path, help="the zip file to write")
    zipped.add_argument("--python", default="3.12", help="the Lambda runtime's Python (3.12)")
    zipped.add_argument(
        "--arch", default="x86_64", choices=["x86_64", "arm64"], help="the function's architecture"
    )
    zipped.set_defaults(command=_bundle_lambda)
    azure = kinds.add_parser("azure-functions", help="a Functions app folder for Azure")
    azure.add_argument("--output", required=True, type=Path, help="a new or empty folder")
    azure.add_argument("--python", default="3.12", help="the Functions runtime's Python (3.12)")
    azure.set_defaults(command=_bundle_azure)

    demo = commands.add_parser(
        "demo", help="the file hash -> machines -> tag chain on the emulator"
    )
    demo.add_argument(
        "--machines", type=int, default=500, help="size of the emulator's fleet (default 500)"
    )
    demo.set_defaults(command=_demo)
    return parser


def read_json_argument(text: str, what: str = "input") -> Any:
    """JSON from text, @file (a regular file) or - (stdin), at most MAX_INPUT_BYTES of it.

    InputError when it is not JSON, too large, or not a regular file (a FIFO or a device such as
    /dev/zero would block or never end).
    """
    if text == "-":
        data = _read_capped(sys.stdin.buffer, "standard input", what)
    elif text.startswith("@"):
        data = _read_file(text[1:], what)
    else:
        data = text.encode()
    try:
        return json.loads(data)
    except ValueError as error:
        raise InputError(
            f"{what}: not valid JSON ({error})", field=what, rule="valid JSON"
        ) from None
    except RecursionError:
        raise InputError(
            f"{what}: nested too deeply to read",
            field=what,
            rule="JSON nested a few hundred levels",
        ) from None


def _read_file(name: str, what: str) -> bytes:
    try:
        if not stat.S_ISREG(os.stat(name).st_mode):
            raise InputError(
                f"{what}: {name!r} is not a regular file (use - to read standard input)",
                field=what,
                rule="a regular file",
            )
        with open(name, "rb") as stream:
            return _read_capped(stream, repr(name), what)
    except OSError as error:
        raise InputError(
            f"{what}: cannot read {name!r}: {error.strerror}", field=what, rule="readable file"
        ) from None


def _read_capped(stream: BinaryIO, source: str, what: str) -> bytes:
    data = stream.read(MAX_INPUT_BYTES + 1)
    if len(data) > MAX_INPUT_BYTES:
        mib = MAX_INPUT_BYTES // (1024 * 1024)
        raise InputError(
            f"{what}: {source} is larger than {mib} MiB; pass less, or split the work",
            field=what,
            rule=f"at most {mib} MiB",
        )
    return data


def _print_json(document: Any, args: argparse.Namespace) -> None:
    # Engines, pipes and files get compact JSON (the C encoder); a person at a terminal gets it
    # indented. --pretty / --compact force either.
    pretty = args.pretty if args.pretty is not None else sys.stdout.isatty()
    sys.stdout.write(json.dumps(document, indent=2 if pretty else None) + "\n")


def _print_error(document: dict[str, Any]) -> None:
    sys.stderr.write(redact(json.dumps(document)) + "\n")


def _actions(args: argparse.Namespace) -> int:
    from mdepack import manifest

    pack = manifest.load()
    if args.json:
        _print_json(
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


def _describe(args: argparse.Namespace) -> int:
    from mdepack import manifest
    from mdepack.schemas import inlined

    pack = manifest.load()
    action = pack.action(args.action)
    _print_json(
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


def _run(args: argparse.Namespace) -> int:
    from mdepack.invoke import invoke, prepare

    inputs = read_json_argument(args.input)
    client = None
    show_progress = sys.stderr.isatty()
    if args.no_retries or show_progress:
        prepare(args.action, inputs)  # bad input is refused before any configuration is read
        client = _terminal_client(no_retries=args.no_retries)
    if args.jsonl:
        from mdepack.stream import stream_machines

        for line in stream_machines(args.action, inputs, client=client):
            sys.stdout.write(line)
    else:
        output = invoke(args.action, inputs, client=client)
        _print_json(output, args)
        if _not_done(output):
            return EXIT_ACTIONS_FAILED
    if client is not None and client.progress is not None and client.calls:
        sys.stderr.write("\n")
    return 0


def _not_done(output: Any) -> bool:
    """True when a write's output reports items where what was asked is not in effect: the
    output is printed, and the exit status says so."""
    from mdepack.bulk import not_done

    return not_done(output)


def _terminal_client(no_retries: bool = False) -> Any:
    """A client that, on a terminal, shows progress and says why it waits."""
    from mdepack.client import ApiClient
    from mdepack.config import Config

    config = Config.from_env()
    tty = sys.stderr.isatty()
    return ApiClient(
        config.with_overrides(max_attempts=1) if no_retries else config,
        progress=_show_progress if tty else None,
        notice=_say if tty else None,
    )


def _say(text: str) -> None:
    sys.stderr.write(f"\r{text}\n")
    sys.stderr.flush()


def _show_progress(items: int, calls: int) -> None:
    sys.stderr.write(f"\r{items} machines, {calls} API calls")
    sys.stderr.flush()


def _playbook_check(args: argparse.Namespace) -> int:
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


def _playbook_list(args: argparse.Namespace) -> int:
    from mdepack.playbook.document import shipped

    for playbook in shipped():
        description = " ".join(str(playbook.document.get("description", "")).split())
        sys.stdout.write(f"{playbook.path.stem:<32} {description}\n")
    return 0


def _run_epilog() -> str:
    """The actions and one example, read from the manifest when help is asked for."""
    from mdepack import manifest

    pack = manifest.load()
    lines = [
        f"  {a.name:<31} {a.side_effects:<5}  {a.description[:70]}" for a in pack.actions.values()
    ]
    example = json.dumps(pack.action("get_file_machines").example)
    return (
        "actions:\n"
        + "\n".join(lines)
        + f"\n\nexample:\n  mdepack run get_file_machines --input '{example}'\n"
        "  mdepack describe ACTION shows an action's inputs and outputs."
    )


def _playbook_run(args: argparse.Namespace) -> int:
    from mdepack.playbook.runner import run_file

    inputs = read_json_argument(args.input)
    # On a terminal, long steps show progress and waits are explained; elsewhere, the report only.
    client = None
    if sys.stderr.isatty():
        try:
            client = _terminal_client()
        except InputError:
            client = None  # the runner refuses bad inputs first, then the configuration
    result = run_file(args.playbook, inputs, client=client, report=sys.stderr)
    _print_json(result.outputs, args)
    return 0


def _emulator(args: argparse.Namespace) -> int:
    import time

    from mdepack.emulator import Emulator

    emulator = Emulator(
        machines=args.machines,
        seed=args.seed,
        data=args.data,
        port=args.port,
        state_dir=args.state_dir.resolve(),
        legacy_not_found=args.legacy_not_found,
        rate_per_minute=args.rate_per_minute,
        rate_per_hour=args.rate_per_hour,
    )
    with emulator:
        sys.stdout.write(
            f"mdepack emulator on {emulator.url} with {len(emulator.fleet.machines)} machines\n"
            f"  settings: {emulator.state_dir / 'env'}  (set -a; . {emulator.state_dir / 'env'}; set +a)\n"
            f"  a file seen by 2 machines: {emulator.fleet.file_with(2)}\n"
            "  Ctrl-C stops it.\n"
        )
        sys.stdout.flush()
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    return 0


def _export_openapi(args: argparse.Namespace) -> int:
    from mdepack.exports import openapi

    if not args.swagger:
        sys.stdout.write(json.dumps(openapi.openapi(args.base_url), indent=2) + "\n")
        return 0
    notes: list[str] = []
    document = openapi.swagger(args.host, notes)
    for note in dict.fromkeys(notes):
        sys.stderr.write(f"note: {note}\n")
    sys.stdout.write(json.dumps(document, indent=2) + "\n")
    return 0


def _export_step_functions(args: argparse.Namespace) -> int:
    from mdepack.exports import step_functions

    machine = step_functions.export(args.playbook, args.function_arn)
    sys.stdout.write(json.dumps(machine, indent=2) + "\n")
    return 0


def _bundle_lambda(args: argparse.Namespace) -> int:
    from mdepack.bundle import aws_lambda

    size = aws_lambda.build(args.output, args.python, args.arch)
    sys.stdout.write(
        f"{args.output}: {size / 1_048_576:.1f} MiB, Python {args.python}, {args.arch}; "
        f"handler {aws_lambda.HANDLER}\n"
    )
    return 0


def _bundle_azure(args: argparse.Namespace) -> int:
    from mdepack.bundle import azure_functions

    size = azure_functions.build(args.output, args.python)
    sys.stdout.write(
        f"{args.output}: {size / 1_048_576:.1f} MiB, Python {args.python}; publish with "
        "`func azure functionapp publish APP --no-build`\n"
    )
    return 0


def _mcp(args: argparse.Namespace) -> int:
    try:
        from mdepack.triggers import mcp_server
    except ImportError:
        raise InputError(
            'mcp: the MCP server needs the mcp extra: pip install "mdepack[mcp]"',
            field="mcp",
            rule="the mcp extra installed",
        ) from None

    only = None
    if args.actions is not None:
        only = [a.strip() for a in args.actions.split(",") if a.strip()]
    # An unknown action, an empty list or a write without --allow-writes exits 2 before serving.
    mcp_server.offered(args.allow_writes, only)
    if args.http:
        from mdepack.triggers import mcp_http

        mcp_http.serve(args.http, args.allow_writes, only)
    else:
        mcp_server.serve_stdio(args.allow_writes, only)
    return 0


def _demo(args: argparse.Namespace) -> int:
    from mdepack.demo import run_demo

    return run_demo(sys.stdout, machines=args.machines)
