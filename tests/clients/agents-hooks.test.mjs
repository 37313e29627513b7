// A real Claude Code agent keeps its lease through baton's hooks (issue 29, "Must show" 2, 3, 4, 6): the
// pinned `claude -p` CLI, its real tools and its real `http` hooks, installed by `baton hooks
// install` into a project, against the real binary with a lease TTL of 5 s. The model is
// scripted (fake-anthropic.mjs).
//
// The agent claims a task, then works for three TTLs in Bash (`sleep 1`) and Edit steps —
// never calling baton — and completes the task with the lease it claimed. With the hooks,
// every PreToolUse/PostToolUse is activity that renews the lease, and the PostToolUse hooks
// leave progress lines in the task's `progress` context key: the completion succeeds. The
// control runs the same script in a project without the hooks: the lease lapses during the
// work and the completion is refused. ("Must show" 4:) an agent that tries to stop while it
// holds a lease is blocked once and told why, and its SessionEnd frees the lease at once.
// ("Must show" 6:) with auth required, the hooks send the agent's own token. ("Must show" 3:)
// two agents, one file: the first's Write reserves it for its lease (PreToolUse, `[hooks]
// auto_reserve`), the second's Edit of it is denied naming the first, and the file is unchanged.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startWorld, describeRuns, waitUntil, BATON } from "./agents.mjs";

/** The lease TTL the server runs with, in seconds. */
const TTL_SECS = 5;
/** How long the agent works between claim and completion without calling baton (3 TTLs). */
const WORK_MS = 3 * TTL_SECS * 1000;

/**
 * The agent's script. `times` gets, per agent, when its claim came back and when its work
 * ended (the fake's clock: the model saw the claim's result at the first, and asks to complete
 * right after the second).
 */
function script(times) {
  return [
    { tool: "mcp__baton__claim_next_task", input: {}, as: "claim" },
    (v) => {
      times.set(v.agent, { claimed: Date.now() });
    },
    {
      tool: "Write",
      input: { file_path: "{{project}}/notes.md", content: "# notes\nend\n" },
      as: "write",
    },
    {
      label: "work",
      tool: "Bash",
      input: { command: "sleep 1 && echo step {{turn}} >> out.log", description: "work a while" },
      as: "bash",
    },
    {
      tool: "Edit",
      input: { file_path: "{{project}}/notes.md", old_string: "\nend\n", new_string: "\nstep {{turn}}\nend\n" },
      as: "edit",
    },
    (v) => (Date.now() - times.get(v.agent).claimed < WORK_MS ? { goto: "work" } : undefined),
    (v) => {
      times.get(v.agent).worked = Date.now();
    },
    {
      tool: "mcp__baton__complete_task",
      input: { task_id: "{{claim.claim.task.id}}", lease_id: "{{claim.claim.lease.lease_id}}", output: { by: "{{agent}}" } },
      as: "done",
    },
    { text: "Finished." },
  ];
}

/**
 * A world on `ttl` s leases with one task `api`, agent `worker` playing `scripts.worker` (by
 * default {@link script}); `hooks` runs `baton hooks install` in its project.
 */
async function world(t, { hooks, ttl = TTL_SECS, scripts, auth }) {
  const times = new Map();
  let admin;
  const w = await startWorld({
    scripts: scripts ?? { worker: script(times) },
    batonEnv: {
      BATON_LEASES__TTL_SECS: String(ttl),
      BATON_HOOKS__PROGRESS_INTERVAL_MS: "1000",
      ...(auth ? { BATON_AUTH__REQUIRED: "true" } : {}),
    },
    beforeServe: (data) => {
      if (!auth) return;
      const out = execFileSync(BATON, ["token", "create", "--name", "admin", "--role", "admin", "--data-dir", data], { encoding: "utf8" });
      admin = out.trim().split("\n").at(-1);
    },
  });
  t.after(() => w.close());
  w.admin = admin;
  if (hooks) {
    // what the README tells a user to run, into the project agents.mjs wrote (its .mcp.json and
    // permissions are kept: one MCP entry, the allow-list intact)
    const args = ["hooks", "install", "--dir", w.project, "--url", w.base, ...(auth ? ["--auth"] : [])];
    execFileSync(BATON, args, { stdio: "pipe" });
  }
  const added = await w.rest("POST", "/api/v1/tasks", { id: "api", title: "the api task" }, admin);
  assert.equal(added.status, 201, JSON.stringify(added.json));
  return { w, times };
}

/** The lease history of task `api`. */
async function leasesOf(w) {
  const { json } = await w.rest("GET", "/api/v1/leases?limit=100", undefined, w.admin);
  return json.leases.filter((l) => l.task_id === "api");
}

test("a Claude Code agent that works three lease TTLs without calling baton keeps its lease through the PostToolUse hook", { timeout: 120_000 }, async (t) => {
  const { w, times } = await world(t, { hooks: true });
  const settings = JSON.parse(readFileSync(join(w.project, ".claude/settings.json"), "utf8"));
  assert.deepEqual(settings.permissions?.allow, ["mcp__baton", "Bash", "Edit", "Write"], "install kept the project's allow-list");
  assert.ok(settings.hooks?.PostToolUse, JSON.stringify(settings));

  const [run] = await w.run([{ name: "worker" }], { timeoutMs: 90_000 });
  const report = () => `${describeRuns([run])}\nfake errors: ${w.fake.errors().join("\n")}`;
  assert.deepEqual(w.fake.errors(), [], report());
  assert.equal(run.timedOut, false, report());
  assert.equal(run.code, 0, report());
  assert.equal(run.result?.result, "Finished.", report());

  const { claimed, worked } = times.get("worker");
  assert.ok(worked - claimed >= WORK_MS, `worked ${worked - claimed} ms, not three TTLs`);
  // every tool ran, and the completion with the lease claimed 15 s earlier was accepted
  const results = w.fake.toolResults("worker");
  assert.deepEqual(results.filter((r) => r.isError).map((r) => `${r.name}: ${r.text}`), [], report());
  const done = results.find((r) => r.name === "mcp__baton__complete_task");
  assert.ok(done, report());
  assert.deepEqual([JSON.parse(done.text).status, JSON.parse(done.text).output], ["done", { by: "worker" }]);
  const steps = results.filter((r) => r.name === "Bash").length;
  assert.ok(steps >= 3, `only ${steps} Bash steps`);

  // one lease, never lapsed, renewed past its first expiry, and it completed the task
  const leases = await leasesOf(w);
  assert.equal(leases.length, 1, JSON.stringify(leases));
  assert.equal(leases[0].outcome, "done", JSON.stringify(leases));
  assert.equal(leases[0].worker, "worker", JSON.stringify(leases));

  // the PostToolUse hooks' progress lines are in the task's context: tool and file
  const { status, json: progress } = await w.rest("GET", "/api/v1/tasks/api/context/progress");
  assert.equal(status, 200, JSON.stringify(progress));
  // (one line a second at most, [hooks] progress_interval_ms = 1000 here: an Edit right after
  // a Bash is counted in the next line's "+N more" rather than written)
  const lines = progress.value.map((l) => l.line);
  assert.equal(lines[0], "Write notes.md", JSON.stringify(lines));
  assert.ok(lines.filter((l) => l.startsWith("Bash: sleep 1 && echo step")).length >= 3, JSON.stringify(lines));
});

test("the control: the same agent without the hooks loses its lease while it works, and its completion is refused", { timeout: 120_000 }, async (t) => {
  const { w, times } = await world(t, { hooks: false });
  const [run] = await w.run([{ name: "worker" }], { timeoutMs: 90_000 });
  const report = () => `${describeRuns([run])}\nfake errors: ${w.fake.errors().join("\n")}`;
  assert.deepEqual(w.fake.errors(), [], report());
  assert.equal(run.code, 0, report());
  const { claimed, worked } = times.get("worker");
  assert.ok(worked - claimed >= WORK_MS, `worked ${worked - claimed} ms`);

  const done = w.fake.toolResults("worker").find((r) => r.name === "mcp__baton__complete_task");
  assert.ok(done, report());
  assert.equal(done.isError, true, `the completion went through without hooks: ${done.text}`);
  const leases = await leasesOf(w);
  assert.equal(leases.length, 1, JSON.stringify(leases));
  assert.notEqual(leases[0].outcome, "done", JSON.stringify(leases));
  const { json: task } = await w.rest("GET", "/api/v1/tasks/api");
  assert.notEqual(task.status, "done", JSON.stringify(task));
  // and no hook wrote progress
  const { status } = await w.rest("GET", "/api/v1/tasks/api/context/progress");
  assert.equal(status, 404);
});

test("Stop while holding a lease is blocked once with the reason, and SessionEnd frees the lease at once", { timeout: 120_000 }, async (t) => {
  // claimed with a 300 s TTL; the model tries to stop holding it, is told why not, stops anyway
  const scripts = {
    worker: [
      { tool: "mcp__baton__claim_next_task", input: {}, as: "claim" },
      { text: "I stop here." },
      { text: "Stopping anyway." },
    ],
  };
  const { w } = await world(t, { hooks: true, ttl: 300, scripts });
  const [run] = await w.run([{ name: "worker" }], { timeoutMs: 90_000 });
  const ended = Date.now();
  const report = () => `${describeRuns([run])}\nfake errors: ${w.fake.errors().join("\n")}`;
  assert.deepEqual(w.fake.errors(), [], report());
  assert.equal(run.code, 0, report());
  // the second stop ended the run: the first was blocked once, not twice
  assert.equal(run.result?.result, "Stopping anyway.", report());
  const turns = w.fake.turns("worker");
  assert.equal(turns.length, 3, report());
  const toldLast = JSON.stringify(turns.at(-1).body.messages);
  assert.ok(
    toldLast.includes("Stop hook blocking error") && toldLast.includes("you hold task `api` (lease_id 1): complete_task, fail_task or release_task first"),
    `the model was not told why it may not stop: ${toldLast.slice(-1500)}`,
  );

  // SessionEnd released the lease: another worker claims the task now, not after 300 s
  await waitUntil("api ready again", async () => (await w.rest("GET", "/api/v1/tasks/api")).json?.status === "ready", 5_000);
  const leases = await leasesOf(w);
  assert.deepEqual(leases.map((l) => [l.worker, l.outcome]), [["worker", "released"]], JSON.stringify(leases));
  const res = await fetch(`${w.base}/api/v1/tasks/claim-next`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-baton-worker": "second" },
    body: "{}",
  });
  const claim = await res.json();
  assert.equal(res.status, 200, JSON.stringify(claim));
  assert.equal(claim.task.id, "api");
  assert.ok(Date.now() - ended < 10_000, "claimed well before the 300 s TTL");
});

test("with auth on, the hooks carry the agent's own token from its environment, and another agent's token cannot release its lease", { timeout: 120_000 }, async (t) => {
  const { w, times } = await world(t, { hooks: true, auth: true });
  const token = async (name) => {
    const r = await w.rest("POST", "/api/v1/tokens", { name, role: "agent" }, w.admin);
    assert.equal(r.status, 201, JSON.stringify(r.json));
    return r.json.secret;
  };
  const alice = await token("alice");
  const mallory = await token("mallory");
  const settings = readFileSync(join(w.project, ".claude/settings.json"), "utf8");
  assert.ok(settings.includes('"Authorization": "Bearer $BATON_TOKEN"'), settings);

  // three TTLs of work: only hooks that authenticate as alice can renew her lease (a hook
  // without a token is refused 401, one with another token renews nothing)
  const [run] = await w.run([{ name: "worker", env: { BATON_TOKEN: alice } }], { timeoutMs: 90_000 });
  const report = () => `${describeRuns([run])}\nfake errors: ${w.fake.errors().join("\n")}`;
  assert.deepEqual(w.fake.errors(), [], report());
  assert.equal(run.code, 0, report());
  const { claimed, worked } = times.get("worker");
  assert.ok(worked - claimed >= WORK_MS, `worked ${worked - claimed} ms`);
  const done = w.fake.toolResults("worker").find((r) => r.name === "mcp__baton__complete_task");
  assert.equal(done?.isError, false, report());
  const leases = await leasesOf(w);
  assert.deepEqual(leases.map((l) => [l.worker, l.owner, l.outcome]), [["worker", "alice", "done"]], JSON.stringify(leases));

  // alice holds another task; mallory's hooks under the same worker name end nothing of hers
  assert.equal((await w.rest("POST", "/api/v1/tasks", { id: "b", title: "b" }, w.admin)).status, 201);
  const hook = (secret, body) =>
    fetch(`${w.base}/api/v1/hooks/claude-code`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-baton-worker": "worker", authorization: `Bearer ${secret}` },
      body: JSON.stringify({ session_id: "s", cwd: w.project, ...body }),
    });
  const claim = await fetch(`${w.base}/api/v1/tasks/claim-next`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-baton-worker": "worker", authorization: `Bearer ${alice}` },
    body: "{}",
  });
  assert.equal(claim.status, 200);
  assert.equal((await hook(mallory, { hook_event_name: "SessionEnd", reason: "other" })).status, 200);
  const { json: b } = await w.rest("GET", "/api/v1/tasks/b", undefined, w.admin);
  assert.equal(b.status, "running", JSON.stringify(b));
  assert.equal((await hook(alice, { hook_event_name: "SessionEnd", reason: "other" })).status, 200);
  const { json: after } = await w.rest("GET", "/api/v1/tasks/b", undefined, w.admin);
  assert.equal(after.status, "ready", JSON.stringify(after));
});

test("two agents: the second's Edit of a file the first wrote (reserved for its lease by PreToolUse) is denied naming the first, and the file is unchanged", { timeout: 120_000 }, async (t) => {
  // first: claims `api`, writes notes.md (its PreToolUse reserves the file for its lease), waits
  // until the second has tried, completes. second: waits for the write, claims `docs`, reads
  // notes.md and tries to edit it — denied — then completes its own task.
  const written = "# notes by first\nend\n";
  const scripts = {
    first: [
      { tool: "mcp__baton__claim_next_task", input: {}, as: "claim" },
      { tool: "Write", input: { file_path: "{{project}}/notes.md", content: written }, as: "write" },
      { barrier: "written" },
      { barrier: "tried" },
      {
        tool: "mcp__baton__complete_task",
        input: { task_id: "{{claim.claim.task.id}}", lease_id: "{{claim.claim.lease.lease_id}}" },
        as: "done",
      },
      { text: "Finished." },
    ],
    second: [
      { barrier: "written" },
      { tool: "mcp__baton__claim_next_task", input: {}, as: "claim" },
      { tool: "Read", input: { file_path: "{{project}}/notes.md" }, as: "read" },
      {
        tool: "Edit",
        input: { file_path: "{{project}}/notes.md", old_string: "\nend\n", new_string: "\nmine\nend\n" },
        as: "edit",
      },
      { barrier: "tried" },
      {
        tool: "mcp__baton__complete_task",
        input: { task_id: "{{claim.claim.task.id}}", lease_id: "{{claim.claim.lease.lease_id}}" },
        as: "done",
      },
      { text: "Finished." },
    ],
  };
  const { w } = await world(t, { hooks: true, ttl: 300, scripts });
  const added = await w.rest("POST", "/api/v1/tasks", { id: "docs", title: "the docs task" });
  assert.equal(added.status, 201, JSON.stringify(added.json));
  const runs = await w.run([{ name: "first" }, { name: "second" }], { timeoutMs: 90_000 });
  const report = () => `${describeRuns(runs)}\nfake errors: ${w.fake.errors().join("\n")}`;
  assert.deepEqual(w.fake.errors(), [], report());
  assert.deepEqual(runs.map((r) => r.code), [0, 0], report());

  // the second's Edit came back as an error carrying baton's reason, naming the holder
  const results = w.fake.toolResults("second");
  const edit = results.find((r) => r.name === "Edit");
  assert.ok(edit, `no Edit result: ${JSON.stringify(results)}`);
  assert.equal(edit.isError, true, JSON.stringify(edit));
  assert.ok(
    edit.text.includes("notes.md is reserved by worker `first` for task `api`"),
    `the model was not told who holds the file: ${edit.text}`,
  );
  // the file is as the first wrote it
  assert.equal(readFileSync(join(w.project, "notes.md"), "utf8"), written);
  // both tasks done, each by its own agent
  for (const id of ["api", "docs"]) {
    const { json } = await w.rest("GET", `/api/v1/tasks/${id}`);
    assert.equal(json.status, "done", JSON.stringify(json));
  }
  // the first's reservation ended with its lease
  const { json } = await w.rest("GET", "/api/v1/reservations?worker=first");
  assert.deepEqual(json.reservations, [], JSON.stringify(json));
});
