// The dashboard with auth required (`BATON_AUTH__REQUIRED=true`): the static shell loads without a
// token, the first data call's 401 opens the sign-in dialog, a viewer token entered there is kept
// for the tab only and sent as a bearer header, the live stream opens with single-use tickets, the
// graph and timeline views load their data the same way — and the secret never appears in a URL.
// Run: npm ci --prefix tests/browser && BATON_BIN=target/debug/baton node --test tests/browser/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  ARTIFACTS, createToken, launch, rest, row, SKIP, startServer, T_START, T_UI, watchPage, withDiagnostics,
} from './harness.mjs';

test('dashboard with auth on: sign in with a token, live updates over stream tickets, no secret in any URL', { skip: SKIP, timeout: 240_000 }, async (t) => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'baton-browser-auth-'));
  const viewer = await createToken(dataDir, 'ui-viewer', 'viewer');
  const agent = await createToken(dataDir, 'ui-agent', 'agent');
  const server = await startServer({ dataDir, env: { BATON_AUTH__REQUIRED: 'true' } });
  const browser = await launch();
  t.after(async () => {
    await browser.close();
    await server.stop();
  });
  await withDiagnostics(t, server, async () => {
    const page = await browser.newPage();
    const errors = watchPage(page);
    const urls = [];
    page.on('request', (r) => urls.push(r.url()));
    const statuses = [];
    page.on('response', (r) => statuses.push(`${r.status()} ${new URL(r.url()).pathname}`));

    assert.equal((await rest(server.url, 'POST', 'api/v1/tasks', { id: 'first', title: 'before sign-in' }, agent)).status, 201);
    assert.equal((await rest(server.url, 'GET', 'api/v1/tasks')).status, 401, 'data needs a token');

    await page.goto(`${server.url}/`, { waitUntil: 'domcontentloaded', timeout: T_START });
    await page.waitForSelector('[data-testid="login"][open]', { timeout: T_UI });
    assert.ok(statuses.some((s) => s === '401 /api/v1/tasks' || s.startsWith('401 /api/v1/')), statuses.join('\n'));
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'auth-sign-in.png') });

    await page.fill('[data-testid="login-token"]', viewer);
    await page.click('[data-testid="login-submit"]');
    await page.waitForSelector(row('first', 'ready'), { timeout: T_UI });
    assert.equal(await page.evaluate(() => sessionStorage.getItem('baton.token')), viewer, 'kept for the tab only');

    // Another client works; the signed-in page follows it live (SSE opened with a ticket).
    assert.equal((await rest(server.url, 'POST', 'api/v1/tasks', { id: 'second', title: 'live', dependencies: ['first'] }, agent)).status, 201);
    await page.waitForSelector(row('second', 'blocked'), { timeout: T_UI });
    const claim = await rest(server.url, 'POST', 'api/v1/tasks/first/claim', { worker: 'ui-w' }, agent);
    assert.equal(claim.status, 200, JSON.stringify(claim.json));
    await page.waitForSelector(row('first', 'running'), { timeout: T_UI });
    const done = await rest(server.url, 'POST', 'api/v1/tasks/first/complete', { lease_id: claim.json.lease.lease_id }, agent);
    assert.equal(done.status, 200, JSON.stringify(done.json));
    await page.waitForSelector(row('second', 'ready'), { timeout: T_UI });

    // The graph and timeline views read their data with the same token.
    await page.click('[data-testid="tab-graph"]');
    await page.waitForSelector('[data-testid="graph-svg"][data-state="ready"][data-nodes="2"]', { timeout: T_UI });
    await page.click('[data-testid="tab-timeline"]');
    await page.waitForSelector('[data-testid="timeline-svg"][data-state="ready"][data-bars="1"]', { timeout: T_UI });
    await page.screenshot({ path: path.join(ARTIFACTS, 'auth-timeline.png') });

    // A viewer cannot change the board from the page: the form's add is refused with the role named.
    const refused = await page.evaluate(async () => {
      const r = await fetch('api/v1/tasks', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${sessionStorage.getItem('baton.token')}` },
        body: JSON.stringify({ id: 'nope', title: 'x' }),
      });
      return { status: r.status, body: await r.json() };
    });
    assert.equal(refused.status, 403, JSON.stringify(refused));
    assert.equal(refused.body.error.code, 'forbidden');

    const streams = urls.filter((u) => u.includes('/api/v1/events?'));
    assert.ok(streams.length >= 1 && streams.every((u) => /[?&]ticket=/.test(u)), streams.join('\n'));
    for (const u of urls) assert.ok(!u.includes(viewer), `the secret leaked into a URL: ${u}`);
    assert.deepEqual(errors.filter((e) => !/401|403/.test(e)), []);
  });
});
