// What the pinned Claude Code CLI's `http` hooks send, and which answers it acts on: one
// scripted agent (fake-anthropic.mjs) against baton, every hook pointing at a small recording
// server. Groundwork for baton's hooks endpoint (issue 29); hooks.test.mjs checks the pinned
// CLI still behaves as recorded, and
//
//   node tests/clients/hooks-record.mjs --write
//
// (on Node 22, with target/debug/baton built) rewrites tests/clients/fixtures/hooks/*.json.
// fixtures/hooks/README.md says what the recordings show.
import http from "node:http";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { startWorld, writeProject } from "./agents.mjs";

const here = dirname(fileURLToPath(import.meta.url));
export const FIXTURES = join(here, "fixtures/hooks");

/** The events recorded; those with a tool matcher get `"matcher": "*"`. */
export const EVENTS = ["SessionStart", "UserPromptSubmit", "PreToolUse", "PostToolUse", "PostToolUseFailure", "Stop", "StopFailure", "SessionEnd"];
const TOOL_EVENTS = new Set(["PreToolUse", "PostToolUse", "PostToolUseFailure"]);

/** The token the agent's environment holds; the hooks send it as `$BATON_TOKEN`. */
export const TOKEN = "baton_test_token_for_hooks";

/** Markers the recorder's answers carry, looked for in what the model is sent next. */
export const MARK = {
  sessionStart: "MARK-SessionStart: you hold no task; claim one with claim_next_task.",
  userPrompt: "MARK-UserPromptSubmit: baton board has 1 ready task.",
  deny: "MARK-PreToolUse-deny: notes.txt is reserved by agent-2 (task api) until it completes.",
  postToolUse: "MARK-PostToolUse: lease renewed, progress noted.",
  stop: "MARK-Stop: you hold task t1: complete_task, fail_task or release_task first.",
};

/**
 * A server on 127.0.0.1:0 recording each POST as `{ event, path, headers, body }` and answering
 * with `answer(record, calls)` (`{ status, json }`; default 200 `{}`). Returns `{ url, calls,
 * close() }`.
 */
export async function startRecorder(answer = () => ({ status: 200, json: {} })) {
  const calls = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const raw = Buffer.concat(chunks).toString("utf8");
      let body = raw;
      try {
        body = JSON.parse(raw);
      } catch {
        // kept as text
      }
      const record = { event: body?.hook_event_name ?? null, at: Date.now(), method: req.method, path: req.url, headers: req.headers, body };
      calls.push(record);
      const { status = 200, json = {} } = answer(record, calls) ?? {};
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(json));
    });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    calls,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/** Events the pinned CLI refuses `http` hooks for: a `command` hook forwards them instead. */
export const COMMAND_ONLY = new Set(["SessionStart"]);
const FORWARD = join(here, "hook-forward.mjs");

/**
 * `.claude/settings.json` hooks: every event of {@link EVENTS} POSTed to `${url}/hooks/<event>`
 * — by an `http` hook, or for {@link COMMAND_ONLY} events by hook-forward.mjs.
 */
export function hookSettings(url) {
  const hooks = {};
  for (const event of EVENTS) {
    const hook = COMMAND_ONLY.has(event)
      ? { type: "command", command: `"${process.execPath}" "${FORWARD}" ${url}/hooks/${event}`, timeout: 10 }
      : {
          type: "http",
          url: `${url}/hooks/${event}`,
          headers: { Authorization: "Bearer $BATON_TOKEN", "X-Baton-Worker": "$BATON_WORKER" },
          allowedEnvVars: ["BATON_TOKEN", "BATON_WORKER"],
          timeout: 10,
        };
    hooks[event] = [TOOL_EVENTS.has(event) ? { matcher: "*", hooks: [hook] } : { hooks: [hook] }];
  }
  return { hooks };
}

/** The recorder's answers in the main run (see the README): context, a deny, a Stop block. */
function answers(record, calls) {
  const b = record.body;
  const specific = (hookEventName, fields) => ({ json: { hookSpecificOutput: { hookEventName, ...fields } } });
  switch (record.event) {
    case "SessionStart":
      return specific("SessionStart", { additionalContext: MARK.sessionStart });
    case "UserPromptSubmit":
      return specific("UserPromptSubmit", { additionalContext: MARK.userPrompt });
    case "PreToolUse":
      if (b.tool_name === "Write" && b.tool_input?.file_path?.endsWith("/notes.txt")) return specific("PreToolUse", { permissionDecision: "deny", permissionDecisionReason: MARK.deny });
      return { json: {} };
    case "PostToolUse":
      if (b.tool_name === "Bash") return specific("PostToolUse", { additionalContext: MARK.postToolUse });
      return { json: {} };
    case "Stop":
      // block the first stop only; the second comes with stop_hook_active
      if (calls.filter((c) => c.event === "Stop").length === 1) return { json: { decision: "block", reason: MARK.stop } };
      return { json: {} };
    default:
      return { json: {} };
  }
}

/**
 * The main script: a claim, a Bash that works, a Write and an Edit that go through, a Write the
 * hook denies, a Bash that fails, a complete, two stops (the first blocked by the Stop hook).
 */
const MAIN = [
  { tool: "mcp__baton__claim_next_task", input: { worker: "{{agent}}" }, as: "claim" },
  { tool: "Bash", input: { command: "echo working on {{claim.claim.task.id}}", description: "work" } },
  { tool: "Write", input: { file_path: "{{project}}/draft.txt", content: "draft one\n" } },
  { tool: "Edit", input: { file_path: "{{project}}/draft.txt", old_string: "one", new_string: "two" } },
  { tool: "Write", input: { file_path: "{{project}}/notes.txt", content: "notes\n" } },
  { tool: "Bash", input: { command: "exit 3", description: "a failing command" } },
  { tool: "mcp__baton__complete_task", input: { task_id: "{{claim.claim.task.id}}", lease_id: "{{claim.claim.lease.lease_id}}", output: { ok: true } } },
  { text: "First stop." },
  { text: "Second stop." },
];

/** A script whose first turn the API refuses (a 400): the turn ends in error. */
const FAILING = [{ error: { status: 400, type: "invalid_request_error", message: "scripted: the request was refused" } }];

/** Fail-open probes: a Bash and a Write whose hooks are unreachable or answer 500. */
const PROBE = [
  { tool: "Bash", input: { command: "echo still here", description: "probe" } },
  { tool: "Write", input: { file_path: "{{project}}/{{agent}}.txt", content: "written\n" } },
  { text: "Probe done." },
];

/**
 * Runs the recordings. Returns `{ world, main, failing, unreachable, failing500 }`, each run
 * `{ run, calls, requests }` (`run` from world.run, `calls` the hook calls recorded,
 * `requests` the fake's requests of that agent). The caller closes `world`.
 */
export async function recordHooks() {
  const world = await startWorld({
    scripts: { recorder: MAIN, failer: FAILING, unreachable: PROBE, erroring: PROBE },
  });
  const out = { world };
  try {
    await world.rest("POST", "/api/v1/tasks", { id: "t1", title: "the task the recorder works" });
    const env = { BATON_TOKEN: TOKEN };
    const settings = (url) => writeProject(world.project, { batonUrl: world.base, settings: hookSettings(url) });

    const recorder = await startRecorder(answers);
    try {
      settings(recorder.url);
      const [main] = await world.run([{ name: "recorder", env }], { timeoutMs: 60_000 });
      out.main = { run: main, calls: [...recorder.calls], requests: world.fake.requests.filter((r) => r.agent === "recorder") };
      recorder.calls.length = 0;
      const [failing] = await world.run([{ name: "failer", env }], { timeoutMs: 60_000 });
      out.failing = { run: failing, calls: [...recorder.calls], requests: world.fake.requests.filter((r) => r.agent === "failer") };
    } finally {
      await recorder.close();
    }

    // unreachable: a port that was just free (connection refused)
    const gone = await startRecorder();
    await gone.close();
    settings(gone.url);
    const [unreachable] = await world.run([{ name: "unreachable", env }], { timeoutMs: 60_000 });
    out.unreachable = { run: unreachable, calls: [], requests: world.fake.requests.filter((r) => r.agent === "unreachable") };

    const broken = await startRecorder(() => ({ status: 500, json: { error: "boom" } }));
    try {
      settings(broken.url);
      const [erroring] = await world.run([{ name: "erroring", env }], { timeoutMs: 60_000 });
      out.failing500 = { run: erroring, calls: [...broken.calls], requests: world.fake.requests.filter((r) => r.agent === "erroring") };
    } finally {
      await broken.close();
    }
    return out;
  } catch (e) {
    await world.close();
    throw e;
  }
}

/**
 * `value` with what differs from run to run replaced by placeholders: the temp root, session
 * and prompt ids, times, ports, the device id.
 */
export function normalise(value, world) {
  const text = JSON.stringify(value)
    .replaceAll(world.root, "<root>")
    // the transcript directory is named after the project path, each character not [A-Za-z0-9] a "-"
    .replaceAll(world.root.replace(/[^A-Za-z0-9]/g, "-"), "-<root>")
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, "<uuid>")
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, "<time>")
    .replace(/127\.0\.0\.1:\d+/g, "127.0.0.1:<port>");
  return JSON.parse(text);
}

/** A recorded call as a fixture: the headers that matter and the body, normalised. */
function fixture(call, world) {
  const { host, "content-length": _len, ...headers } = call.headers;
  return normalise({ path: call.path, headers: { host, ...headers }, body: call.body }, world);
}

/** Writes fixtures/hooks/<Event>.json (every call of that event, in order) from `recorded`. */
export function writeFixtures(recorded) {
  mkdirSync(FIXTURES, { recursive: true });
  const { world } = recorded;
  const calls = [...recorded.main.calls, ...recorded.failing.calls.map((c) => ({ ...c, run: "failing" }))];
  const byEvent = new Map();
  for (const c of calls) {
    const list = byEvent.get(c.event) ?? [];
    list.push({ run: c.run ?? "main", ...fixture(c, world) });
    byEvent.set(c.event, list);
  }
  for (const [event, list] of byEvent) writeFileSync(join(FIXTURES, `${event}.json`), `${JSON.stringify(list, null, 2)}\n`);
  const order = {
    main: recorded.main.calls.map((c) => (c.body.tool_name ? `${c.event} ${c.body.tool_name}` : c.event)),
    failing: recorded.failing.calls.map((c) => c.event),
  };
  writeFileSync(join(FIXTURES, "order.json"), `${JSON.stringify(order, null, 2)}\n`);
  return order;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const recorded = await recordHooks();
  try {
    for (const k of ["main", "failing", "unreachable", "failing500"]) {
      const { run } = recorded[k];
      console.log(`${k}: exit ${run.code} in ${run.ms} ms; result ${JSON.stringify(run.result?.result)}; stderr ${run.stderr.trim().slice(0, 400)}`);
    }
    if (process.argv.includes("--write")) console.log(JSON.stringify(writeFixtures(recorded), null, 1));
  } finally {
    await recorded.world.close();
  }
}
