"""The official Python MCP SDK against `baton serve` with auth required
(`BATON_AUTH__REQUIRED=true`): tokens made by `baton token create --data-dir`
before the server starts; an agent's bearer token works in the SDK's default
and legacy modes, a viewer sees only read tools, and no token gets 401 with
`WWW-Authenticate` pointing at the protected-resource metadata (RFC 9728).
"""

import asyncio
import json
import os
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from baton_server import serve

BATON = os.environ["BATON_BIN"]


def create_token(data, name, role):
    out = subprocess.run(
        [BATON, "token", "create", "--name", name, "--role", role, "--data-dir", data],
        capture_output=True, text=True, timeout=60, check=True,
    )
    secret = out.stdout.strip().splitlines()[-1]
    assert secret.startswith("baton_") and len(secret) == 6 + 64, out.stdout
    return secret


@pytest.fixture()
def team():
    data = tempfile.mkdtemp(prefix="baton-py-auth-")
    tokens = {role: create_token(data, f"py-{role}", role) for role in ("viewer", "agent", "admin")}
    with serve(data, env={"BATON_AUTH__REQUIRED": "true"}) as url:
        yield url, tokens


def client(url, token, mode):
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30)
    return Client(streamable_http_client(f"{url}/mcp", http_client=http), mode=mode)


def data_of(result):
    is_error = result.isError if hasattr(result, "isError") else result.is_error
    assert not is_error, result
    return result.structuredContent if hasattr(result, "structuredContent") else result.structured_content


@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_bearer_tokens_work_and_tools_follow_the_role(team, mode):
    url, tokens = team
    asyncio.run(work(url, tokens, mode))
    # the audit log names the token
    req = urllib.request.Request(
        f"{url}/api/v1/tasks/py-{mode}/events", headers={"Authorization": f"Bearer {tokens['viewer']}"}
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        events = json.loads(r.read())["events"]
    assert {e.get("actor") for e in events} == {"py-agent"}, events


async def work(url, tokens, mode):
    async with client(url, tokens["agent"], mode) as c:
        names = {t.name for t in (await c.list_tools()).tools}
        assert {"claim_next_task", "complete_task", "get_task"} <= names
        assert "cancel_task" not in names
        added = data_of(await c.call_tool("add_task", {"id": f"py-{mode}", "title": "from python"}))
        assert added["status"] == "ready"
        claim = data_of(await c.call_tool("claim_next_task", {"worker": "py"}))
        assert claim["claimed"], claim
        lease = claim["claim"]["lease"]["lease_id"]
        done = data_of(await c.call_tool("complete_task", {"task_id": f"py-{mode}", "lease_id": lease}))
        assert done["status"] == "done"
    async with client(url, tokens["viewer"], mode) as c:
        names = {t.name for t in (await c.list_tools()).tools}
        assert "get_task" in names and "claim_next_task" not in names and "add_task" not in names
        task = data_of(await c.call_tool("get_task", {"task_id": f"py-{mode}"}))
        assert (task.get("task") or task)["status"] == "done", task


def test_without_a_token_mcp_answers_401_with_the_metadata_url(team):
    url, _ = team
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}})
    req = urllib.request.Request(
        f"{url}/mcp", data=body.encode(), method="POST",
        headers={"Content-Type": "application/json", "Accept": "application/json, text/event-stream"},
    )
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=10)
    assert e.value.code == 401
    challenge = e.value.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ") and f'resource_metadata="{url}/.well-known/oauth-protected-resource"' in challenge
    with urllib.request.urlopen(f"{url}/.well-known/oauth-protected-resource", timeout=10) as r:
        meta = json.loads(r.read())
    assert meta["resource"] == f"{url}/mcp"
