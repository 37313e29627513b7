// Browser tests of the live dashboard against the real baton server.
// Run: npm ci --prefix tests/browser && BATON_BIN=target/debug/baton node --test tests/browser/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import {
  ARTIFACTS, SKIP, T_BIG, T_START, T_UI, launch, rest, row, startServer, watchPage, withDiagnostics,
} from './harness.mjs';

test('dashboard: add tasks via the form, follows another client live, shows API errors', { skip: SKIP, timeout: 300_000 }, async (t) => {
  const server = await startServer();
  t.after(() => server.stop());
  const browser = await launch();
  t.after(() => browser.close());
  await withDiagnostics(t, server, async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.setDefaultTimeout(T_UI);
    const pageErrors = watchPage(page);
    await page.goto(`${server.url}/`, { waitUntil: 'domcontentloaded', timeout: T_START });
    await page.waitForSelector('[data-testid="conn-status"][data-state="live"]', { timeout: T_UI });
    await page.waitForSelector('[data-testid="add-task-form"]');

    // 1. Add two tasks through the form; the second depends on the first.
    const form = '[data-testid="add-task-form"]';
    await page.fill(`${form} [data-testid="field-id"]`, 'first');
    await page.fill(`${form} [data-testid="field-title"]`, 'First task');
    await page.fill(`${form} [data-testid="field-tags"]`, 'ui, test');
    await page.click('[data-testid="add-task-submit"]');
    await page.waitForSelector(row('first', 'ready'));

    await page.fill(`${form} [data-testid="field-id"]`, 'second');
    await page.fill(`${form} [data-testid="field-title"]`, 'Second task');
    await page.fill(`${form} [data-testid="field-priority"]`, '5');
    await page.fill(`${form} [data-testid="field-dependencies"]`, 'first');
    await page.fill(`${form} [data-testid="field-payload"]`, '{"n": 2, "ok": true}');
    await page.click('[data-testid="add-task-submit"]');
    await page.waitForSelector(row('second', 'blocked'));
    assert.equal(await page.textContent('[data-testid="count-total"]'), '2');
    assert.equal(await page.textContent('[data-testid="count-blocked"]'), '1');

    // 2. Another client claims and completes the first task over REST.
    const claim = await rest(server.url, 'POST', 'api/v1/tasks/claim-next', { worker: 'other-client' });
    assert.equal(claim.status, 200, `claim-next: ${JSON.stringify(claim.json)}`);
    assert.equal(claim.json.task.id, 'first');
    const leaseId = claim.json.lease.lease_id;
    await page.waitForSelector(row('first', 'running'));
    const runningText = await page.textContent(row('first', 'running'));
    assert.match(runningText, /other-client/, 'running row shows the worker');
    assert.match(runningText, /slot \d+/, 'running row shows the slot');
    await page.waitForSelector('[data-testid="slot"].busy', { timeout: T_UI });

    const done = await rest(server.url, 'POST', 'api/v1/tasks/first/complete', { lease_id: leaseId, output: { answer: 42 } });
    assert.equal(done.status, 200, `complete: ${JSON.stringify(done.json)}`);
    await page.waitForSelector(row('first', 'done'));
    await page.waitForSelector(row('second', 'ready'));
    await page.waitForFunction(() => document.querySelector('[data-testid="count-done"]').textContent === '1'
      && document.querySelector('[data-testid="count-ready"]').textContent === '1'
      && document.querySelector('[data-testid="count-running"]').textContent === '0', null, { timeout: T_UI });

    // 3. The detail drawer shows output, dependents and the audit log.
    await page.click(row('first', 'done'));
    await page.waitForSelector('[data-testid="task-detail"]:not([hidden])');
    await page.waitForFunction(() => {
      const q = (s) => (document.querySelector(s) || {}).textContent || '';
      return q('[data-testid="detail-status"]') === 'done' && q('[data-testid="detail-output"]').includes('42')
        && q('[data-testid="detail-dependents"]').includes('second') && q('[data-testid="detail-events"]').includes('completed');
    }, null, { timeout: T_UI });
    await page.click('[data-testid="detail-close"]');
    await page.waitForSelector('[data-testid="task-detail"]', { state: 'hidden' });

    // 4. An API error (missing dependency) is shown to the user.
    await page.fill(`${form} [data-testid="field-id"]`, 'third');
    await page.fill(`${form} [data-testid="field-title"]`, 'Third task');
    await page.fill(`${form} [data-testid="field-dependencies"]`, 'no-such-task');
    await page.click('[data-testid="add-task-submit"]');
    await page.waitForSelector('[data-testid="error-banner"]', { state: 'visible' });
    const banner = (await page.textContent('[data-testid="error-text"]')).trim();
    const direct = await rest(server.url, 'POST', 'api/v1/tasks', { id: 'third-rest', title: 'Third', dependencies: ['no-such-task'] });
    assert.ok(direct.status >= 400 && direct.status < 500, `missing dependency must be a 4xx, got ${direct.status}`);
    assert.ok(direct.json && direct.json.error && direct.json.error.message, `error body: ${JSON.stringify(direct.json)}`);
    assert.ok(banner.includes(direct.json.error.message.replace('third-rest', 'third')),
      `banner "${banner}" should contain the API message "${direct.json.error.message}"`);
    assert.equal(await page.locator(row('third')).count(), 0);

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard.png'), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.click('[data-testid="board-summary"] [data-lane="done"]');
    await page.waitForSelector(row('first', 'done'), { state: 'visible' });
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-phone.png'), fullPage: false });
    assert.deepEqual(pageErrors, []);
  });
});

test('dashboard: 10,000 tasks render as a virtual window and stay responsive', { skip: SKIP, timeout: 600_000 }, async (t) => {
  const server = await startServer();
  t.after(() => server.stop());
  await withDiagnostics(t, server, async () => {
    const N = 10_000;
    const BATCH = 1000;
    const id = (i) => `bulk-${String(i).padStart(5, '0')}`;
    for (let b = 0; b < N / BATCH; b++) {
      const tasks = [];
      for (let i = b * BATCH; i < (b + 1) * BATCH; i++) tasks.push({ id: id(i), title: `Bulk task ${i}`, tags: ['bulk'] });
      const res = await rest(server.url, 'POST', 'api/v1/tasks', { tasks });
      assert.equal(res.status, 201, `batch ${b}: ${JSON.stringify(res.json).slice(0, 500)}`);
      assert.equal(res.json.tasks.length, BATCH);
    }

    const browser = await launch();
    t.after(() => browser.close());
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.setDefaultTimeout(T_UI);
    const pageErrors = watchPage(page);
    await page.goto(`${server.url}/`, { waitUntil: 'domcontentloaded', timeout: T_START });
    await page.waitForFunction((n) => document.querySelector('[data-testid="count-total"]').textContent === String(n), N, { timeout: T_BIG });
    assert.equal(await page.textContent('[data-testid="count-ready"]'), String(N));
    await page.waitForSelector(row(id(0), 'ready'), { state: 'visible' });
    const rows = await page.locator('[data-testid="task-row"]').count();
    assert.ok(rows > 0 && rows < 300, `rendered rows: ${rows}`);

    // Scroll the ready lane to the end: the last rows must appear, still windowed.
    const lane = '[data-testid="lane-ready"] [data-testid="lane-scroll"]';
    await page.evaluate((sel) => { const s = document.querySelector(sel); s.scrollTop = s.scrollHeight; }, lane);
    await page.waitForSelector(row(id(N - 1)), { state: 'visible' });
    await page.evaluate((sel) => { const s = document.querySelector(sel); s.scrollTop = s.scrollHeight / 2; }, lane);
    await page.waitForFunction(() => [...document.querySelectorAll('[data-testid="task-row"][data-status="ready"]')]
      .some((r) => /^bulk-0(49|50)\d\d$/.test(r.dataset.taskId)), null, { timeout: T_UI });
    const rows2 = await page.locator('[data-testid="task-row"]').count();
    assert.ok(rows2 > 0 && rows2 < 300, `rendered rows after scrolling: ${rows2}`);

    // Still live and responsive: a frame is produced quickly, counts follow another client.
    const frameMs = await page.evaluate(() => new Promise((r) => { const t0 = performance.now(); requestAnimationFrame(() => r(performance.now() - t0)); }));
    assert.ok(frameMs < 2000, `next frame took ${frameMs} ms`);
    const claim = await rest(server.url, 'POST', 'api/v1/tasks/claim-next', { worker: 'bulk-worker' });
    assert.equal(claim.status, 200, `claim-next: ${JSON.stringify(claim.json)}`);
    await page.waitForFunction((n) => document.querySelector('[data-testid="count-running"]').textContent === '1'
      && document.querySelector('[data-testid="count-ready"]').textContent === String(n - 1), N, { timeout: T_UI });
    await page.waitForSelector(row(claim.json.task.id, 'running'), { state: 'visible' });
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-10k.png') });
    assert.deepEqual(pageErrors, []);
  });
});

test('dashboard: catches up after the server restarts (EventSource reconnect)', { skip: SKIP, timeout: 300_000 }, async (t) => {
  let server = await startServer();
  const dataDir = server.dataDir;
  t.after(async () => { await server.stop(); rmSync(dataDir, { recursive: true, force: true }); });
  const browser = await launch();
  t.after(() => browser.close());
  await withDiagnostics(t, server, async () => {
    const r1 = await rest(server.url, 'POST', 'api/v1/tasks', { tasks: [{ id: 'a', title: 'A' }, { id: 'b', title: 'B', dependencies: ['a'] }] });
    assert.equal(r1.status, 201, JSON.stringify(r1.json));
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.setDefaultTimeout(T_UI);
    const pageErrors = watchPage(page);
    await page.goto(`${server.url}/`, { waitUntil: 'domcontentloaded', timeout: T_START });
    await page.waitForSelector('[data-testid="conn-status"][data-state="live"]');
    await page.waitForSelector(row('a', 'ready'));
    await page.waitForSelector(row('b', 'blocked'));

    // Restart the server on the same port and data dir; change the board right away.
    const port = new URL(server.url).port;
    await server.stop({ keepData: true });
    await page.waitForSelector('[data-testid="conn-status"]:not([data-state="live"])');
    server = await startServer({ dataDir, bind: `127.0.0.1:${port}` });
    const claim = await rest(server.url, 'POST', 'api/v1/tasks/claim-next', { worker: 'after-restart' });
    assert.equal(claim.status, 200, JSON.stringify(claim.json));
    const done = await rest(server.url, 'POST', 'api/v1/tasks/a/complete', { lease_id: claim.json.lease.lease_id, output: 'ok' });
    assert.equal(done.status, 200, JSON.stringify(done.json));

    await page.waitForSelector('[data-testid="conn-status"][data-state="live"]', { timeout: T_BIG });
    await page.waitForSelector(row('a', 'done'), { timeout: T_BIG });
    await page.waitForSelector(row('b', 'ready'));
    await page.waitForFunction(() => document.querySelector('[data-testid="count-done"]').textContent === '1'
      && document.querySelector('[data-testid="count-ready"]').textContent === '1'
      && document.querySelector('[data-testid="count-total"]').textContent === '2', null, { timeout: T_UI });
    assert.deepEqual(pageErrors, []);
  });
});
