"""The official Python MCP SDK against a real `baton serve` with the real
`@modelcontextprotocol/server-everything` (npm, `make downstream`) behind its
gateway, in the SDK's default mode (`Client(url)`, which negotiates 2026-07-28)
and in legacy mode (issue 13.3): every `<server>__<tool>` call and gateway
`prompts/get` used to fail inside the SDK's default mode with "`resultType`
Field required" because forwarded results lacked it. Also: error results carry
no structuredContent (13.7), listings page (13.6), and a clean close ends the
session without "Session termination failed" (13.5).
"""

import asyncio
import json
import logging
import pathlib
import tempfile
import time

import pytest
from mcp import Client

from baton_server import serve

EVERYTHING = (
    pathlib.Path(__file__).resolve().parents[1]
    / "downstream/node_modules/@modelcontextprotocol/server-everything/dist/index.js"
)


@pytest.fixture()
def server():
    assert EVERYTHING.exists(), "run `make downstream` first"
    data = tempfile.mkdtemp(prefix="baton-py-gw-")
    servers = pathlib.Path(data) / "mcp.json"
    servers.write_text(json.dumps({"mcpServers": {"everything": {"command": "node", "args": [str(EVERYTHING), "stdio"]}}}))
    with serve(f"{data}/db", args=("--mcp-servers", str(servers))) as url:
        yield url


def field(result, camel, snake):
    return getattr(result, camel) if hasattr(result, camel) else getattr(result, snake)


async def gateway_tools(c, deadline):
    """The gateway's tools once server-everything is ready (it starts beside baton)."""
    while True:
        names = {t.name for t in (await c.list_tools()).tools}
        if "everything__echo" in names or time.monotonic() > deadline:
            return names
        await asyncio.sleep(0.1)  # a bounded poll: the caller asserts on what it returns


@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_gateway_tools_and_prompts_work_in_default_and_legacy_mode(server, mode, caplog):
    caplog.set_level(logging.INFO)

    async def scenario():
        async with Client(f"{server}/mcp", mode=mode) as c:
            names = await gateway_tools(c, time.monotonic() + 60)
            assert "everything__echo" in names, sorted(names)
            r = await c.call_tool("everything__echo", {"message": "hi"})
            assert not field(r, "isError", "is_error"), r
            assert "hi" in json.dumps([b.model_dump() for b in r.content])
            r = await c.call_tool("everything__get-sum", {"a": 2, "b": 3})
            assert not field(r, "isError", "is_error"), r
            assert "5" in json.dumps([b.model_dump() for b in r.content])
            p = await c.get_prompt("everything__simple-prompt")
            assert p.messages, p
            # a downstream refusal: an error result, no structuredContent
            r = await c.call_tool("everything__echo", {})
            assert field(r, "isError", "is_error"), r
            assert field(r, "structuredContent", "structured_content") is None
            # baton's own refusal: the error JSON in the text, no structuredContent
            r = await c.call_tool("get_task", {"task_id": "nope"})
            assert field(r, "isError", "is_error")
            assert field(r, "structuredContent", "structured_content") is None
            assert json.loads(r.content[0].text)["error"]["code"] == "task_not_found"
            # a listing pages
            await c.call_tool("add_tasks", {"tasks": [{"id": f"p{i:02}", "title": "x"} for i in range(60)]})
            first = field(await c.call_tool("get_available_tasks", {}), "structuredContent", "structured_content")
            assert len(first["tasks"]) == 50 and first["next_cursor"]
            rest = field(
                await c.call_tool("get_available_tasks", {"cursor": first["next_cursor"]}),
                "structuredContent", "structured_content",
            )
            assert len(rest["tasks"]) == 10 and rest.get("next_cursor") is None

    asyncio.run(scenario())
    failed = [r.getMessage() for r in caplog.records if "termination failed" in r.getMessage().lower()]
    assert not failed, failed
