// Browser test of the dashboard's reservations: the reserved-paths panel (patterns, holder, task,
// mode) and, in the task detail, a task's declared paths, its live reservations and why a ready
// task waits — against the real server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SKIP, T_START, T_UI, launch, rest, startServer, watchPage, withDiagnostics } from './harness.mjs';

test('dashboard: reserved paths in a panel and in the task detail, with why a task waits', { skip: SKIP, timeout: 300_000 }, async (t) => {
  const server = await startServer();
  t.after(() => server.stop());
  const browser = await launch();
  t.after(() => browser.close());
  await withDiagnostics(t, server, async () => {
    for (const [id, paths] of [['api', ['src/api/**']], ['api-2', ['src/api/routes.rs']]]) {
      const r = await rest(server.url, 'POST', 'api/v1/tasks', { id, title: id, paths });
      assert.equal(r.status, 201, JSON.stringify(r.json));
    }
    const held = await rest(server.url, 'POST', 'api/v1/reservations', { worker: 'alice', patterns: ['docs/**'], mode: 'shared', ttl_secs: 600 });
    assert.equal(held.status, 201, JSON.stringify(held.json));
    const claim = await rest(server.url, 'POST', 'api/v1/tasks/api/claim', { worker: 'bob' });
    assert.equal(claim.status, 200, JSON.stringify(claim.json));

    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.setDefaultTimeout(T_UI);
    const pageErrors = watchPage(page);
    await page.goto(`${server.url}/#task=api-2`, { waitUntil: 'domcontentloaded', timeout: T_START });
    // the panel: both reservations, with their holders
    const panel = '[data-testid="reservations"]';
    await page.waitForFunction((sel) => document.querySelectorAll(`${sel} [data-testid="reservation"]`).length === 2, panel);
    const text = await page.textContent(panel);
    assert.match(text, /docs\/\*\*/);
    assert.match(text, /alice/);
    assert.match(text, /src\/api\/\*\*/);
    assert.match(text, /bob/);
    assert.match(await page.textContent('[data-testid="reservations-summary"]'), /2 live/);
    // the detail of the waiting task says why, naming the holder
    await page.waitForSelector('[data-testid="detail-waits"]');
    const why = await page.textContent('[data-testid="detail-waits"]');
    assert.match(why, /src\/api\/\*\*/);
    assert.match(why, /bob/);
    assert.match(await page.textContent('[data-testid="detail-paths"]'), /src\/api\/routes\.rs/);
    // the running task's detail lists its own reservation
    assert.equal(await page.locator(`${panel} [data-goto="api"]`).count(), 1, 'the panel links the holding task');
    await page.evaluate(() => { location.hash = '#task=api'; });
    await page.waitForSelector('[data-testid="detail-reservations"] [data-testid="reservation"]');
    assert.match(await page.textContent('[data-testid="detail-reservations"]'), /src\/api\/\*\*/);
    // its lease ends: the reservation leaves the panel
    const done = await rest(server.url, 'POST', 'api/v1/tasks/api/complete', { lease_id: claim.json.lease.lease_id });
    assert.equal(done.status, 200);
    await page.waitForFunction((sel) => document.querySelectorAll(`${sel} [data-testid="reservation"]`).length === 1, panel);
    assert.deepEqual(pageErrors, []);
  });
});
