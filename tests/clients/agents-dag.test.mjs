// Real Claude Code agents (the pinned `claude -p` CLI, its real MCP client and tools) work a
// DAG through baton (issue 29, "Must show" 1). The model is scripted (fake-anthropic.mjs);
// everything else — Claude Code's agent loop, its `.mcp.json` HTTP client, its Bash tool,
// baton — is the real thing.
//
// Three agents loop: claim_next_task (as themselves) → Bash (write a file for the task) →
// complete_task, until a claim finds nothing ready and nothing is running; when a claim finds
// nothing but a task still runs, they wait for it with wait_for_task and claim again.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startWorld, describeRuns } from "./agents.mjs";

/** 12 tasks: three roots, two chains, fan-ins of two, three and four. */
const DAG = [
  { id: "a1", deps: [] },
  { id: "a2", deps: ["a1"] },
  { id: "a3", deps: ["a2"] },
  { id: "b1", deps: [] },
  { id: "b2", deps: ["b1"] },
  { id: "c1", deps: [] },
  { id: "d1", deps: ["a1", "b1"] },
  { id: "d2", deps: ["d1", "c1"] },
  { id: "f1", deps: ["c1"] },
  { id: "f2", deps: ["f1", "a2"] },
  { id: "e1", deps: ["a3", "b2", "d2", "f2"] },
  { id: "e2", deps: ["e1"] },
];
const AGENTS = ["agent-1", "agent-2", "agent-3"];

/**
 * One agent's loop. The barrier makes every agent hold a task before any completes one (there
 * are three roots), so all three do work however the three CLIs' start-up times fall.
 */
const WORKER = [
  { label: "claim", tool: "mcp__baton__claim_next_task", input: { worker: "{{agent}}" }, as: "claim" },
  { goto: "idle", when: { "claim.claimed": false } },
  { barrier: "every agent holds a task" },
  {
    tool: "Bash",
    input: { command: "mkdir -p out && echo {{agent}} > out/{{claim.claim.task.id}}.txt", description: "do the task" },
    as: "work",
  },
  {
    tool: "mcp__baton__complete_task",
    input: { task_id: "{{claim.claim.task.id}}", lease_id: "{{claim.claim.lease.lease_id}}", output: { by: "{{agent}}" } },
    as: "done",
  },
  { goto: "claim" },
  { label: "idle", tool: "mcp__baton__list_tasks", input: { status: "running", limit: 1 }, as: "running" },
  { goto: "end", when: { "running.tasks": [] } },
  { tool: "mcp__baton__wait_for_task", input: { task_id: "{{running.tasks.0.id}}", timeout_secs: 30 } },
  { goto: "claim" },
  { label: "end", text: "Nothing is ready and nothing is running: the board is done." },
];

test("three Claude Code agents work a 12-task DAG through baton's MCP tools, in dependency order, each task once", { timeout: 150_000 }, async (t) => {
  const world = await startWorld({ scripts: Object.fromEntries(AGENTS.map((a) => [a, WORKER])) });
  t.after(() => world.close());

  const added = await world.rest("POST", "/api/v1/tasks", {
    tasks: DAG.map(({ id, deps }) => ({ id, title: `task ${id}`, dependencies: deps })),
  });
  assert.equal(added.status, 201, JSON.stringify(added.json));

  const started = Date.now();
  const runs = await world.run(AGENTS.map((name) => ({ name })), { timeoutMs: 90_000 });
  const took = Date.now() - started;
  const kinds = {};
  for (const q of world.fake.requests) kinds[q.kind] = (kinds[q.kind] ?? 0) + 1;
  console.log(`3 agents, 12 tasks: ${took} ms; model requests ${JSON.stringify(kinds)}`);
  const report = () => `${describeRuns(runs)}\nfake errors: ${world.fake.errors().join("\n")}`;
  assert.deepEqual(world.fake.errors(), [], report());
  for (const r of runs) {
    assert.equal(r.timedOut, false, report());
    assert.equal(r.code, 0, report());
    assert.equal(r.result?.is_error, false, report());
    assert.equal(r.result?.result, "Nothing is ready and nothing is running: the board is done.", report());
  }
  // nothing the fake did not understand, and every tool call the models made went through
  assert.deepEqual(world.fake.requests.filter((q) => q.kind === "unknown").map((q) => `${q.method} ${q.path}`), []);
  for (const name of AGENTS) {
    const failed = world.fake.toolResults(name).filter((r) => r.isError);
    assert.deepEqual(failed.map((r) => `${r.name}: ${r.text}`), [], `${name}'s model was sent errors`);
  }

  // the board: every task done
  const { json: board } = await world.rest("GET", "/api/v1/tasks?limit=100");
  assert.deepEqual(
    board.tasks.map((x) => [x.id, x.status]).sort(),
    DAG.map(({ id }) => [id, "done"]).sort(),
  );

  // each task leased exactly once, and that lease completed it
  const { json: history } = await world.rest("GET", "/api/v1/leases?limit=100");
  const leases = new Map();
  for (const l of history.leases) {
    assert.ok(!leases.has(l.task_id), `${l.task_id} leased twice: ${JSON.stringify(history.leases.filter((x) => x.task_id === l.task_id))}`);
    leases.set(l.task_id, l);
  }
  assert.deepEqual([...leases.keys()].sort(), DAG.map(({ id }) => id).sort());
  for (const l of leases.values()) assert.equal(l.outcome, "done", JSON.stringify(l));

  // dependency order from the audit log's global event ids: a task's claim comes after every
  // one of its dependencies' completion
  const events = new Map();
  for (const { id } of DAG) {
    const { json } = await world.rest("GET", `/api/v1/tasks/${id}/events`);
    const list = json.events ?? json;
    const of = (kind) => list.filter((e) => e.kind === kind);
    assert.equal(of("task_claimed").length, 1, `${id}: ${JSON.stringify(list)}`);
    assert.equal(of("task_completed").length, 1, `${id}: ${JSON.stringify(list)}`);
    events.set(id, { claimed: of("task_claimed")[0], completed: of("task_completed")[0] });
  }
  for (const { id, deps } of DAG) {
    const { claimed } = events.get(id);
    for (const d of deps) {
      const done = events.get(d).completed;
      assert.ok(claimed.id > done.id, `${id} claimed (event ${claimed.id}) before ${d} was done (event ${done.id})`);
    }
    // claimed and completed by the same agent, who also did the work (the Bash side effect)
    const { completed } = events.get(id);
    assert.equal(completed.worker, claimed.worker, id);
    assert.equal(readFileSync(join(world.project, "out", `${id}.txt`), "utf8").trim(), claimed.worker, id);
  }

  // all three agents did work, through their own MCP sessions
  const byWorker = new Map(AGENTS.map((a) => [a, 0]));
  for (const { claimed } of events.values()) byWorker.set(claimed.worker, (byWorker.get(claimed.worker) ?? 0) + 1);
  console.log(`tasks per agent: ${JSON.stringify(Object.fromEntries(byWorker))}`);
  assert.deepEqual([...byWorker.keys()].sort(), AGENTS);
  for (const [a, n] of byWorker) assert.ok(n >= 1, `${a} did no task: ${JSON.stringify(Object.fromEntries(byWorker))}`);
  // what each model was told agrees with the board: its claims and completions were its own
  for (const name of AGENTS) {
    const completed = world.fake
      .toolResults(name)
      .filter((r) => r.name === "mcp__baton__complete_task")
      .map((r) => JSON.parse(r.text));
    assert.equal(completed.length, byWorker.get(name), name);
    for (const task of completed) assert.deepEqual([task.status, task.output], ["done", { by: name }], name);
  }
});
