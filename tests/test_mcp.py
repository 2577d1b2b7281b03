"""`mdepack mcp` tested with the MCP SDK's own client (`mcp.ClientSession` over stdio and over
streamable HTTP) against the emulator: the tool list and its schemas, calls whose structured
results the client validates against the output schemas, error results, least privilege by
default (reads only, the agent ceiling), bounded pages, and DNS-rebinding and token checks."""

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
from mdepack.invoke import prepared
from mdepack.schemas import bundled

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
    with Emulator(machines=120, action_pending_seconds=600) as emulator:
        yield emulator


def test_every_action_is_a_tool_with_self_contained_schemas(live: Emulator) -> None:
    listed = with_server(live.env(), "--allow-writes")(lambda s: s.list_tools())
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
    assert (tag.destructive_hint, tag.idempotent_hint) == (True, True)


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


@pytest.mark.parametrize("flags", [(), ("--read-only",)])
def test_reads_only_by_default_and_refuses_a_write(live: Emulator, flags: tuple[str, ...]) -> None:
    async def body(session: ClientSession) -> Any:
        listed = await session.list_tools()
        refused = await session.call_tool(
            "isolate_machines",
            {"machine_ids": [live.fleet.machines[0]["id"]], "comment": "x"},
        )
        return listed, refused

    live.clear_log()
    listed, refused = with_server(live.env(), *flags)(body)
    pack = manifest.load()
    reads = {n for n, a in pack.actions.items() if not a.writes and not a.sensitive}
    assert {t.name for t in listed.tools} == reads
    assert "get_investigation_package_uri" not in reads
    assert refused.is_error is True and "not offered" in refused.content[0].text
    assert live.calls() == []


def test_actions_narrows_the_tools(live: Emulator) -> None:
    listed = with_server(live.env(), "--actions", "get_machine,get_file")(lambda s: s.list_tools())
    assert sorted(t.name for t in listed.tools) == ["get_file", "get_machine"]


def test_bundled_schemas_judge_as_the_pack_does() -> None:

    pack = manifest.load()
    samples: list[tuple[str, Any]] = [
        ("get_file_machines", {"sha1": "a" * 40}),
        ("get_file_machines", {"sha1": "A" * 39}),
        ("isolate_machines", {"machine_ids": ["a" * 40], "comment": "x"}),
        ("isolate_machines", {"machine_ids": ["a" * 40], "comment": " "}),
        ("list_machines", {"risk_score": ["High", "Nope"]}),
    ]
    for name, instance in samples:
        ours = prepared(name).input.is_valid(instance)
        theirs = jsonschema.Draft202012Validator(bundled(pack.action(name).input)).is_valid(
            instance
        )
        assert ours == theirs, (name, instance)


def test_http_refuses_an_address_off_loopback() -> None:
    from conftest import run_cli

    for address in ("0.0.0.0:8765", "LOCALHOST:8765", "[0:0:0:0:0:0:0:1]:8765", "127.1:8765"):
        refused = run_cli("mcp", "--http", address)
        assert refused.code == 2 and "loopback" in refused.error["message"], address


# -- least privilege ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "word"),
    [
        (("--actions", ""), "at least one action"),
        (("--actions", "isolate_machines"), "--allow-writes"),
        (("--read-only", "--actions", "isolate_machines"), "--allow-writes"),
        (("--actions", "get_machine,nope"), "unknown action"),
    ],
)
def test_a_tool_set_that_cannot_be_served_as_asked_exits_2(
    flags: tuple[str, ...], word: str
) -> None:
    from conftest import run_cli

    refused = run_cli("mcp", *flags)
    assert refused.code == 2 and word in refused.error["message"]


def test_read_only_and_allow_writes_together_are_refused() -> None:
    from conftest import run_cli

    assert run_cli("mcp", "--read-only", "--allow-writes").code == 2


def test_the_package_link_is_offered_with_writes_or_by_name(live: Emulator) -> None:
    named = with_server(live.env(), "--actions", "get_investigation_package_uri")(
        lambda s: s.list_tools()
    )
    assert [t.name for t in named.tools] == ["get_investigation_package_uri"]
    writes = with_server(live.env(), "--allow-writes")(lambda s: s.list_tools())
    assert "get_investigation_package_uri" in {t.name for t in writes.tools}


def test_tools_that_release_undo_or_remove_are_destructive(live: Emulator) -> None:
    listed = with_server(live.env(), "--allow-writes")(lambda s: s.list_tools())
    hints = {t.name: t.annotations.destructive_hint for t in listed.tools}
    for name in (
        "isolate_machines",
        "unisolate_machines",
        "restrict_code_execution",
        "unrestrict_code_execution",
        "stop_and_quarantine_file",
        "cancel_machine_action",
        "tag_machines",
        "run_live_response",
        "upload_library_file",
    ):
        assert hints[name] is True, name
    reads = with_server(live.env())(lambda s: s.list_tools())
    offered = {t.name for t in reads.tools}
    assert {"run_live_response", "upload_library_file", "get_live_response_result"}.isdisjoint(
        offered
    )  # the writes, and the link (a secret), only when the operator allows them
    assert {"list_library_files", "run_hunting_query", "get_alert"} <= offered
    assert hints["run_antivirus_scan"] is False


def test_an_agent_cannot_raise_the_ceiling_of_ten_machines(live: Emulator) -> None:
    ids = [m["id"] for m in live.fleet.machines[:11]]
    arguments = {"machine_ids": ids, "comment": "x", "max_machines": 10000, "dry_run": True}

    async def body(session: ClientSession) -> Any:
        listed = await session.list_tools()
        called = await session.call_tool("isolate_machines", arguments)
        return listed, called

    listed, refused = with_server(live.env(), "--allow-writes")(body)
    isolate = next(t for t in listed.tools if t.name == "isolate_machines")
    assert "at most 10 machines" in (isolate.description or "")
    error = json.loads(refused.content[0].text)["error"]
    assert refused.is_error and error["type"] == "GuardError"
    assert "MDE_MAX_MACHINES_CEILING" in error["message"]
    operator = {**live.env(), "MDE_MAX_MACHINES_CEILING": "20"}
    _listed, planned = with_server(operator, "--allow-writes")(body)
    assert planned.is_error is False and planned.structured_content["planned"] == ids


# -- schemas and answers for real clients --------------------------------------------------


def test_input_schemas_carry_no_ref_so_clients_see_each_type(live: Emulator) -> None:
    listed = with_server(live.env(), "--allow-writes")(lambda s: s.list_tools())
    for tool in listed.tools:
        assert "$ref" not in json.dumps(tool.input_schema), tool.name
    isolate = next(t for t in listed.tools if t.name == "isolate_machines").input_schema
    assert isolate["properties"]["dry_run"]["type"] == "boolean"
    assert isolate["properties"]["max_machines"]["type"] == "integer"
    # a machine id or a computer DNS name, each with its pattern spelled out
    branches = isolate["properties"]["machine_ids"]["items"]["anyOf"]
    assert all(branch["pattern"] for branch in branches)


def test_a_collection_answers_a_bounded_page_and_says_more_exist(live: Emulator) -> None:
    async def body(session: ClientSession) -> Any:
        await session.list_tools()
        first = await session.call_tool("list_machines", {})
        wider = await session.call_tool("list_machines", {"limit": 200, "fields": ["id"]})
        return first, wider

    first, wider = with_server(live.env())(body)
    page = first.structured_content
    assert len(page["machines"]) == 50 and page["count"] == 50 and page["more"] is True
    assert "limit" in page["note"]
    assert len(first.content[0].text) < 1000  # the payload travels once, not twice
    everything = wider.structured_content
    assert len(everything["machines"]) == 120 and "more" not in everything
    assert json.loads(wider.content[0].text) == everything  # small: as text too


# -- streamable HTTP -----------------------------------------------------------------------


class HttpServer:
    """`mdepack mcp --http ADDRESS` in a subprocess; its URL and token read from stderr."""

    def __init__(self, env: dict[str, str], address: str, *flags: str) -> None:
        import subprocess

        self.process = subprocess.Popen(
            [sys.executable, "-m", "mdepack", "mcp", *flags, "--http", address],
            env=user_env(env),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stderr is not None
        serving = self.process.stderr.readline()
        assert serving.startswith("mdepack mcp: serving http://"), serving
        self.url = serving.split()[-1]
        self.token = self.process.stderr.readline().split()[-1]
        self.host = self.url.split("/")[2]

    def post(self, body: dict[str, Any], **headers: str) -> Any:
        import requests

        base = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
        return requests.post(self.url, json=body, headers={**base, **headers}, timeout=10)

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "probe", "version": "1"},
    },
}


def test_the_streamable_http_transport_on_loopback(live: Emulator) -> None:
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    served = HttpServer(live.env(), "127.0.0.1:0")
    try:

        async def main() -> Any:
            headers = {"Authorization": f"Bearer {served.token}"}
            async with (
                httpx2.AsyncClient(headers=headers, timeout=30) as http,
                streamable_http_client(served.url, http_client=http) as (read, write),
                ClientSession(read, write) as session,
            ):
                await session.initialize()
                listed = await session.list_tools()
                called = await session.call_tool("get_file", {"hash": live.fleet.file_with(1)})
                return listed, called

        listed, called = asyncio.run(main())
        assert "isolate_machines" not in {t.name for t in listed.tools}
        assert called.structured_content["found"] is True
        assert served.url.endswith("/mcp")
    finally:
        served.close()


def test_http_on_any_loopback_address_refuses_a_rebound_host_and_a_missing_token(
    live: Emulator,
) -> None:
    served = HttpServer(live.env(), "127.0.0.2:0", "--allow-writes")
    live.clear_log()
    try:
        token = {"Authorization": f"Bearer {served.token}"}
        assert served.post(INITIALIZE).status_code == 401
        assert served.post(INITIALIZE, Authorization="Bearer wrong").status_code == 401
        assert served.post(INITIALIZE, Host="evil.example", **token).status_code == 421
        origin = served.post(INITIALIZE, Origin="http://evil.example", **token)
        assert origin.status_code == 403
        assert served.post(INITIALIZE, **token).status_code == 200
        assert served.post(INITIALIZE, Host=served.host, **token).status_code == 200
    finally:
        served.close()
    assert live.calls() == []


def test_http_takes_its_token_from_mde_mcp_token(live: Emulator) -> None:
    served = HttpServer({**live.env(), "MDE_MCP_TOKEN": "operator-chosen-token-123"}, "127.0.0.3:0")
    try:
        assert served.token == "$MDE_MCP_TOKEN"
        ok = served.post(INITIALIZE, Authorization="Bearer operator-chosen-token-123")
        assert ok.status_code == 200
    finally:
        served.close()
