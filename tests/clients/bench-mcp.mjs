// MCP benchmark with the official TypeScript SDK (what Node agents such as Claude Code use),
// beside Node's own `fetch` against the REST API in the same run (`make bench` runs it after
// `cargo bench --bench mcp`; see BENCHMARKS.md). Not a test: `node --test` does not pick it up.
//
//   node tests/clients/bench-mcp.mjs [--baton target/release/baton] [--tasks 2000]
//
// For each concurrency (1, 8, 64 workers) and each path, a fresh `baton serve` (its own data
// dir, `slots = 64`, on 127.0.0.1:0) gets `--tasks` tasks over REST, then the workers
// claim→complete until nothing is ready:
//   - TS SDK: one `Client` + `StreamableHTTPClientTransport` session per worker,
//     `callTool("claim_next_task")` then `callTool("complete_task")` (the SDK validates each
//     result against the tool's output schema, as it does for every agent);
//   - fetch:  `POST /api/v1/tasks/claim-next` then `POST /api/v1/tasks/{id}/complete` with Node's
//     built-in fetch (undici, keep-alive).
// A call is one tool call or one REST request. Prints calls/s over all workers and p50/p99 per
// call as a Markdown table. Every loop is bounded by the task count and a 120 s deadline.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { serve } from "./baton.mjs";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const here = dirname(fileURLToPath(import.meta.url));
const { values: opts } = parseArgs({
  options: {
    baton: { type: "string", default: join(here, "../../target/release/baton") },
    tasks: { type: "string", default: "2000" },
    workers: { type: "string", default: "1,8,64" },
  },
});
const TASKS = Number(opts.tasks);
const DEADLINE_MS = 120_000;

/** `baton serve` on 127.0.0.1:0 with a fresh data dir; resolves with { base, stop }. */
async function fresh() {
  const dataDir = mkdtempSync(join(tmpdir(), "baton-bench-mcp-"));
  const { child, url } = serve(opts.baton, dataDir, [], {
    BATON_SLOTS__COUNT: "64",
    BATON_LEASES__TTL_SECS: "600",
    BATON_TASKS__MAX_BATCH: "10000",
  });
  const base = await url;
  const stop = async () => {
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    await exited;
    rmSync(dataDir, { recursive: true, force: true });
  };
  return { base, stop };
}

async function addAll(base) {
  for (let start = 0; start < TASKS; start += 1000) {
    const tasks = [];
    for (let i = start; i < Math.min(start + 1000, TASKS); i++) tasks.push({ id: `t${i}`, title: "bench" });
    const res = await fetch(`${base}/api/v1/tasks`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ tasks }),
    });
    if (res.status !== 201) throw new Error(`add: ${res.status} ${await res.text()}`);
  }
}

async function timed(lat, f) {
  const t = process.hrtime.bigint();
  const r = await f();
  lat.push(Number(process.hrtime.bigint() - t) / 1e6);
  return r;
}

async function sdkWorker(base, w, start) {
  const client = new Client({ name: "baton-bench", version: "0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${base}/mcp`)));
  const lat = [];
  while (Date.now() - start < DEADLINE_MS) {
    const c = await timed(lat, () => client.callTool({ name: "claim_next_task", arguments: { worker: `w${w}` } }));
    if (c.isError) throw new Error(`claim: ${JSON.stringify(c)}`);
    if (!c.structuredContent.claimed) break;
    const { task, lease } = c.structuredContent.claim;
    const r = await timed(lat, () =>
      client.callTool({ name: "complete_task", arguments: { task_id: task.id, lease_id: lease.lease_id } }),
    );
    if (r.isError) throw new Error(`complete: ${JSON.stringify(r)}`);
  }
  await client.close();
  return lat;
}

async function fetchWorker(base, w, start) {
  const lat = [];
  const post = (path, body) =>
    fetch(`${base}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  while (Date.now() - start < DEADLINE_MS) {
    const res = await timed(lat, async () => {
      const r = await post("/api/v1/tasks/claim-next", { worker: `w${w}` });
      return { status: r.status, body: r.status === 200 ? await r.json() : await r.text() };
    });
    if (res.status === 204) break;
    if (res.status !== 200) throw new Error(`claim: ${res.status} ${res.body}`);
    const done = await timed(lat, async () => {
      const r = await post(`/api/v1/tasks/${encodeURIComponent(res.body.task.id)}/complete`, {
        lease_id: res.body.lease.lease_id,
      });
      await r.arrayBuffer();
      return r.status;
    });
    if (done !== 200) throw new Error(`complete: ${done}`);
  }
  return lat;
}

async function run(worker, workers) {
  const { base, stop } = await fresh();
  try {
    await addAll(base);
    const start = Date.now();
    const lats = await Promise.all(Array.from({ length: workers }, (_, w) => worker(base, w, start)));
    const secs = (Date.now() - start) / 1000;
    const lat = lats.flat().sort((a, b) => a - b);
    if (lat.length !== 2 * TASKS + workers) throw new Error(`only ${lat.length} calls before the deadline`);
    const pct = (q) => lat[Math.round((lat.length - 1) * q)];
    return { rate: lat.length / secs, p50: pct(0.5), p99: pct(0.99) };
  } finally {
    await stop();
  }
}

console.log(`## claim→complete from Node ${process.version}: TypeScript SDK tool calls vs fetch REST requests (${TASKS} tasks per run)\n`);
console.log("| workers | path | calls/s | p50 call (ms) | p99 call (ms) |");
console.log("|---:|---|---:|---:|---:|");
for (const workers of opts.workers.split(",").map(Number)) {
  for (const [name, worker] of [
    ["REST (Node fetch)", fetchWorker],
    ["MCP (TypeScript SDK)", sdkWorker],
  ]) {
    const r = await run(worker, workers);
    console.log(`| ${workers} | ${name} | ${r.rate.toFixed(0)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} |`);
  }
}
