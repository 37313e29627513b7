// The scripted Anthropic API of fake-anthropic.mjs, driven over HTTP the way the CLI drives
// it (no CLI here): templates, branches, barriers, retries, streaming and the log.
import { test } from "node:test";
import assert from "node:assert/strict";
import { startFakeAnthropic, fill } from "./fake-anthropic.mjs";
import { waitUntil } from "../common/wait.mjs";

/** A turn request as Claude Code sends one: tools offered, the conversation so far. */
function turn(messages, stream = false) {
  return { model: "claude-test", max_tokens: 1000, stream, tools: [{ name: "Bash", input_schema: { type: "object" } }], messages };
}

async function post(fake, agent, body, path = "/v1/messages") {
  const res = await fetch(`${fake.baseUrl(agent)}${path}?beta=true`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, type: res.headers.get("content-type"), text: await res.text() };
}

/** The conversation after the model's tool_use `msg` got `result`. */
function answered(messages, msg, result, isError = false) {
  const use = msg.content[0];
  return [
    ...messages,
    { role: "assistant", content: msg.content },
    { role: "user", content: [{ type: "tool_result", tool_use_id: use.id, content: [{ type: "text", text: JSON.stringify(result) }], is_error: isError }] },
  ];
}

test("fill: a whole template keeps the value's type; inside a string it is text; unknown paths throw", () => {
  const vars = { agent: "a", claim: { claim: { task: { id: "t1" }, lease: { lease_id: 7 } } }, list: { tasks: [{ id: "x" }] } };
  assert.deepEqual(fill({ id: "{{claim.claim.task.id}}", lease: "{{claim.claim.lease.lease_id}}", note: "{{agent}} on {{claim.claim.task.id}} #{{claim.claim.lease.lease_id}}", first: "{{list.tasks.0.id}}" }, vars), {
    id: "t1",
    lease: 7,
    note: "a on t1 #7",
    first: "x",
  });
  assert.throws(() => fill("{{claim.nope.id}}", vars), /no such value/);
});

test("a script loops on tool results, branches with goto/when, and replays a retried turn", async (t) => {
  const fake = await startFakeAnthropic({
    one: [
      { label: "claim", tool: "Bash", input: { command: "claim" }, as: "claim" },
      { goto: "end", when: { "claim.claimed": false } },
      { tool: "Bash", input: { command: "work on {{claim.id}}" } },
      { goto: "claim" },
      { label: "end", text: "done after {{turn}} turns" },
    ],
  });
  t.after(() => fake.close());

  let messages = [{ role: "user", content: "go" }];
  const first = JSON.parse((await post(fake, "one", turn(messages))).text);
  assert.equal(first.stop_reason, "tool_use");
  assert.deepEqual(first.content[0].input, { command: "claim" });
  // the same conversation again (a retry): the same answer, the script does not advance
  const again = JSON.parse((await post(fake, "one", turn(messages))).text);
  assert.deepEqual(again.content, first.content);

  messages = answered(messages, first, { claimed: true, id: "t9" });
  const work = JSON.parse((await post(fake, "one", turn(messages))).text);
  assert.deepEqual(work.content[0].input, { command: "work on t9" });
  messages = answered(messages, work, "ok");
  const claim2 = JSON.parse((await post(fake, "one", turn(messages))).text);
  assert.deepEqual(claim2.content[0].input, { command: "claim" });
  messages = answered(messages, claim2, { claimed: false });
  const end = JSON.parse((await post(fake, "one", turn(messages))).text);
  assert.equal(end.stop_reason, "end_turn");
  assert.deepEqual(end.content, [{ type: "text", text: "done after 4 turns" }]);

  assert.deepEqual(fake.turns("one").length, 5);
  assert.deepEqual(fake.toolResults("one").map((r) => [r.input.command, r.text]), [
    ["claim", JSON.stringify({ claimed: true, id: "t9" })],
    ["work on t9", JSON.stringify("ok")],
    ["claim", JSON.stringify({ claimed: false })],
  ]);
  assert.deepEqual(fake.errors(), []);
});

test("streaming: the Messages API's events, the tool input as one input_json_delta", async (t) => {
  const fake = await startFakeAnthropic({ one: [{ tool: "Bash", input: { command: "echo hi" } }] });
  t.after(() => fake.close());
  const res = await post(fake, "one", turn([{ role: "user", content: "go" }], true));
  assert.equal(res.type, "text/event-stream");
  const events = res.text
    .trim()
    .split("\n\n")
    .map((block) => {
      const [ev, data] = block.split("\n");
      return [ev.replace("event: ", ""), JSON.parse(data.replace("data: ", ""))];
    });
  assert.deepEqual(events.map(([e]) => e), ["message_start", "content_block_start", "content_block_delta", "content_block_stop", "message_delta", "message_stop"]);
  assert.deepEqual(events[1][1].content_block, { type: "tool_use", id: "toolu_one_001", name: "Bash", input: {} });
  assert.deepEqual(events[2][1].delta, { type: "input_json_delta", partial_json: '{"command":"echo hi"}' });
  assert.equal(events[4][1].delta.stop_reason, "tool_use");
});

test("a barrier holds each agent's turn until every agent reached it or left", async (t) => {
  const script = [{ barrier: "b" }, { text: "through" }];
  const fake = await startFakeAnthropic({ one: script, two: script, three: script });
  t.after(() => fake.close());
  const start = [{ role: "user", content: "go" }];
  let oneDone = false;
  const one = post(fake, "one", turn(start)).then((r) => {
    oneDone = true;
    return r;
  });
  // held, not merely late: the fake says one waits at b (no fixed sleep before looking)
  await waitUntil("one waits at the barrier", () => fake.waiting("b").includes("one"), 10_000, 10);
  assert.equal(oneDone, false, "passed the barrier alone");
  fake.leave("three"); // an agent that ended does not hold the others
  const two = await post(fake, "two", turn(start));
  assert.equal(JSON.parse(two.text).content[0].text, "through");
  assert.equal(JSON.parse((await one).text).content[0].text, "through");
});

test("count_tokens is answered, side requests get text, unknown routes 404, bad scripts are reported", async (t) => {
  const fake = await startFakeAnthropic({ one: [{ tool: "Bash", input: { command: "{{missing.value}}" } }] });
  t.after(() => fake.close());
  const count = await post(fake, "one", { messages: [{ role: "user", content: "hello" }] }, "/v1/messages/count_tokens");
  assert.equal(count.status, 200);
  assert.ok(JSON.parse(count.text).input_tokens > 0);
  const side = await post(fake, "one", { model: "haiku", max_tokens: 10, messages: [{ role: "user", content: "title?" }] });
  assert.equal(JSON.parse(side.text).content[0].type, "text");
  const nobody = await post(fake, "nobody", turn([]));
  assert.equal(nobody.status, 404);
  const bad = await post(fake, "one", turn([{ role: "user", content: "go" }]));
  assert.match(JSON.parse(bad.text).content[0].text, /fake-anthropic script error: template \{\{missing.value\}\}/);
  assert.deepEqual(fake.requests.map((r) => r.kind), ["count_tokens", "side", "unknown", "turn"]);
  assert.equal(fake.errors().length, 1);
});
