"""Issue 30, must-show 2: the official Python SDK in its default mode
(protocol 2026-07-28) gets baton's change notifications through
`subscriptions/listen`: an event for `task://{id}` within a second of
another client completing the task, and one for `inbox://{worker}` when a
message reaches that worker."""

import asyncio
import json
import tempfile
import time
import urllib.request

import pytest
from mcp import Client
from mcp.shared.subscriptions import ResourceUpdated

from baton_server import serve


@pytest.fixture()
def server():
    data = tempfile.mkdtemp(prefix="baton-py-listen-")
    with serve(data) as url:
        yield url


def post(url, path, body, worker=None):
    req = urllib.request.Request(
        f"{url}/api/v1{path}", data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json", **({"X-Baton-Worker": worker} if worker else {})},
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


async def next_update(sub, uri, within):
    """The first ResourceUpdated event for `uri` within `within` seconds."""
    async def wait():
        async for event in sub:
            if isinstance(event, ResourceUpdated) and event.uri == uri:
                return event
        pytest.fail("the stream ended")
    return await asyncio.wait_for(wait(), within)


def test_default_mode_listen_gets_task_and_inbox_updates(server):
    post(server, "/tasks", {"id": "t1", "title": "one"})
    lease = post(server, "/tasks/t1/claim", {"worker": "b"})["lease"]["lease_id"]

    async def main():
        async with Client(f"{server}/mcp") as c:  # the SDK's default mode
            async with c.listen(resource_subscriptions=["task://t1", "inbox://w"]) as sub:
                # another client (REST) completes the task
                started = time.monotonic()
                post(server, "/tasks/t1/complete", {"lease_id": lease})
                await next_update(sub, "task://t1", 5)
                took = time.monotonic() - started
                assert took < 1.0, f"the task's event took {took:.2f} s"
                # a message to the worker reaches its inbox subscription
                post(server, "/messages", {"to": {"worker": "w"}, "subject": "hi"}, worker="a")
                await next_update(sub, "inbox://w", 5)

    asyncio.run(main())
