"""`mdepack mcp`: the actions as MCP tools, reads only unless --allow-writes."""

from __future__ import annotations

import argparse
from typing import Any

from mdepack.errors import InputError


def register(commands: Any, wants_help: bool) -> None:
    """Add `mcp` to the top-level subparsers."""
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
    mcp.set_defaults(command=serve)


def serve(args: argparse.Namespace) -> int:
    """Serve on stdio or streamable HTTP, after refusing a bad selection of tools."""
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
