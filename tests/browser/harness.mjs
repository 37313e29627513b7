// Shared harness of the dashboard's browser tests: the real server binary on 127.0.0.1:0 with a
// fresh data dir, a REST client ("another client"), headless Debian Chromium via playwright-core.
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const ARTIFACTS = path.join(HERE, 'artifacts');
const DEFAULT_BIN = path.resolve(HERE, '../../target/debug/baton');
export const BATON_BIN = process.env.BATON_BIN ? path.resolve(process.env.BATON_BIN) : DEFAULT_BIN;
export const SKIP = !process.env.BATON_BIN && !existsSync(DEFAULT_BIN)
  ? 'no server binary: set BATON_BIN or build target/debug/baton' : false;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const CHROME_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

// Generous, but every wait is bounded (slow 2-core CI machine).
export const T_START = 60_000;
export const T_UI = 30_000;
export const T_BIG = 120_000;

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** Resolves once `cond()` (sync or async) is truthy; rejects naming `what` after `ms`. */
export { waitUntil } from '../common/wait.mjs';
// eslint-disable-next-line no-control-regex
const stripAnsi = (s) => s.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '');

/** Start `$BATON_BIN serve` on an ephemeral port with a fresh data dir; `env` adds BATON_* settings, `args` CLI flags. */
export async function startServer({ dataDir = mkdtempSync(path.join(tmpdir(), 'baton-browser-')), bind = '127.0.0.1:0', env: extra = {}, args = [] } = {}) {
  // The server reads BATON_* variables as configuration and rejects unknown
  // keys, so BATON_BIN (ours, not its) must not leak into its environment.
  const env = { ...process.env, NO_COLOR: '1', ...extra };
  delete env.BATON_BIN;
  const child = spawn(BATON_BIN, ['serve', '--bind', bind, '--data-dir', dataDir, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
  });
  let log = '';
  const keep = (chunk) => { log = (log + chunk.toString()).slice(-200_000); };
  let exited = null;
  const exitP = new Promise((resolve) => child.once('exit', (code, sig) => { exited = { code, sig }; resolve(exited); }));
  const url = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`server did not print "listening on" within ${T_START} ms\n${log}`)), T_START);
    child.stdout.on('data', (chunk) => {
      keep(chunk);
      out = (out + stripAnsi(chunk.toString())).slice(-10_000);
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    child.stderr.on('data', keep);
    child.once('error', (e) => { clearTimeout(timer); reject(e); });
    exitP.then((x) => { clearTimeout(timer); reject(new Error(`server exited early (${JSON.stringify(x)})\n${log}`)); });
  });
  // Keep draining both pipes so a chatty server never blocks on a full pipe.
  child.stdout.on('data', () => {});
  return {
    url,
    dataDir,
    logs: () => log,
    async stop({ keepData = false } = {}) {
      if (!exited && child.pid) {
        try { process.kill(child.pid, 'SIGTERM'); } catch { /* already gone */ }
        const done = await Promise.race([exitP, sleep(5000).then(() => null)]);
        if (!done) {
          try { process.kill(child.pid, 'SIGKILL'); } catch { /* already gone */ }
          await Promise.race([exitP, sleep(5000)]);
        }
      }
      if (!keepData) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** `baton token create --data-dir` before the server starts; resolves with the secret (stdout's last line). */
export function createToken(dataDir, name, role) {
  return new Promise((resolve, reject) => {
    execFile(BATON_BIN, ['token', 'create', '--name', name, '--role', role, '--data-dir', dataDir], { timeout: T_START }, (err, stdout) => {
      if (err) return reject(err);
      const secret = stdout.trim().split('\n').at(-1);
      return /^baton_[0-9a-f]{64}$/.test(secret) ? resolve(secret) : reject(new Error(`no secret in ${stdout}`));
    });
  });
}

/** REST call from the test process ("another client"), with a bearer token when given. */
export async function rest(base, method, p, body, token) {
  const headers = body === undefined ? {} : { 'Content-Type': 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  const res = await fetch(`${base}/${p}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(T_BIG),
  });
  const text = await res.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { json = { raw: text }; }
  return { status: res.status, json };
}

export async function launch() {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROME_ARGS, timeout: T_START });
}

/** Collects uncaught page errors and console errors (except failed resource loads, e.g. the 404 of api/v1/servers). */
export function watchPage(page) {
  const errors = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) errors.push(`console: ${m.text()}`);
  });
  return errors;
}

export const row = (id, status) => `[data-testid="task-row"][data-task-id="${id}"]${status ? `[data-status="${status}"]` : ''}`;

export async function withDiagnostics(t, server, fn) {
  try {
    await fn();
  } catch (e) {
    t.diagnostic(`server log (tail):\n${server.logs().slice(-4000)}`);
    throw e;
  }
}
