// Claude Code's own CLI (npm `@anthropic-ai/claude-code`) against `baton serve` with auth
// required: `claude mcp add --transport http … --header "Authorization: Bearer …"` then
// `claude mcp list` health-checks the server — connected with an agent token, not without one.
//
// Claude Code needs no API key for `mcp add`/`list`; it gets its own HOME so the developer's
// real configuration is never read or written, and CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1
// keeps it from calling home. All traffic stays on 127.0.0.1.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { serve } from "./baton.mjs";

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const BATON = process.env.BATON_BIN ?? join(here, "../../target/debug/baton");
const CLAUDE = join(here, "node_modules/.bin/claude");

/** `baton token create --data-dir`: the secret is the last line of stdout. */
async function createToken(dataDir, name, role) {
  const { stdout } = await run(BATON, ["token", "create", "--name", name, "--role", role, "--data-dir", dataDir], {
    timeout: 60_000,
  });
  const secret = stdout.trim().split("\n").at(-1);
  assert.match(secret, /^baton_[0-9a-f]{64}$/);
  return secret;
}

async function claude(home, args) {
  const { stdout, stderr } = await run(CLAUDE, args, {
    cwd: home,
    timeout: 120_000,
    env: { ...process.env, HOME: home, CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1", ANTHROPIC_API_KEY: "" },
  });
  return { stdout, stderr };
}

test("claude mcp add with a bearer header connects to baton; without it does not", async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), "baton-claude-data-"));
  const home = mkdtempSync(join(tmpdir(), "baton-claude-home-"));
  const token = await createToken(dataDir, "claude-code", "agent");
  const { child, url } = serve(BATON, dataDir, [], { BATON_AUTH__REQUIRED: "true" });
  t.after(() => {
    child.kill("SIGTERM");
    rmSync(home, { recursive: true, force: true });
  });
  const base = await url;

  await claude(home, ["mcp", "add", "--transport", "http", "baton", `${base}/mcp`, "--header", `Authorization: Bearer ${token}`]);
  await claude(home, ["mcp", "add", "--transport", "http", "anonymous", `${base}/mcp`]);
  const { stdout } = await claude(home, ["mcp", "list"]);
  console.log(stdout.trim());

  const line = (name) => stdout.split("\n").find((l) => l.startsWith(`${name}:`)) ?? "";
  assert.match(line("baton"), /Connected/, stdout);
  assert.doesNotMatch(line("anonymous"), /✔ Connected/, stdout);
  assert.match(line("anonymous"), /Failed|auth/i, stdout);
  // the secret is stored in Claude Code's config under the test HOME, never echoed back
  assert.doesNotMatch(stdout, new RegExp(token));
});
