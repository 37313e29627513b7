// Real Claude Code agents against the real baton binary: the `claude -p` CLI of npm
// `@anthropic-ai/claude-code` (pinned in package.json) with a scripted model
// (fake-anthropic.mjs) in place of Anthropic's API. Not a test file: the *.test.mjs files
// in this directory use it.
//
// What an agent gets, and why:
// - its own HOME (a fresh directory holding only `.claude.json`, which marks the project
//   trusted), so the developer's configuration is never read or written;
// - `ANTHROPIC_BASE_URL` at the fake, under a path naming the agent (how the fake tells
//   agents apart), any `ANTHROPIC_API_KEY`, `CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1` (no
//   telemetry, update checks or other calls home: an strace of a run shows connections to
//   127.0.0.1 only), `ENABLE_TOOL_SEARCH=false` (else MCP tools hide behind `ToolSearch`);
// - `BATON_WORKER=<name>`, which the project's `.mcp.json` sends as `X-Baton-Worker`
//   (`${BATON_WORKER}`, expanded by Claude Code) and hooks may send too;
// - every inherited `ANTHROPIC_*`, `CLAUDE_*` and proxy variable removed, so nothing of the
//   developer's environment leaks in and nothing leaves 127.0.0.1.
//
// Permissions: on the pinned CLI `--dangerously-skip-permissions` refuses to run as root
// ("cannot be used with root/sudo privileges", unless IS_SANDBOX=1), which CI containers
// are, and a project's `permissions.allow` is ignored until the project is trusted ("this
// workspace has not been trusted"). So each HOME's `.claude.json` marks the project
// trusted (`projects[dir].hasTrustDialogAccepted`, what the interactive trust dialog
// writes) and the project's `.claude/settings.json` allows `mcp__baton`, `Bash`, `Edit` and
// `Write` — what a team running agents unattended would configure, and it keeps PreToolUse
// hooks and permission rules meaningful, which skipping permissions would not.
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { serve } from "./baton.mjs";
import { startFakeAnthropic } from "./fake-anthropic.mjs";

const here = dirname(fileURLToPath(import.meta.url));
/** The baton binary under test (`BATON_BIN`, else the debug build). */
export const BATON = process.env.BATON_BIN ?? join(here, "../../target/debug/baton");
/** The pinned Claude Code CLI (a native executable in the npm package). */
export const CLAUDE = join(here, "node_modules/.bin/claude");

/** The tools every agent may use without asking (see the header). */
export const ALLOWED_TOOLS = ["mcp__baton", "Bash", "Edit", "Write"];

/** Resolves once `cond()` (sync or async) is truthy; rejects naming `what` after `ms`. */
export { waitUntil } from "../common/wait.mjs";

/** The process environment without the developer's Claude, Anthropic and proxy settings. */
function cleanEnv() {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(ANTHROPIC_|CLAUDE_|CLAUDECODE)/.test(k)) continue;
    if (/^(https?_proxy|all_proxy|no_proxy)$/i.test(k)) continue;
    env[k] = v;
  }
  return env;
}

/**
 * `fetch` of baton's REST API: `method path` with a JSON `body`, bearer `token` if given.
 * Returns `{ status, json }` (`json` null on an empty body).
 */
export async function rest(base, method, path, body, token) {
  const headers = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let json = null;
  if (text) {
    try {
      json = JSON.parse(text);
    } catch {
      json = text;
    }
  }
  return { status: res.status, json };
}

/** Writes `value` as pretty JSON at `path`, making its directory. */
function writeJson(path, value) {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);
}

/**
 * A Claude Code project at `dir` wired to baton: `.mcp.json` with an `http` entry `baton` at
 * `${batonUrl}/mcp` sending `X-Baton-Worker: ${BATON_WORKER}` (and `headers`), and
 * `.claude/settings.json` enabling it, allowing {@link ALLOWED_TOOLS}, merged with
 * `settings` (hooks, say).
 */
export function writeProject(dir, { batonUrl, headers = {}, settings = {} }) {
  writeJson(join(dir, ".mcp.json"), {
    mcpServers: {
      baton: { type: "http", url: `${batonUrl}/mcp`, headers: { "X-Baton-Worker": "${BATON_WORKER}", ...headers } },
    },
  });
  writeJson(join(dir, ".claude/settings.json"), {
    enabledMcpjsonServers: ["baton"],
    permissions: { allow: ALLOWED_TOOLS },
    ...settings,
  });
}

/**
 * A test's world: a temp root, baton serving a fresh data dir (`batonArgs`, `batonEnv`), the
 * fake Anthropic API playing `scripts` (which see the project directory as `{{project}}`),
 * and a project dir wired to both (`projectOptions` go to {@link writeProject}); `beforeServe(dataDir)`,
 * if given, runs before baton starts. Everything is stopped and removed by `close()` — register it with
 * `t.after`. `BATON_KEEP_AGENT_DIRS=1` keeps the temp root (its path is printed) for a look.
 */
export async function startWorld({ scripts, batonArgs = [], batonEnv = {}, projectOptions = {}, beforeServe }) {
  const root = mkdtempSync(join(tmpdir(), "baton-agents-"));
  const world = { root, running: new Set(), closed: false };
  // what must be in the data directory before baton starts (the first admin token, say)
  beforeServe?.(join(root, "data"));
  // rmcp logs a WARN for each `subscriptions/listen` the CLI sends (a method baton does not
  // serve; the CLI goes on without it): kept out of the test output
  const env = { RUST_LOG: "warn,rmcp::service=error", ...batonEnv };
  const { child, url } = serve(BATON, join(root, "data"), batonArgs, env);
  world.baton = child;
  world.project = join(root, "project");
  try {
    world.base = await url;
    world.fake = await startFakeAnthropic(scripts, { vars: { project: world.project } });
  } catch (e) {
    child.kill("SIGTERM");
    throw e;
  }
  writeProject(world.project, { batonUrl: world.base, ...projectOptions });

  /** REST on this world's baton. */
  world.rest = (method, path, body, token) => rest(world.base, method, path, body, token);

  /**
   * Runs `agents` (`[{ name, prompt?, env?, args? }]`, each name a script of the fake) as
   * concurrent `claude -p` processes in the project and waits for all, at most `timeoutMs`
   * (then each still running is killed with its process group and reported `timedOut`).
   * Returns `[{ name, code, signal, timedOut, ms, stdout, stderr, result }]` in the order
   * given, `result` being the parsed `--output-format json` line when there is one.
   */
  world.run = (agents, { timeoutMs = 60_000 } = {}) =>
    Promise.all(agents.map((a) => runAgent(world, a, timeoutMs)));

  world.close = async () => {
    if (world.closed) return;
    world.closed = true;
    for (const p of world.running) killGroup(p, "SIGKILL");
    await world.fake?.close();
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    }
    if (process.env.BATON_KEEP_AGENT_DIRS) console.log(`kept ${root}`);
    else rmSync(root, { recursive: true, force: true });
  };
  return world;
}

/** Signals the process group the harness started `child` in (only that group). */
function killGroup(child, signal) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    child.kill(signal);
  }
}

function runAgent(world, { name, prompt, env = {}, args = [] }, timeoutMs) {
  const home = join(world.root, "homes", name);
  writeJson(join(home, ".claude.json"), { projects: { [world.project]: { hasTrustDialogAccepted: true } } });
  const started = Date.now();
  const child = spawn(CLAUDE, ["-p", prompt ?? `You are agent ${name}: work the baton board.`, "--output-format", "json", ...args], {
    cwd: world.project,
    // its own process group, so a timeout kills the CLI and the shells it ran, and only those
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...cleanEnv(),
      HOME: home,
      ANTHROPIC_BASE_URL: world.fake.baseUrl(name),
      ANTHROPIC_API_KEY: "sk-ant-fake-key",
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
      ENABLE_TOOL_SEARCH: "false",
      NO_PROXY: "127.0.0.1,localhost",
      BATON_WORKER: name,
      ...env,
    },
  });
  world.running.add(child);
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c) => (stdout += c));
  child.stderr.on("data", (c) => (stderr += c));
  return new Promise((resolve) => {
    let timedOut = false;
    let finished = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child, "SIGTERM");
      setTimeout(() => killGroup(child, "SIGKILL"), 5_000).unref();
    }, timeoutMs);
    const finish = (code, signal) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      world.running.delete(child);
      world.fake.leave(name);
      let result = null;
      const last = stdout.trim().split("\n").at(-1);
      try {
        result = last ? JSON.parse(last) : null;
      } catch {
        result = null;
      }
      resolve({ name, code, signal, timedOut, ms: Date.now() - started, stdout, stderr, result });
    };
    child.on("error", (e) => {
      // not started (or not signalled): report it as a failed run
      stderr += `\nspawn error: ${e.message}`;
      if (child.pid === undefined) finish(null, null);
    });
    child.on("close", finish);
  });
}

/** One line per agent run, for a failure message: name, exit, time, stderr's tail. */
export function describeRuns(runs) {
  return runs
    .map((r) => `${r.name}: exit ${r.code}${r.signal ? ` (${r.signal})` : ""}${r.timedOut ? " TIMED OUT" : ""} in ${r.ms} ms; stdout ${r.stdout.slice(-300)}; stderr ${r.stderr.slice(-500)}`)
    .join("\n");
}
