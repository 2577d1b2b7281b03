"""`mdepack mcp`: the pack's actions as Model Context Protocol tools, on the official SDK.

One tool per manifest action: its description, self-contained input and output schemas, and
annotations from the manifest (reads are `readOnlyHint`; writes say whether they are destructive
and idempotent). A call runs through `invoke` like every other entry point, so input the schema
refuses never reaches the API; a refusal or an API failure is a tool result with `isError: true`
and the pack's typed error JSON, never a crashed server. Credentials are the usual MDE_* settings.

Needs the `mcp` extra: `pip install "mdepack[mcp]"`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import anyio
import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server

from mdepack import __version__
from mdepack import manifest as manifest_module
from mdepack.config import is_loopback
from mdepack.errors import InputError, MdepackError
from mdepack.exports.schemas import bundled
from mdepack.invoke import invoke
from mdepack.redact import redact


def tools(read_only: bool = False, only: Iterable[str] | None = None) -> list[types.Tool]:
    """The MCP tools for the manifest's actions: all, only the reads, or only those named."""
    pack = manifest_module.load()
    names = list(pack.actions)
    if only is not None:
        wanted = list(only)
        for name in wanted:
            pack.action(name)  # InputError naming the known actions
        names = [n for n in names if n in wanted]
    result = []
    for name in names:
        action = pack.action(name)
        if read_only and action.writes:
            continue
        result.append(
            types.Tool(
                name=name,
                title=name.replace("_", " "),
                description=f"{action.description} (Defender for Endpoint: {action.method} "
                f"{action.path}; permission {action.permission})",
                input_schema=bundled(action.input),
                output_schema=bundled(action.output),
                annotations=types.ToolAnnotations(
                    read_only_hint=not action.writes,
                    destructive_hint=action.destructive if action.writes else None,
                    idempotent_hint=action.idempotent if action.writes else None,
                    open_world_hint=True,
                ),
            )
        )
    return result


def server(read_only: bool = False, only: Iterable[str] | None = None) -> Server[Any]:
    """An MCP server offering these tools."""
    offered = {tool.name: tool for tool in tools(read_only, only)}

    async def list_tools(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=list(offered.values()))

    async def call_tool(
        ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        if params.name not in offered:
            error = InputError(
                f"tool: {params.name!r} is not offered by this server "
                f"(offered: {', '.join(offered)})",
                field="tool",
                rule="an offered tool",
            )
            return _error(error.to_dict())
        arguments = params.arguments or {}
        try:
            output = await anyio.to_thread.run_sync(invoke, params.name, arguments)
        except MdepackError as error:
            return _error(error.to_dict())
        except Exception as error:  # the server stays up; the agent sees what went wrong
            message = redact(f"{type(error).__name__}: {error}")
            return _error({"error": {"type": "InternalError", "message": message}})
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=json.dumps(output))],
            structured_content=output,
        )

    return Server(
        "mdepack",
        version=__version__,
        instructions="Microsoft Defender for Endpoint machine actions. Writes take dry_run; "
        "response actions refuse more than max_machines (default 10) before any write.",
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


def _error(document: dict[str, Any]) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=redact(json.dumps(document)))],
        is_error=True,
    )


def serve_stdio(read_only: bool = False, only: Iterable[str] | None = None) -> None:
    """Serve over standard input and output until the client closes them."""
    from mcp.server.stdio import stdio_server

    app = server(read_only, only)

    async def main() -> None:
        async with stdio_server() as (read_stream, write_stream):
            await app.run(read_stream, write_stream, app.create_initialization_options())

    anyio.run(main)


def serve_http(address: str, read_only: bool = False, only: Iterable[str] | None = None) -> None:
    """Serve the streamable-HTTP transport on HOST:PORT, a loopback address only."""
    import uvicorn

    host, _, port = address.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if not is_loopback(host) or not port.isdigit():
        raise InputError(
            f"--http: {address!r} must be a loopback HOST:PORT such as 127.0.0.1:8765",
            field="--http",
            rule="a loopback address",
        )
    app = server(read_only, only).streamable_http_app(host=host)
    uvicorn.run(app, host=host, port=int(port), log_level="warning")
