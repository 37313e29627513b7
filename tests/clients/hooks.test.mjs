// The pinned Claude Code CLI's hooks, as fixtures/hooks records them (groundwork for baton's
// hooks endpoint, issue 29): one run of hooks-record.mjs, then checks that the CLI still sends
// the recorded events in the recorded order with the recorded fields and headers, acts on the
// answers the README describes, and carries on when a hook is unreachable or answers 500.
// A CLI upgrade that changes any of it fails here: re-record (`node
// tests/clients/hooks-record.mjs --write`) and re-read fixtures/hooks/README.md.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { recordHooks, normalise, FIXTURES, MARK, TOKEN } from "./hooks-record.mjs";
import { describeRuns } from "./agents.mjs";

const fixture = (name) => JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), "utf8"));
const label = (c) => (c.body.tool_name ? `${c.event} ${c.body.tool_name}` : c.event);

let rec;
before(async () => {
  rec = await recordHooks();
});
after(async () => {
  await rec?.world.close();
});

/** The turn requests of a run, in order. */
const turns = (run) => run.requests.filter((r) => r.kind === "turn");
/** Everything the model was sent in `request`, as one string. */
const told = (request) => JSON.stringify(request.body.messages);

test("the recorded events fire in the recorded order, with the recorded fields and expanded headers", { timeout: 120_000 }, () => {
  const runs = [rec.main.run, rec.failing.run];
  const order = fixture("order");
  assert.deepEqual(rec.main.calls.map(label), order.main, describeRuns(runs));
  assert.deepEqual(rec.failing.calls.map(label), order.failing, describeRuns(runs));

  const calls = [...rec.main.calls.map((c) => ["main", c]), ...rec.failing.calls.map((c) => ["failing", c])];
  const seen = new Map();
  for (const [run, call] of calls) {
    const i = seen.get(call.event) ?? 0;
    seen.set(call.event, i + 1);
    const recorded = fixture(call.event)[i];
    assert.ok(recorded, `${call.event} #${i + 1}: no fixture`);
    assert.equal(recorded.run, run);
    // the same fields (values differ: ids, times, durations)
    const now = normalise(call.body, rec.world);
    assert.deepEqual(Object.keys(now).sort(), Object.keys(recorded.body).sort(), `${label(call)}: fields`);
    for (const k of ["tool_input", "tool_response"]) {
      if (recorded.body[k] && typeof recorded.body[k] === "object") {
        assert.deepEqual(Object.keys(now[k]).sort(), Object.keys(recorded.body[k]).sort(), `${label(call)}: ${k} fields`);
      }
    }
    // $BATON_TOKEN and $BATON_WORKER expanded from the agent's environment (allowedEnvVars)
    assert.equal(call.headers.authorization, `Bearer ${TOKEN}`, label(call));
    assert.equal(call.headers["x-baton-worker"], run === "main" ? "recorder" : "failer", label(call));
    assert.equal(call.headers["content-type"], "application/json", label(call));
  }
});

test("the CLI acts on the hooks' answers: context, a PreToolUse deny, a Stop block once", { timeout: 120_000 }, () => {
  const { run, calls } = rec.main;
  assert.equal(run.code, 0, describeRuns([run]));
  const ts = turns(rec.main);

  // SessionStart (a command hook) and UserPromptSubmit additionalContext: in the first request
  assert.ok(told(ts[0]).includes(`SessionStart hook additional context: ${MARK.sessionStart}`), "SessionStart additionalContext not sent");
  assert.ok(told(ts[0]).includes(`UserPromptSubmit hook additional context: ${MARK.userPrompt}`));

  // PreToolUse deny: the tool does not run; the model gets the reason as an error tool_result
  const results = rec.world.fake.toolResults("recorder");
  const denied = results.find((r) => r.name === "Write" && r.input.file_path.endsWith("/notes.txt"));
  assert.equal(denied.isError, true);
  assert.equal(denied.text, `PreToolUse:Write hook error: ${MARK.deny}`);
  assert.equal(existsSync(join(rec.world.project, "notes.txt")), false, "the denied Write ran");
  assert.ok(!calls.some((c) => c.event === "PostToolUse" && c.body.tool_use_id === denied.id), "PostToolUse after a denied tool");
  assert.deepEqual(run.result.permission_denials.map((d) => d.tool_name), ["Write"]);
  // the Write and Edit the hook allowed did run
  assert.equal(readFileSync(join(rec.world.project, "draft.txt"), "utf8"), "draft two\n");

  // PostToolUse additionalContext: sent with the next request
  const bash = results.find((r) => r.name === "Bash" && r.text === "working on t1");
  const after = ts.find((r) => told(r).includes(bash.id));
  assert.ok(told(after).includes(`PostToolUse:Bash hook additional context: ${MARK.postToolUse}`), "PostToolUse additionalContext not sent");

  // a failing tool: PostToolUseFailure, not PostToolUse
  const failed = results.find((r) => r.name === "Bash" && r.isError);
  assert.equal(failed.text, "Exit code 3");
  const failure = calls.find((c) => c.event === "PostToolUseFailure");
  assert.equal(failure.body.tool_use_id, failed.id);
  assert.equal(failure.body.error, "Exit code 3");

  // Stop: blocked once with the reason, which the model is sent; the second Stop says
  // stop_hook_active and is let through
  const stops = calls.filter((c) => c.event === "Stop");
  assert.deepEqual(stops.map((c) => [c.body.stop_hook_active, c.body.last_assistant_message]), [
    [false, "First stop."],
    [true, "Second stop."],
  ]);
  const last = ts.at(-1);
  assert.equal(last.answer.text, "Second stop.");
  assert.ok(told(last).includes(MARK.stop), "the Stop block's reason was not sent to the model");
  assert.equal(run.result.result, "Second stop.");

  // SessionEnd last, after the final Stop
  assert.equal(calls.at(-1).event, "SessionEnd");
  assert.equal(calls.at(-1).body.reason, "other");
});

test("a turn that ends in an API error fires StopFailure (not Stop)", { timeout: 120_000 }, () => {
  const { run, calls } = rec.failing;
  assert.equal(run.code, 1, describeRuns([run]));
  assert.equal(run.result.is_error, true);
  const failure = calls.find((c) => c.event === "StopFailure");
  assert.ok(failure, JSON.stringify(calls.map((c) => c.event)));
  assert.equal(failure.body.error, "unknown");
  assert.match(failure.body.last_assistant_message, /API Error: 400 scripted: the request was refused/);
  assert.ok(!calls.some((c) => c.event === "Stop"));
});

test("hooks fail open: unreachable or answering 500, every tool still runs and the run succeeds", { timeout: 120_000 }, () => {
  for (const [what, probe] of [["unreachable", rec.unreachable], ["500", rec.failing500]]) {
    const { run } = probe;
    assert.equal(run.code, 0, `${what}: ${describeRuns([run])}`);
    assert.equal(run.result.result, "Probe done.", what);
    const results = rec.world.fake.toolResults(run.name);
    assert.deepEqual(results.map((r) => [r.name, r.isError]), [["Bash", false], ["Write", false]], what);
    assert.equal(readFileSync(join(rec.world.project, `${run.name}.txt`), "utf8"), "written\n", what);
    // the model is told nothing of the failing hooks; only SessionEnd's failure is printed
    for (const r of turns(probe)) assert.doesNotMatch(told(r), /hook error|hook failed|blocking error/i, what);
    const lines = run.stderr.trim().split("\n").filter(Boolean);
    assert.equal(lines.length, 1, `${what}: ${run.stderr}`);
    assert.match(lines[0], /^SessionEnd hook \[http:\/\/127\.0\.0\.1:\d+\/hooks\/SessionEnd\] failed: /, what);
  }
  // the 500 server was called for every event (SessionStart through hook-forward.mjs, which exits 1)
  assert.deepEqual(rec.failing500.calls.map(label), [
    "SessionStart",
    "UserPromptSubmit",
    "PreToolUse Bash",
    "PostToolUse Bash",
    "PreToolUse Write",
    "PostToolUse Write",
    "Stop",
    "SessionEnd",
  ]);
});
