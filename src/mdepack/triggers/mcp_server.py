"""`mdepack mcp`: the pack's actions as Model Context Protocol tools, on the official SDK.

One tool per manifest action: its description, an input schema with every `$ref` inlined (clients
such as the MCP Inspector resolve none, and would send `dry_run` as a string), a self-contained
output schema, and annotations from the manifest (reads are `readOnlyHint`; writes say whether
they are destructive and idempotent). A call runs through `invoke` like every other entry point,
so input the schema refuses never reaches the API; a refusal or an API failure is a tool result
with `isError: true` and the pack's typed error JSON, never a crashed server.

Least privilege by default: an agent gets the reads only, and not the ones whose output is a
secret-bearing link (`sensitive` in the manifest), unless the operator starts the server with
`--allow-writes` or names them in `--actions`. With writes allowed and no operator ceiling
(MDE_MAX_MACHINES_CEILING), one call may touch at most AGENT_CEILING machines, whatever the
agent's `max_machines`. Collection tools answer a bounded page (`limit`, default PAGE) and say when
more exist. Credentials are the usual MDE_* settings.

Needs the `mcp` extra: `pip install "mdepack[mcp]"`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from typing import Any

import anyio
import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server

from mdepack import __version__
from mdepack import manifest as manifest_module
from mdepack.client import ApiClient
from mdepack.config import Config
from mdepack.errors import InputError, MdepackError, internal
from mdepack.invoke import invoke, prepare
from mdepack.manifest import Action
from mdepack.redact import redact
from mdepack.schemas import bundled, inlined

AGENT_CEILING = 10  # machines one agent call may touch when the operator set no ceiling
PAGE, PAGE_CAP = 50, 1000  # items a collection tool answers by default, and at most
TEXT_LIMIT = 16 * 1024  # a larger result travels once, as structured content only
LIMIT_SCHEMA = {
    "description": f"MCP only: at most this many items in the answer (default {PAGE}); the answer "
    "says when more exist.",
    "type": "integer",
    "minimum": 1,
    "maximum": PAGE_CAP,
    "default": PAGE,
}
PAGE_PROPERTIES = {
    "more": {"description": "MCP only: more items exist than were answered.", "type": "boolean"},
    "note": {"description": "MCP only: how to get the rest.", "type": "string"},
}


def offered(allow_writes: bool = False, only: Iterable[str] | None = None) -> list[Action]:
    """The actions an agent is offered: the reads (less the sensitive ones) by default; every
    action with `allow_writes`; or exactly those named in `only`, which must be allowed."""
    pack = manifest_module.load()
    if only is None:
        return [a for a in pack.actions.values() if allow_writes or not (a.writes or a.sensitive)]
    wanted = list(dict.fromkeys(only))
    if not wanted:
        raise InputError(
            "--actions: name at least one action (omit --actions to offer the default set)",
            field="--actions",
            rule="one or more action names",
        )
    actions = [pack.action(name) for name in wanted]  # InputError naming the known actions
    refused = [a.name for a in actions if a.writes and not allow_writes]
    if refused:
        raise InputError(
            f"--actions: {', '.join(refused)} change the tenant; an agent gets them only when "
            "the server is started with --allow-writes",
            field="--actions",
            rule="writes need --allow-writes",
        )
    return actions


def tools(allow_writes: bool = False, only: Iterable[str] | None = None) -> list[types.Tool]:
    """The MCP tools for the offered actions."""
    return [_tool(action) for action in offered(allow_writes, only)]


def _tool(action: Action) -> types.Tool:
    inputs = inlined(action.input)
    inputs.pop("$defs", None)
    outputs = bundled(action.output)
    key = _page_key(action)
    if key is not None:
        inputs["properties"]["limit"] = LIMIT_SCHEMA
        outputs["properties"] = {**outputs.get("properties", {}), **PAGE_PROPERTIES}
    description = f"{action.description} (Defender for Endpoint: {action.method} {action.path}; "
    description += f"permission {action.permission}"
    if action.tracking_permission:
        description += f", and {action.tracking_permission} to track it"
    description += ")"
    if action.writes:
        description += (
            f" Agents: at most {AGENT_CEILING} machines a call unless the operator set "
            "MDE_MAX_MACHINES_CEILING; use dry_run first."
        )
    return types.Tool(
        name=action.name,
        title=action.name.replace("_", " "),
        description=description,
        input_schema=inputs,
        output_schema=outputs,
        annotations=types.ToolAnnotations(
            read_only_hint=not action.writes,
            destructive_hint=action.destructive if action.writes else None,
            idempotent_hint=action.idempotent if action.writes else None,
            open_world_hint=True,
        ),
    )


def _page_key(action: Action) -> str | None:
    """The list a read's answer carries beside its `count` (machines, actions), if any."""
    if action.writes:
        return None
    schema = inlined(action.output)
    properties = schema.get("properties", {})
    required = schema.get("required", [])
    lists = [k for k in required if properties.get(k, {}).get("type") == "array"]
    return lists[0] if "count" in required and len(lists) == 1 else None


class _Calls:
    """Runs one tool call: the agent's page and ceiling applied, on one client for the server."""

    def __init__(self, actions: list[Action], allow_writes: bool) -> None:
        self.actions = {a.name: a for a in actions}
        self.allow_writes = allow_writes
        self._client: ApiClient | None = None
        self._lock = threading.Lock()

    def client(self) -> ApiClient:
        """The server's client, made on the first call (a bad setting is that call's error)."""
        with self._lock:
            if self._client is None:
                config = Config.from_env()
                if self.allow_writes and config.max_machines_ceiling is None:
                    config = config.with_overrides(max_machines_ceiling=AGENT_CEILING)
                self._client = ApiClient(config)
            return self._client

    def run(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """The action's output, cut to the page the agent asked for."""
        action = self.actions[name]
        key = _page_key(action)
        arguments = dict(arguments)
        limit = arguments.pop("limit", PAGE) if key is not None else None
        if limit is not None and not (isinstance(limit, int) and 1 <= limit <= PAGE_CAP):
            raise InputError(
                f"limit: must be a whole number from 1 to {PAGE_CAP}",
                field="limit",
                rule=f"1 to {PAGE_CAP}",
            )
        prepared = prepare(name, arguments)  # bad input is refused before any configuration
        if limit is not None and "max_results" in _input_properties(action):
            arguments["max_results"] = min(prepared.get("max_results") or limit + 1, limit + 1)
        output = invoke(name, arguments, client=self.client())
        if key is not None and limit is not None and len(output[key]) > limit:
            output[key] = output[key][:limit]
            output["count"] = limit
            output["more"] = True
            output["note"] = (
                f"only the first {limit} {key} are here; pass a larger limit (up to {PAGE_CAP}), "
                "narrower filters, or fields to keep each item small"
            )
        return output


def _input_properties(action: Action) -> dict[str, Any]:
    properties = manifest_module.load().schema(action.input).get("properties", {})
    return properties if isinstance(properties, dict) else {}


def server(allow_writes: bool = False, only: Iterable[str] | None = None) -> Server[Any]:
    """An MCP server offering these tools."""
    actions = offered(allow_writes, only)
    listed = [_tool(action) for action in actions]
    calls = _Calls(actions, allow_writes)

    async def list_tools(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=listed)

    async def call_tool(
        ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        if params.name not in calls.actions:
            error = InputError(
                f"tool: {params.name!r} is not offered by this server "
                f"(offered: {', '.join(calls.actions)})",
                field="tool",
                rule="an offered tool",
            )
            return _error(error.to_dict())
        arguments = params.arguments or {}
        try:
            output = await anyio.to_thread.run_sync(calls.run, params.name, arguments)
        except MdepackError as error:
            return _error(error.to_dict())
        except Exception as error:  # the server stays up; the agent sees what went wrong
            return _error(internal(error).to_dict())
        return _result(output)

    writes = (
        f"Writes take dry_run and touch at most {AGENT_CEILING} machines a call unless the "
        "operator set MDE_MAX_MACHINES_CEILING."
        if allow_writes
        else "This server offers reads only (start it with --allow-writes for response actions)."
    )
    return Server(
        "mdepack",
        version=__version__,
        instructions=f"Microsoft Defender for Endpoint machine actions. {writes} Collections "
        f"answer {PAGE} items unless `limit` asks for more.",
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


def _result(output: dict[str, Any]) -> types.CallToolResult:
    """The output once: as text too when it is small; a large one only as structured content,
    with a line of text saying so."""
    text = json.dumps(output, separators=(",", ":"))
    if len(text) > TEXT_LIMIT:
        sizes = ", ".join(f"{len(v)} {k}" for k, v in output.items() if isinstance(v, list))
        text = (
            f"The result ({len(text)} bytes; {sizes or 'see fields'}) is in the structured "
            "content. Ask for fewer fields or a smaller limit to have it as text too."
        )
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=text)], structured_content=output
    )


def _error(document: dict[str, Any]) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=redact(json.dumps(document)))],
        is_error=True,
    )


def serve_stdio(allow_writes: bool = False, only: Iterable[str] | None = None) -> None:
    """Serve over standard input and output until the client closes them."""
    from mcp.server.stdio import stdio_server

    app = server(allow_writes, only)

    async def main() -> None:
        async with stdio_server() as (read_stream, write_stream):
            await app.run(read_stream, write_stream, app.create_initialization_options())

    anyio.run(main)
