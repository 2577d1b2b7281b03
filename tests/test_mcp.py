"""`mdepack mcp` tested with the MCP SDK's own client (`mcp.ClientSession` over stdio) against the
emulator: the tool list and its schemas, calls whose structured results the client validates
against the output schemas, error results, and the read-only and narrowed servers."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import jsonschema
import pytest
from conftest import user_env
from mcp import ClientSession, StdioServerParameters, stdio_client

from mdepack import manifest
from mdepack.emulator import Emulator
from mdepack.exports.schemas import bundled

pytestmark = pytest.mark.slow
Session = Callable[[ClientSession], Awaitable[Any]]


def with_server(env: dict[str, str], *flags: str) -> Callable[[Session], Any]:
    """Run `body(session)` against `python -m mdepack mcp FLAGS` over stdio."""

    def run(body: Session) -> Any:
        async def main() -> Any:
            parameters = StdioServerParameters(
                command=sys.executable, args=["-m", "mdepack", "mcp", *flags], env=user_env(env)
            )
            async with (
                stdio_client(parameters) as (read, write),
                ClientSession(read, write) as session,
            ):
                await session.initialize()
                return await body(session)

        return asyncio.run(main())

    return run


@pytest.fixture(scope="module")
def live() -> Any:
    with Emulator(machines=20) as emulator:
        yield emulator


def test_every_action_is_a_tool_with_self_contained_schemas(live: Emulator) -> None:
    listed = with_server(live.env())(lambda s: s.list_tools())
    tools = {tool.name: tool for tool in listed.tools}
    assert set(tools) == set(manifest.load().actions)
    for tool in tools.values():
        for schema in (tool.input_schema, tool.output_schema):
            assert schema is not None and schema["type"] == "object" and "$ref" not in schema
            jsonschema.Draft202012Validator.check_schema(schema)
            refs = [r for r in json.dumps(schema).split('"$ref": ')[1:]]
            assert all(r.startswith('"#/$defs/') for r in refs)
    assert tools["get_machine"].annotations.read_only_hint is True
    isolate = tools["isolate_machines"].annotations
    assert (isolate.read_only_hint, isolate.destructive_hint) == (False, True)
    tag = tools["tag_machines"].annotations
    assert (tag.destructive_hint, tag.idempotent_hint) == (False, True)


def test_a_call_returns_structured_content_the_client_validated(live: Emulator) -> None:
    sha1 = live.fleet.file_with(2)

    async def body(session: ClientSession) -> Any:
        await session.list_tools()
        return await session.call_tool("get_file_machines", {"sha1": sha1, "fields": ["id"]})

    result = with_server(live.env())(body)
    assert result.is_error is False
    assert result.structured_content["count"] == 2
    assert json.loads(result.content[0].text) == result.structured_content


def test_invalid_arguments_are_an_error_result_and_no_call(live: Emulator) -> None:
    live.clear_log()

    async def body(session: ClientSession) -> Any:
        bad = await session.call_tool(
            "get_file_machines", {"sha1": "d41d8cd98f00b204e9800998ecf8427e"}
        )
        after = await session.call_tool("get_machine", {"machine_id": live.fleet.machines[0]["id"]})
        return bad, after

    bad, after = with_server(live.env())(body)
    assert bad.is_error is True
    error = json.loads(bad.content[0].text)["error"]
    assert error["type"] == "InputError" and error["field"] == "sha1"
    assert after.is_error is False  # the server is still up
    assert [c.path for c in live.calls()] == [f"/api/machines/{live.fleet.machines[0]['id']}"]


def test_an_api_failure_is_a_typed_error_result_without_secrets(live: Emulator) -> None:
    env = live.env()

    async def body(session: ClientSession) -> Any:
        return await session.call_tool("get_machine", {"machine_id": "0" * 40})

    result = with_server(env)(body)
    assert result.is_error is True
    text = result.content[0].text
    assert json.loads(text)["error"]["type"] == "NotFoundError"
    assert env["MDE_CLIENT_SECRET"] not in text


def test_read_only_offers_no_write_and_refuses_one(live: Emulator) -> None:
    async def body(session: ClientSession) -> Any:
        listed = await session.list_tools()
        refused = await session.call_tool(
            "isolate_machines",
            {"machine_ids": [live.fleet.machines[0]["id"]], "comment": "x"},
        )
        return listed, refused

    live.clear_log()
    listed, refused = with_server(live.env(), "--read-only")(body)
    pack = manifest.load()
    assert {t.name for t in listed.tools} == {n for n, a in pack.actions.items() if not a.writes}
    assert refused.is_error is True and "not offered" in refused.content[0].text
    assert live.calls() == []


def test_actions_narrows_the_tools(live: Emulator) -> None:
    listed = with_server(live.env(), "--actions", "get_machine,get_file")(lambda s: s.list_tools())
    assert sorted(t.name for t in listed.tools) == ["get_file", "get_machine"]


def test_bundled_schemas_judge_as_the_pack_does() -> None:
    from mdepack import validation

    pack = manifest.load()
    samples: list[tuple[str, Any]] = [
        ("get_file_machines", {"sha1": "a" * 40}),
        ("get_file_machines", {"sha1": "A" * 39}),
        ("isolate_machines", {"machine_ids": ["a" * 40], "comment": "x"}),
        ("isolate_machines", {"machine_ids": ["a" * 40], "comment": " "}),
        ("list_machines", {"risk_score": ["High", "Nope"]}),
    ]
    for name, instance in samples:
        ours = validation.action_validator(name, "input").is_valid(instance)
        theirs = jsonschema.Draft202012Validator(bundled(pack.action(name).input)).is_valid(
            instance
        )
        assert ours == theirs, (name, instance)


def test_the_streamable_http_transport_on_loopback(live: Emulator) -> None:
    import socket
    import subprocess
    import time

    from mcp.client.streamable_http import streamable_http_client

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "mdepack", "mcp", "--read-only", "--http", f"127.0.0.1:{port}"],
        env=user_env(live.env()),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        for _ in range(100):  # until it listens
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)

        async def main() -> Any:
            async with (
                streamable_http_client(f"http://127.0.0.1:{port}/mcp") as (read, write),
                ClientSession(read, write) as session,
            ):
                await session.initialize()
                listed = await session.list_tools()
                called = await session.call_tool("get_file", {"hash": live.fleet.file_with(1)})
                return listed, called

        listed, called = asyncio.run(main())
        assert "isolate_machines" not in {t.name for t in listed.tools}
        assert called.structured_content["found"] is True
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_http_refuses_an_address_off_loopback() -> None:
    from conftest import run_cli

    refused = run_cli("mcp", "--http", "0.0.0.0:8765")
    assert refused.code == 2 and "loopback" in refused.error["message"]
