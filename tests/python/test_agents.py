"""The official Python MCP SDK against a real `baton serve`: 8 concurrent agents
work a 200-task board with dependencies through MCP only, in the SDK's legacy
(session) mode and in 2026-07-28 (stateless) mode.

Checks: every task is completed exactly once, no task is claimed before its
dependencies completed (from baton's audit log), and a stale lease is refused.
"""

import asyncio
import json
import tempfile
import time
import urllib.request

import pytest
from mcp import Client

from baton_server import serve

AGENTS = 8
TASKS = 200


@pytest.fixture()
def server():
    data = tempfile.mkdtemp(prefix="baton-py-")
    with serve(data, env={"BATON_SLOTS__COUNT": "8"}) as url:
        yield url


def rest(url, path):
    with urllib.request.urlopen(f"{url}/api/v1{path}", timeout=10) as r:
        return json.loads(r.read())


def structured(result):
    assert not result.isError if hasattr(result, "isError") else not result.is_error, result
    return result.structuredContent if hasattr(result, "structuredContent") else result.structured_content


def is_error(result):
    return result.isError if hasattr(result, "isError") else result.is_error


def board():
    """40 roots, each with 4 dependents (fan-out) = 200 tasks."""
    tasks = []
    for r in range(40):
        tasks.append({"id": f"r{r}", "title": f"root {r}"})
    for c in range(160):
        tasks.append({"id": f"c{c}", "title": f"child {c}", "dependencies": [f"r{c // 4}"]})
    return tasks


async def agent(url, mode, name, completions, stop_at):
    async with Client(f"{url}/mcp", mode=mode) as c:
        idle = 0
        while time.monotonic() < stop_at:
            r = await c.call_tool("claim_next_task", {"worker": name})
            if is_error(r):
                # no free slot right now: back off briefly (the load, nothing asserted)
                await asyncio.sleep(0.005)
                continue
            claim = structured(r)
            if not claim["claimed"]:
                if sum(completions.values()) >= TASKS:
                    return
                idle += 1
                # nothing claimable yet: an idle agent's backoff (the load, nothing asserted)
                await asyncio.sleep(min(0.002 * idle, 0.05))
                continue
            idle = 0
            task = claim["claim"]["task"]["id"]
            lease = claim["claim"]["lease"]["lease_id"]
            done = await c.call_tool("complete_task", {"task_id": task, "lease_id": lease, "output": name})
            assert structured(done)["status"] == "done"
            completions[task] = completions.get(task, 0) + 1


async def work_board(url, mode):
    async with Client(f"{url}/mcp", mode=mode) as c:
        added = structured(await c.call_tool("add_tasks", {"tasks": board()}))
        # all are added; a result over [mcp] max_result_bytes shows the first ones and says how many more
        shown = len(added["tasks"])
        assert shown == TASKS or added["more"].startswith(f"{TASKS - shown} more tasks"), added.get("more")
    completions = {}
    stop_at = time.monotonic() + 120
    await asyncio.gather(*(agent(url, mode, f"{mode}-agent-{i}", completions, stop_at) for i in range(AGENTS)))
    return completions


def audit_order(url):
    completed, claimed = {}, {}
    cursor = None
    tasks = []
    while True:
        page = rest(url, "/tasks?limit=1000" + (f"&cursor={cursor}" if cursor else ""))
        tasks += page["tasks"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    for t in tasks:
        for e in rest(url, f"/tasks/{t['id']}/events")["events"]:
            if e["kind"] == "task_completed":
                completed[t["id"]] = e["id"]
            if e["kind"] == "task_claimed":
                claimed[t["id"]] = e["id"]
    return tasks, completed, claimed


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
def test_eight_agents_work_a_board_through_mcp(server, mode):
    completions = asyncio.run(work_board(server, mode))
    assert len(completions) == TASKS, f"only {len(completions)} tasks completed"
    assert all(n == 1 for n in completions.values()), "a task was completed twice"
    tasks, completed, claimed = audit_order(server)
    assert all(t["status"] == "done" for t in tasks)
    for t in tasks:
        for d in t["dependencies"]:
            assert claimed[t["id"]] > completed[d], f"{t['id']} claimed before {d} completed"


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
def test_a_stale_lease_is_refused(server, mode):
    async def scenario():
        async with Client(f"{server}/mcp", mode=mode) as a, Client(f"{server}/mcp", mode=mode) as b:
            structured(await a.call_tool("add_task", {"id": "contended", "title": "x"}))
            first = structured(await a.call_tool("claim_next_task", {"worker": "a"}))["claim"]
            old = first["lease"]["lease_id"]
            structured(await a.call_tool("release_task", {"task_id": "contended", "lease_id": old}))
            second = structured(await b.call_tool("claim_next_task", {"worker": "b"}))["claim"]
            assert second["lease"]["lease_id"] > old
            r = await a.call_tool("complete_task", {"task_id": "contended", "lease_id": old})
            assert is_error(r)
            # an error result carries no structuredContent (issue 13.7): the error is its text
            assert (r.structuredContent if hasattr(r, "structuredContent") else r.structured_content) is None
            err = json.loads(r.content[0].text)
            assert err["error"]["code"] == "stale_lease"
            r = await a.call_tool("context_set", {"task_id": "contended", "lease_id": old, "key": "k", "value": 1})
            assert is_error(r)
            done = structured(await b.call_tool("complete_task", {"task_id": "contended", "lease_id": second["lease"]["lease_id"]}))
            assert done["status"] == "done"

    asyncio.run(scenario())
