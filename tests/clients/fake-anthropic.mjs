// A loopback fake of the Anthropic Messages API that plays a scripted model, so the real
// `claude -p` CLI (npm, pinned) runs as an agent — its real tools, MCP client and hooks — with
// no API key and no network. Not a test file: `node --test "tests/clients/*.test.mjs"` does not
// run it; tests/clients/agents.mjs starts it.
//
// One fake serves every agent of a test. An agent is told apart by the path of its base URL:
// the CLI gets `ANTHROPIC_BASE_URL=<origin>/agents/<name>` and calls
// `<origin>/agents/<name>/v1/messages?beta=true` (the SDK keeps the base URL's path), so no
// header, prompt marker or port-per-agent is needed, and a request under no known agent is
// answered 404 and logged.
//
// A script is a list of steps, played one model turn at a time:
//
//   { tool: "mcp__baton__claim_next_task", input: { worker: "{{agent}}" }, as: "claim" }
//       answer with one `tool_use` block (stop_reason `tool_use`); the CLI runs the tool and
//       sends its `tool_result` in the next request, which the fake parses (JSON when it is
//       JSON, else the text) and keeps under the name `as` (and always under `last`).
//   { text: "All done." }
//       answer with text (stop_reason `end_turn`): `claude -p` ends its turn. A later request
//       (a Stop hook that blocked, say) plays on from the next step.
//   { error: { status: 400, type: "invalid_request_error", message: "..." } }
//       answer the turn with that HTTP status and Messages API error body (a 400 is not retried
//       by the CLI: the turn ends in error, which fires `StopFailure`).
//   { goto: "label", when: { "claim.claimed": false } }   (or `unless`, or neither)
//       jump to the step carrying `label: "label"` when every path equals its value (deep
//       equality); plays no turn.
//   { barrier: "name" }
//       hold this turn until every agent of the fake has reached the barrier once (or has
//       ended: see `leave`), then go on (a later visit passes at once). Lets a test make "all
//       agents hold a task" happen without sleeping.
//   (vars) => step
//       a JS function of the variables, returning one of the steps above (or undefined to
//       play nothing and go on) — for what the declarative steps cannot say.
//
// Any step may carry `label`. Strings in `input` and `text` are templates: "{{claim.claim.task.id}}"
// alone is replaced by the value itself (a number stays a number), inside a longer string by its
// text. The variables: `agent` (the agent's name), `turn` (the model turn, from 1), each `as`
// name, `last`, `<as>_error` / `last_error` (the tool_result's `is_error`), and those the
// fake was started with (agents.mjs gives `project`, the project directory).
//
// Requests are told apart as "turn" (the agent's main loop: it offers tools and holds the
// conversation, so its assistant messages count the turns played), "count_tokens", and "side"
// (anything else the CLI asks a model for — titles, summaries: answered with a short text).
// A turn repeated with the same conversation (a retry) gets the same answer again. The fake
// records every request with what it answered (`requests`) and asserts nothing.
import http from "node:http";
import { isDeepStrictEqual } from "node:util";

/** The most model turns one agent may take before the fake answers "turn limit" and stops. */
const MAX_TURNS = 400;
/** Control steps (goto, functions) evaluated in one turn before the fake calls it a loop. */
const MAX_CONTROL = 1000;

/** The value at a dotted `path` ("claim.claim.task.id") in `vars`; undefined when absent. */
export function lookup(vars, path) {
  let v = vars;
  for (const key of path.split(".")) {
    if (v === null || v === undefined) return undefined;
    v = v[key];
  }
  return v;
}

/**
 * `value` with every "{{path}}" template filled from `vars`: a string that is one template
 * becomes the value itself; a template inside a longer string becomes its text (objects as
 * JSON). Arrays and objects are filled recursively. An unknown path throws.
 */
export function fill(value, vars) {
  if (typeof value === "string") {
    const whole = value.match(/^\{\{\s*([\w.$-]+)\s*\}\}$/);
    const get = (path) => {
      const v = lookup(vars, path);
      if (v === undefined) throw new Error(`template {{${path}}}: no such value in ${JSON.stringify(Object.keys(vars))}`);
      return v;
    };
    if (whole) return get(whole[1]);
    return value.replace(/\{\{\s*([\w.$-]+)\s*\}\}/g, (_, path) => {
      const v = get(path);
      return typeof v === "string" ? v : JSON.stringify(v);
    });
  }
  if (Array.isArray(value)) return value.map((v) => fill(v, vars));
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fill(v, vars)]));
  }
  return value;
}

/** Whether every `path: expected` of `cond` holds in `vars` (deep equality). */
function holds(cond, vars) {
  return Object.entries(cond).every(([path, expected]) => isDeepStrictEqual(lookup(vars, path), expected));
}

/** The text of a `tool_result` block's content (a string or a list of blocks). */
export function resultText(block) {
  const c = block.content;
  if (typeof c === "string") return c;
  if (Array.isArray(c)) return c.map((b) => (b.type === "text" ? b.text : `[${b.type}]`)).join("\n");
  return "";
}

/** `text` parsed as JSON when it is JSON, else the text. */
function parsed(text) {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** One agent's place in its script. */
class Player {
  constructor(name, steps, fake, vars) {
    this.name = name;
    this.steps = steps;
    this.fake = fake;
    this.pc = 0;
    this.vars = { ...vars, agent: name, turn: 0 };
    this.pending = null; // { id, as } of the tool_use answered last
    this.answers = new Map(); // assistant messages in the conversation -> the answer given
    this.ended = false;
    const labels = new Map();
    steps.forEach((s, i) => {
      if (s && typeof s === "object" && s.label !== undefined) {
        if (labels.has(s.label)) throw new Error(`${name}: label ${s.label} twice`);
        labels.set(s.label, i);
      }
    });
    for (const s of steps) {
      if (s && typeof s === "object" && s.goto !== undefined && !labels.has(s.goto)) {
        throw new Error(`${name}: goto ${s.goto}: no such label`);
      }
    }
    this.labels = labels;
  }

  /** The answer to the turn request `body` (the same answer when the same turn comes again). */
  async answer(body) {
    const assistants = (body.messages ?? []).filter((m) => m.role === "assistant").length;
    if (this.answers.has(assistants)) return this.answers.get(assistants);
    const promise = this.next(body);
    this.answers.set(assistants, promise);
    return promise;
  }

  async next(body) {
    this.take(body);
    this.vars.turn += 1;
    if (this.vars.turn > MAX_TURNS) return { text: `fake: ${this.name} reached ${MAX_TURNS} turns`, step: null };
    for (let control = 0; control < MAX_CONTROL; control++) {
      if (this.pc >= this.steps.length) {
        this.ended = true;
        return { text: "(the script has ended)", step: null };
      }
      const at = this.pc;
      let step = this.steps[at];
      this.pc += 1;
      if (typeof step === "function") step = step(this.vars);
      if (step === undefined || step === null) continue;
      if (step.goto !== undefined && step.tool === undefined && step.text === undefined) {
        const go = (step.when === undefined || holds(step.when, this.vars)) && (step.unless === undefined || !holds(step.unless, this.vars));
        if (go) {
          const to = this.labels.get(step.goto);
          if (to === undefined) throw new Error(`${this.name}: goto ${step.goto}: no such label`);
          this.pc = to;
        }
        continue;
      }
      if (step.barrier !== undefined) {
        await this.fake.arrive(step.barrier, this.name);
        continue;
      }
      if (step.tool !== undefined) {
        const id = `toolu_${this.name.replace(/[^A-Za-z0-9_]/g, "_")}_${String(this.vars.turn).padStart(3, "0")}`;
        const input = fill(step.input ?? {}, this.vars);
        this.pending = { id, as: step.as };
        return { tool: { id, name: step.tool, input }, step: at };
      }
      if (step.error !== undefined) {
        this.pending = null;
        return { error: { status: 400, type: "invalid_request_error", message: "scripted error", ...step.error }, step: at };
      }
      if (step.text !== undefined) {
        this.pending = null;
        return { text: fill(step.text, this.vars), step: at };
      }
      throw new Error(`${this.name}: step ${at} is none of tool, text, error, goto, barrier: ${JSON.stringify(step)}`);
    }
    throw new Error(`${this.name}: ${MAX_CONTROL} control steps without a turn (a goto loop?)`);
  }

  /** Keeps the result of the tool_use answered last, from the request's last user message. */
  take(body) {
    if (!this.pending) return;
    const { id, as } = this.pending;
    this.pending = null;
    const block = findToolResult(body, id);
    if (!block) return;
    const text = resultText(block);
    const value = parsed(text);
    const error = block.is_error === true;
    this.vars.last = value;
    this.vars.last_error = error;
    if (as) {
      this.vars[as] = value;
      this.vars[`${as}_error`] = error;
    }
  }
}

/** The `tool_result` block answering tool_use `id` in a request body, if any. */
export function findToolResult(body, id) {
  for (const m of [...(body.messages ?? [])].reverse()) {
    if (m.role !== "user" || !Array.isArray(m.content)) continue;
    const b = m.content.find((c) => c.type === "tool_result" && c.tool_use_id === id);
    if (b) return b;
  }
  return undefined;
}

/** The message object the fake answers with, before streaming. */
function message(model, n, answer) {
  const content = answer.tool
    ? [{ type: "tool_use", id: answer.tool.id, name: answer.tool.name, input: answer.tool.input }]
    : [{ type: "text", text: answer.text }];
  return {
    id: `msg_fake_${String(n).padStart(5, "0")}`,
    type: "message",
    role: "assistant",
    model: model ?? "claude-fake",
    content,
    stop_reason: answer.tool ? "tool_use" : "end_turn",
    stop_sequence: null,
    usage: { input_tokens: 10, output_tokens: 10, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
  };
}

/** Writes `msg` as the Messages API's server-sent events. */
function stream(res, msg) {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  const ev = (type, data) => res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
  ev("message_start", { message: { ...msg, content: [], stop_reason: null, usage: { ...msg.usage, output_tokens: 1 } } });
  msg.content.forEach((block, index) => {
    if (block.type === "tool_use") {
      ev("content_block_start", { index, content_block: { type: "tool_use", id: block.id, name: block.name, input: {} } });
      ev("content_block_delta", { index, delta: { type: "input_json_delta", partial_json: JSON.stringify(block.input) } });
    } else {
      ev("content_block_start", { index, content_block: { type: "text", text: "" } });
      ev("content_block_delta", { index, delta: { type: "text_delta", text: block.text } });
    }
    ev("content_block_stop", { index });
  });
  ev("message_delta", { delta: { stop_reason: msg.stop_reason, stop_sequence: null }, usage: { output_tokens: msg.usage.output_tokens } });
  ev("message_stop", {});
  res.end();
}

/** Whether a Messages request is an agent's main loop turn (see the header). */
function isTurn(body) {
  return Array.isArray(body.tools) && body.tools.length > 0 && Array.isArray(body.messages);
}

/**
 * Starts the fake on 127.0.0.1:0 with `scripts` (`{ [agent]: steps }`) and `vars` every
 * script sees. Returns
 * `{ origin, baseUrl(agent), requests, turns(agent), toolResults(agent), players, waiting(barrier), close() }`:
 * `requests` is every request in arrival order as `{ n, at, agent, kind, method, path,
 * headers, body, answer }` (`kind`: turn, side, count_tokens or unknown).
 */
export async function startFakeAnthropic(scripts, { vars = {} } = {}) {
  const requests = [];
  const barriers = new Map(); // name -> { arrived: Set, open: Promise, released, release() }
  const left = new Set(); // agents whose process has ended: no barrier waits for them
  const check = (b) => {
    if ([...players.keys()].every((a) => b.arrived.has(a) || left.has(a))) b.release();
  };
  const fake = {
    arrive(name, agent) {
      let b = barriers.get(name);
      if (!b) {
        let release;
        const open = new Promise((r) => (release = r));
        b = { arrived: new Set(), open, released: false };
        b.release = () => {
          b.released = true;
          release();
        };
        barriers.set(name, b);
      }
      b.arrived.add(agent);
      check(b);
      return b.open;
    },
  };
  const players = new Map(Object.entries(scripts).map(([name, steps]) => [name, new Player(name, steps, fake, vars)]));
  let n = 0;

  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", async () => {
      n += 1;
      const entry = { n, at: Date.now(), agent: null, kind: "unknown", method: req.method, path: req.url, headers: req.headers, body: null, answer: null };
      requests.push(entry);
      const raw = Buffer.concat(chunks).toString("utf8");
      try {
        entry.body = raw ? JSON.parse(raw) : null;
      } catch {
        entry.body = raw;
      }
      const m = req.url.match(/^\/agents\/([^/]+)(\/v1\/[^?]*)/);
      const player = m ? players.get(decodeURIComponent(m[1])) : undefined;
      const send = (status, json) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(json));
      };
      if (!player || req.method !== "POST") {
        send(404, { type: "error", error: { type: "not_found_error", message: `fake-anthropic: no route for ${req.method} ${req.url}` } });
        return;
      }
      entry.agent = player.name;
      const body = entry.body && typeof entry.body === "object" ? entry.body : {};
      try {
        if (m[2] === "/v1/messages/count_tokens") {
          entry.kind = "count_tokens";
          entry.answer = { input_tokens: Math.ceil(raw.length / 4) };
          send(200, entry.answer);
          return;
        }
        if (m[2] !== "/v1/messages") {
          send(404, { type: "error", error: { type: "not_found_error", message: `fake-anthropic: unknown endpoint ${m[2]}` } });
          return;
        }
        let answer;
        if (isTurn(body)) {
          entry.kind = "turn";
          answer = await player.answer(body);
        } else {
          entry.kind = "side";
          answer = { text: "ok" };
        }
        entry.answer = answer;
        if (answer.error) {
          const { status, type, message } = answer.error;
          send(status, { type: "error", error: { type, message } });
          return;
        }
        const msg = message(body.model, n, answer);
        if (body.stream) stream(res, msg);
        else send(200, msg);
      } catch (e) {
        entry.error = String(e?.stack ?? e);
        // a script error ends the agent's turn with the error as its text, so the test sees it
        const msg = message(body.model, n, { text: `fake-anthropic script error: ${e?.message ?? e}` });
        if (body.stream) stream(res, msg);
        else send(200, msg);
      }
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const origin = `http://127.0.0.1:${server.address().port}`;

  const turns = (agent) => requests.filter((r) => r.agent === agent && r.kind === "turn");
  return {
    origin,
    players,
    requests,
    /** The `ANTHROPIC_BASE_URL` for `agent`. */
    baseUrl: (agent) => `${origin}/agents/${encodeURIComponent(agent)}`,
    turns,
    /**
     * Every tool result `agent`'s model was sent, once each, in order: `{ id, name, input,
     * text, isError, block }` (`name`/`input` from the fake's own tool_use).
     */
    toolResults(agent) {
      const seen = new Map();
      for (const r of turns(agent)) {
        const uses = new Map();
        for (const msg of r.body.messages) {
          if (!Array.isArray(msg.content)) continue;
          for (const b of msg.content) {
            if (b.type === "tool_use") uses.set(b.id, b);
            if (b.type === "tool_result" && !seen.has(b.tool_use_id)) {
              const use = uses.get(b.tool_use_id);
              seen.set(b.tool_use_id, { id: b.tool_use_id, name: use?.name, input: use?.input, text: resultText(b), isError: b.is_error === true, block: b });
            }
          }
        }
      }
      return [...seen.values()];
    },
    /**
     * Marks `agent`'s process as ended, so no barrier waits for it any longer (the harness
     * calls it when a CLI exits, so one agent that dies early does not hang the others). For
     * good: a barrier in a later run of the same agent name does not wait for it either.
     */
    leave(agent) {
      left.add(agent);
      for (const b of barriers.values()) check(b);
    },
    /** The agents held at barrier `name` now (arrived, not yet let through). */
    waiting: (name) => {
      const b = barriers.get(name);
      return b && !b.released ? [...b.arrived] : [];
    },
    /** Script errors the fake hit (a bad template, an unknown label), with the request. */
    errors: () => requests.filter((r) => r.error).map((r) => `${r.agent}: ${r.error}`),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
