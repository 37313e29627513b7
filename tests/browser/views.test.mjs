// Browser tests of the dashboard's graph, timeline and progress views against the real server.
// Run: npm ci --prefix tests/browser && BATON_BIN=target/debug/baton node --test tests/browser/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import {
  ARTIFACTS, SKIP, T_BIG, T_START, T_UI, launch, rest, sleep, startServer, waitUntil, watchPage, withDiagnostics,
} from './harness.mjs';

const node = (id) => `[data-testid="graph-node"][data-task-id="${id}"]`;
const shot = async (page, name, opts = {}) => {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, name), ...opts });
};

/** A 30-task DAG with fan-out (setup → 6 builds, release → 3 announcements) and fan-in (6 tests → test-all, …). */
function dag30() {
  const t = (id, title, tags, dependencies = []) => ({ id, title, tags, dependencies });
  const tasks = [t('setup', 'Set up the workspace', ['build'])];
  for (let i = 1; i <= 6; i++) tasks.push(t(`build-${i}`, `Build module ${i}`, ['build'], ['setup']));
  for (let i = 1; i <= 6; i++) tasks.push(t(`test-${i}`, `Test module ${i}`, ['test'], [`build-${i}`]));
  tasks.push(t('test-all', 'Integration tests', ['test'], [1, 2, 3, 4, 5, 6].map((i) => `test-${i}`)));
  for (let i = 1; i <= 4; i++) tasks.push(t(`docs-${i}`, `Write chapter ${i}`, ['docs'], ['setup']));
  tasks.push(t('docs-site', 'Publish the docs site', ['docs'], [1, 2, 3, 4].map((i) => `docs-${i}`)));
  for (let i = 1; i <= 5; i++) tasks.push(t(`lint-${i}`, `Lint package ${i}`, ['lint']));
  tasks.push(t('package', 'Package the release', ['release'], ['test-all', ...[1, 2, 3, 4, 5].map((i) => `lint-${i}`)]));
  tasks.push(t('release', 'Cut the release', ['release'], ['package', 'docs-site']));
  for (let i = 1; i <= 3; i++) tasks.push(t(`announce-${i}`, `Announce on channel ${i}`, ['release'], ['release']));
  tasks.push(t('cleanup', 'Clean up', [], [1, 2, 3].map((i) => `announce-${i}`)));
  return tasks;
}

/** The drawn graph, read from the SVG: node ids with status and position, edges as "from>to". */
async function drawnGraph(page) {
  return page.evaluate(() => {
    const nodes = {};
    for (const g of document.querySelectorAll('[data-testid="graph-node"]')) {
      const m = /translate\(([-\d.]+),([-\d.]+)\)/.exec(g.getAttribute('transform') || '');
      nodes[g.dataset.taskId] = { status: g.dataset.status, x: m ? Number(m[1]) : NaN, y: m ? Number(m[2]) : NaN };
    }
    const edges = [...document.querySelectorAll('[data-testid="graph-edge"]')].map((e) => `${e.dataset.from}>${e.dataset.to}`);
    const svg = document.querySelector('[data-testid="graph-svg"]');
    return { nodes, edges, draws: Number(svg.dataset.draws || 0), layoutMs: Number(svg.dataset.layoutMs) };
  });
}

async function claimAndFinish(base, id, worker, how = 'complete', body = {}) {
  const c = await rest(base, 'POST', `api/v1/tasks/${id}/claim`, { worker });
  assert.equal(c.status, 200, `claim ${id}: ${JSON.stringify(c.json)}`);
  if (how) {
    const r = await rest(base, 'POST', `api/v1/tasks/${id}/${how}`, { lease_id: c.json.lease.lease_id, ...body });
    assert.equal(r.status, 200, `${how} ${id}: ${JSON.stringify(r.json)}`);
  }
  return c.json.lease.lease_id;
}

async function allLeases(base) {
  const out = [];
  let cursor = null;
  do {
    const r = await rest(base, 'GET', `api/v1/leases?limit=1000${cursor ? `&cursor=${cursor}` : ''}`);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    out.push(...r.json.leases);
    cursor = r.json.next_cursor;
  } while (cursor);
  return out;
}

test('graph: a 30-task DAG matches the board, recolours live without a new layout, focuses on a task', { skip: SKIP, timeout: 300_000 }, async (t) => {
  const server = await startServer();
  t.after(() => server.stop());
  const browser = await launch();
  t.after(() => browser.close());
  await withDiagnostics(t, server, async () => {
    const tasks = dag30();
    assert.equal(tasks.length, 30);
    const add = await rest(server.url, 'POST', 'api/v1/tasks', { tasks });
    assert.equal(add.status, 201, JSON.stringify(add.json));

    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    page.setDefaultTimeout(T_UI);
    const pageErrors = watchPage(page);
    await page.goto(`${server.url}/#graph`, { waitUntil: 'domcontentloaded', timeout: T_START });
    await page.waitForSelector('[data-testid="graph-view"]:not([hidden])');
    await page.waitForSelector('[data-testid="graph-svg"][data-state="ready"][data-nodes="30"]', { timeout: T_BIG });

    // Nodes and edges are exactly the board's tasks and dependencies, edges point left to right.
    const board = (await rest(server.url, 'GET', 'api/v1/tasks?limit=1000')).json.tasks;
    const g = await drawnGraph(page);
    assert.deepEqual(Object.keys(g.nodes).sort(), board.map((x) => x.id).sort());
    const want = board.flatMap((x) => x.dependencies.map((d) => `${d}>${x.id}`)).sort();
    assert.equal(want.length, 40);
    assert.deepEqual(g.edges.slice().sort(), want);
    for (const e of g.edges) {
      const [a, b] = e.split('>');
      assert.ok(g.nodes[a].x < g.nodes[b].x, `edge ${e} runs left to right (${g.nodes[a].x} → ${g.nodes[b].x})`);
    }
    for (const x of board) assert.equal(g.nodes[x.id].status, x.status, `colour of ${x.id}`);
    assert.equal(g.nodes.setup.status, 'ready');
    assert.equal(g.nodes['build-1'].status, 'blocked');
    t.diagnostic(`30-task graph laid out in ${g.layoutMs} ms`);
    await shot(page, 'graph.png');

    // Completing a task over REST recolours it and unblocks its dependents, with no new layout.
    await claimAndFinish(server.url, 'setup', 'agent-1');
    await page.waitForSelector(`${node('setup')}[data-status="done"]`);
    for (const id of ['build-1', 'build-6', 'docs-1', 'docs-4']) await page.waitForSelector(`${node(id)}[data-status="ready"]`);
    await page.waitForSelector(`${node('test-1')}[data-status="blocked"]`);
    await page.waitForSelector('[data-testid="graph-edge"][data-from="setup"].done');
    const lease = await claimAndFinish(server.url, 'build-1', 'agent-2', null);
    await page.waitForSelector(`${node('build-1')}[data-status="running"]`);
    await rest(server.url, 'POST', 'api/v1/tasks/build-1/complete', { lease_id: lease });
    await page.waitForSelector(`${node('test-1')}[data-status="ready"]`);
    const g2 = await drawnGraph(page);
    assert.equal(g2.draws, g.draws, 'status changes recolour nodes without laying the graph out again');
    assert.deepEqual(g2.nodes.setup.x, g.nodes.setup.x);
    await page.waitForFunction(() => (document.querySelector('[data-testid="progress-overall-done"]') || {}).textContent === '2 / 30');

    // A new task joins the graph (one new layout).
    const late = await rest(server.url, 'POST', 'api/v1/tasks', { id: 'hotfix', title: 'Hotfix', dependencies: ['build-1'] });
    assert.equal(late.status, 201);
    await page.waitForSelector('[data-testid="graph-svg"][data-nodes="31"][data-state="ready"]');
    await page.waitForSelector('[data-testid="graph-edge"][data-from="build-1"][data-to="hotfix"]');

    // Click a node: its detail opens; "Show in graph" narrows to its ancestors and descendants.
    await page.click(node('test-all'));
    await page.waitForSelector('[data-testid="task-detail"]:not([hidden])');
    await page.waitForFunction(() => (document.querySelector('[data-testid="detail-status"]') || {}).textContent === 'blocked');
    await page.click('[data-testid="detail-graph"]');
    await page.waitForSelector('[data-testid="task-detail"]', { state: 'hidden' });
    const focus = ['test-all', ...[1, 2, 3, 4, 5, 6].flatMap((i) => [`test-${i}`, `build-${i}`]), 'setup',
      'package', 'release', 'announce-1', 'announce-2', 'announce-3', 'cleanup'];
    await page.waitForSelector(`[data-testid="graph-svg"][data-nodes="${focus.length}"][data-state="ready"]`);
    assert.match(page.url(), /#graph&focus=test-all$/);
    const g3 = await drawnGraph(page);
    assert.deepEqual(Object.keys(g3.nodes).sort(), focus.sort());
    assert.ok(g3.edges.every((e) => e.split('>').every((id) => g3.nodes[id])));
    await page.waitForSelector(`${node('test-all')}.focus`);
    await shot(page, 'graph-focus.png');
    await page.click('[data-testid="graph-all"]');
    await page.waitForSelector('[data-testid="graph-svg"][data-nodes="31"][data-state="ready"]');

    // The board tab still works, and the per-tag progress is shown there.
    await page.click('[data-testid="tab-board"]');
    await page.waitForSelector('[data-testid="board-view"]:not([hidden])');
    await page.waitForFunction(() => /2 \/ 7/.test((document.querySelector('[data-testid="progress-tag"][data-tag="#build"]') || {}).textContent || ''));
    await shot(page, 'board-progress.png');
    assert.deepEqual(pageErrors, []);
  });
});

test('timeline: one bar per lease for three workers, an expired lease, hover, live updates', { skip: SKIP, timeout: 300_000 }, async (t) => {
  const server = await startServer({ env: { BATON_LEASES__TTL_SECS: '1', BATON_LEASES__SWEEP_INTERVAL_MS: '50' } });
  t.after(() => server.stop());
  const browser = await launch();
  t.after(() => browser.close());
  await withDiagnostics(t, server, async () => {
    const tasks = [];
    for (let i = 1; i <= 8; i++) tasks.push({ id: `job-${i}`, title: `Job ${i}`, tags: ['jobs'], max_attempts: 5 });
    assert.equal((await rest(server.url, 'POST', 'api/v1/tasks', { tasks })).status, 201);
    await claimAndFinish(server.url, 'job-1', 'worker-a');
    await claimAndFinish(server.url, 'job-2', 'worker-a');
    await claimAndFinish(server.url, 'job-3', 'worker-b', 'fail', { error: 'flaky network' });
    await claimAndFinish(server.url, 'job-4', 'worker-b', 'release');
    await claimAndFinish(server.url, 'job-5', 'worker-c', null); // never heartbeats: the 1 s lease expires
    let leases = [];
    await waitUntil('a lease expires', async () => {
      leases = await allLeases(server.url);
      return leases.some((l) => l.outcome === 'expired');
    }, T_UI);
    assert.ok(leases.some((l) => l.task_id === 'job-5' && l.outcome === 'expired'), JSON.stringify(leases));
    await claimAndFinish(server.url, 'job-3', 'worker-c');

    const page = await browser.newPage({ viewport: { width: 1440, height: 700 } });
    page.setDefaultTimeout(T_UI);
    const pageErrors = watchPage(page);
    // "All" spans just these few seconds, so even the short leases are bars apart from each other.
    await page.goto(`${server.url}/#timeline&zoom=all`, { waitUntil: 'domcontentloaded', timeout: T_START });
    await page.waitForSelector('[data-testid="timeline-view"]:not([hidden])');
    leases = await allLeases(server.url);
    assert.equal(leases.length, 6);
    await page.waitForSelector(`[data-testid="timeline-svg"][data-state="ready"][data-bars="${leases.length}"]`);

    // One row per worker, one bar per lease, coloured by outcome.
    const drawn = await page.evaluate(() => [...document.querySelectorAll('[data-testid="timeline-row"]')].map((r) => ({
      worker: r.dataset.worker,
      bars: [...r.querySelectorAll('[data-testid="timeline-bar"]')].map((b) => `${b.dataset.leaseId}:${b.dataset.taskId}:${b.dataset.outcome}`),
    })));
    const byWorker = {};
    for (const l of leases) (byWorker[l.worker] ||= []).push(`${l.lease_id}:${l.task_id}:${l.outcome}`);
    assert.deepEqual(drawn.map((r) => r.worker), ['worker-a', 'worker-b', 'worker-c']);
    for (const r of drawn) assert.deepEqual(r.bars, byWorker[r.worker], `row ${r.worker}`);
    assert.deepEqual(byWorker['worker-c'].map((b) => b.split(':')[2]), ['expired', 'done']);
    assert.deepEqual(byWorker['worker-b'].map((b) => b.split(':')[2]), ['failed', 'released']);

    // Hover shows the task and its times.
    const expired = leases.find((l) => l.outcome === 'expired');
    await page.hover(`[data-testid="timeline-bar"][data-lease-id="${expired.lease_id}"]`);
    await page.waitForSelector('[data-testid="timeline-tooltip"]:not([hidden])');
    const tip = await page.textContent('[data-testid="timeline-tooltip"]');
    assert.match(tip, /job-5/);
    assert.match(tip, /worker-c/);
    assert.match(tip, /claimed .+ended .+expired/s);
    await shot(page, 'timeline.png');

    // Live: a claim opens a running bar (kept alive by heartbeats: the TTL is 1 s), its completion closes it.
    const live = await claimAndFinish(server.url, 'job-6', 'worker-a', null);
    const beat = setInterval(() => { rest(server.url, 'POST', 'api/v1/tasks/job-6/heartbeat', { lease_id: live }).catch(() => {}); }, 250);
    try {
      await page.waitForSelector(`[data-testid="timeline-bar"][data-lease-id="${live}"][data-outcome="running"]`);
    } finally {
      clearInterval(beat);
    }
    const done = await rest(server.url, 'POST', 'api/v1/tasks/job-6/complete', { lease_id: live });
    assert.equal(done.status, 200, JSON.stringify(done.json));
    await page.waitForSelector(`[data-testid="timeline-bar"][data-lease-id="${live}"][data-outcome="done"]`);
    await page.waitForSelector('[data-testid="timeline-svg"][data-bars="7"]');

    // Zoom: the last hour, then the last day; the URL keeps the choice.
    assert.match(page.url(), /#timeline&zoom=all$/);
    await page.click('[data-testid="timeline-zoom-hour"]');
    await page.waitForSelector('[data-testid="timeline-zoom-hour"].active');
    await page.waitForSelector('[data-testid="timeline-svg"][data-state="ready"][data-bars="7"]');
    assert.match(page.url(), /#timeline$/);
    await page.click('[data-testid="timeline-zoom-day"]');
    await page.waitForSelector('[data-testid="timeline-svg"][data-state="ready"][data-bars="7"]');
    await page.click(`[data-testid="timeline-bar"][data-lease-id="${live}"]`);
    await page.waitForSelector('[data-testid="task-detail"]:not([hidden])');
    await page.waitForFunction(() => (document.querySelector('[data-testid="detail-title"]') || {}).textContent === 'job-6');
    assert.deepEqual(pageErrors, []);
  });
});

/** HSL hue (degrees) of an [r, g, b] colour; NaN for a grey. */
function hue([r, g, b]) {
  const max = Math.max(r, g, b);
  const d = max - Math.min(r, g, b);
  if (!d) return NaN;
  const h = max === r ? ((g - b) / d) % 6 : max === g ? (b - r) / d + 2 : (r - g) / d + 4;
  return (h * 60 + 360) % 360;
}
const hueDistance = (a, b) => { const d = Math.abs(a - b) % 360; return Math.min(d, 360 - d); };

test('graph: a running node pulses in the running colour, never in the failed colour', { skip: SKIP, timeout: 120_000 }, async (t) => {
  const server = await startServer();
  t.after(() => server.stop());
  const browser = await launch();
  t.after(() => browser.close());
  await withDiagnostics(t, server, async () => {
    const tasks = [{ id: 'work', title: 'Running' }, { id: 'broken', title: 'Failed', max_attempts: 1 }, { id: 'next', title: 'Waits', dependencies: ['work'] }];
    assert.equal((await rest(server.url, 'POST', 'api/v1/tasks', { tasks })).status, 201);
    await claimAndFinish(server.url, 'work', 'agent-1', null);
    await claimAndFinish(server.url, 'broken', 'agent-2', 'fail', { error: 'boom', retry: false });

    const page = await browser.newPage({ viewport: { width: 1000, height: 600 } });
    page.setDefaultTimeout(T_UI);
    const pageErrors = watchPage(page);
    await page.goto(`${server.url}/#graph`, { waitUntil: 'domcontentloaded', timeout: T_START });
    await page.waitForSelector('[data-testid="graph-svg"][data-state="ready"][data-nodes="3"]');
    await page.waitForSelector(`${node('work')}[data-status="running"]`);
    await page.waitForSelector(`${node('broken')}[data-status="failed"]`);

    // The running node's outline and bar through one whole pulse (its animations paused at each
    // 100 ms step), as sRGB read back from a canvas, next to the failed node's colour.
    const seen = await page.evaluate(({ run, fail }) => {
      const cv = document.createElement('canvas');
      cv.width = 1; cv.height = 1;
      const cx = cv.getContext('2d', { willReadFrequently: true });
      const rgb = (c) => { cx.clearRect(0, 0, 1, 1); cx.fillStyle = '#000'; cx.fillStyle = c; cx.fillRect(0, 0, 1, 1); return [...cx.getImageData(0, 0, 1, 1).data].slice(0, 3); };
      const box = document.querySelector(`${run} .gn-box`);
      const bar = document.querySelector(`${run} .gn-bar`);
      const anims = box.getAnimations();
      const samples = [];
      for (let at = 0; at <= 1600; at += 100) {
        for (const a of anims) { a.pause(); a.currentTime = at; }
        const cs = getComputedStyle(box);
        samples.push({ at, stroke: cs.stroke, rgb: rgb(cs.stroke), width: parseFloat(cs.strokeWidth), bar: rgb(getComputedStyle(bar).fill) });
      }
      for (const a of anims) a.currentTime = 800; // the peak, for the screenshot
      return { animations: anims.length, samples, failed: rgb(getComputedStyle(document.querySelector(`${fail} .gn-bar`)).fill) };
    }, { run: node('work'), fail: node('broken') });
    await shot(page, 'graph-running.png');
    t.diagnostic(`failed ${seen.failed}; running: ${seen.samples.map((x) => `${x.at}ms ${x.rgb}/${x.width}`).join(', ')}`);

    const failedHue = hue(seen.failed);
    assert.ok(hueDistance(failedHue, 4) < 15, `the failed colour is red: ${seen.failed}`);
    assert.ok(seen.animations >= 1, 'a running node still pulses');
    const widths = seen.samples.map((x) => x.width);
    assert.ok(Math.max(...widths) > Math.min(...widths) + 1, `the pulse is visible: widths ${widths}`);
    for (const x of [...seen.samples.map((y) => ({ what: `outline at ${y.at} ms (${y.stroke})`, rgb: y.rgb })), { what: 'bar', rgb: seen.samples[0].bar }]) {
      const d = hueDistance(hue(x.rgb), failedHue);
      assert.ok(d >= 25, `running ${x.what} = rgb(${x.rgb}) reads as failed rgb(${seen.failed}): hue ${d.toFixed(0)}° apart`);
    }
    assert.deepEqual(pageErrors, []);
  });
});

test('timeline: the default window fits a short run, from its first claim to its last end', { skip: SKIP, timeout: 120_000 }, async (t) => {
  const server = await startServer();
  t.after(() => server.stop());
  const browser = await launch();
  t.after(() => browser.close());
  await withDiagnostics(t, server, async () => {
    const tasks = [1, 2, 3, 4].map((i) => ({ id: `step-${i}`, title: `Step ${i}` }));
    assert.equal((await rest(server.url, 'POST', 'api/v1/tasks', { tasks })).status, 201);
    // A run of about three seconds: two leases, then two more once the clock has moved on
    // (waiting for an instant spaces the run out; nothing is asserted after it).
    const started = Date.now();
    await claimAndFinish(server.url, 'step-1', 'worker-a');
    await claimAndFinish(server.url, 'step-2', 'worker-b');
    while (Date.now() < started + 3000) await sleep(50);
    await claimAndFinish(server.url, 'step-3', 'worker-a');
    await claimAndFinish(server.url, 'step-4', 'worker-b', 'fail', { error: 'flaky', retry: false });
    const leases = await allLeases(server.url);
    assert.equal(leases.length, 4);
    const first = Math.min(...leases.map((l) => Date.parse(l.claimed_at)));
    const last = Math.max(...leases.map((l) => Date.parse(l.ended_at)));
    assert.ok(last - first >= 2500, `the run spans ${last - first} ms`);

    const page = await browser.newPage({ viewport: { width: 1280, height: 600 } });
    page.setDefaultTimeout(T_UI);
    const pageErrors = watchPage(page);
    await page.goto(`${server.url}/#timeline`, { waitUntil: 'domcontentloaded', timeout: T_START });
    await page.waitForSelector('[data-testid="timeline-zoom-hour"].active'); // the default window
    await page.waitForSelector('[data-testid="timeline-svg"][data-state="ready"][data-bars="4"]');
    await shot(page, 'timeline-default.png');

    // What the user sees: the bars span the chart, not a sliver at its right edge.
    const drawn = await page.evaluate(() => {
      const svg = document.querySelector('[data-testid="timeline-svg"]');
      const rects = [...svg.querySelectorAll('[data-testid="timeline-bar"] rect')];
      return {
        width: Number(svg.getAttribute('width')),
        left: Math.min(...rects.map((r) => Number(r.getAttribute('x')))),
        right: Math.max(...rects.map((r) => Number(r.getAttribute('x')) + Number(r.getAttribute('width')))),
        t0: Number(svg.dataset.t0),
        t1: Number(svg.dataset.t1),
      };
    });
    t.diagnostic(`run ${first}..${last} (${last - first} ms); axis ${drawn.t0}..${drawn.t1}; bars ${drawn.left}..${drawn.right} of ${drawn.width} px`);
    assert.ok(drawn.left / drawn.width < 0.25, `the first bar starts at the left of the chart: x ${drawn.left} of ${drawn.width}`);
    assert.ok(drawn.right / drawn.width > 0.9, `the last bar ends at the right of the chart: ${drawn.right} of ${drawn.width}`);
    // The axis covers the run (first claim to last end) and the run fills most of it.
    assert.ok(drawn.t0 <= first && drawn.t1 >= last, `axis ${drawn.t0}..${drawn.t1} covers the run ${first}..${last}`);
    assert.ok((last - first) / (drawn.t1 - drawn.t0) > 0.8, `the run fills the axis: ${last - first} of ${drawn.t1 - drawn.t0} ms`);
    assert.deepEqual(pageErrors, []);
  });
});

test('graph: a 5,000-task board opens on its frontier and the tab stays responsive', { skip: SKIP, timeout: 600_000 }, async (t) => {
  const server = await startServer();
  t.after(() => server.stop());
  await withDiagnostics(t, server, async () => {
    // 100 pipelines of 50 tasks: a root fans out to 47 steps that fan in to a join, then a report.
    const N = 5000;
    const id = (p, s) => `p${String(p).padStart(3, '0')}-${String(s).padStart(2, '0')}`;
    for (let b = 0; b < 5; b++) {
      const tasks = [];
      for (let p = b * 20; p < (b + 1) * 20; p++) {
        tasks.push({ id: id(p, 0), title: `Pipeline ${p} root`, tags: [`pipe-${p % 10}`] });
        for (let s = 1; s <= 47; s++) tasks.push({ id: id(p, s), title: `Pipeline ${p} step ${s}`, tags: [`pipe-${p % 10}`], dependencies: [id(p, 0)] });
        tasks.push({ id: id(p, 48), title: `Pipeline ${p} join`, dependencies: Array.from({ length: 47 }, (_, s) => id(p, s + 1)) });
        tasks.push({ id: id(p, 49), title: `Pipeline ${p} report`, dependencies: [id(p, 48)] });
      }
      const res = await rest(server.url, 'POST', 'api/v1/tasks', { tasks });
      assert.equal(res.status, 201, JSON.stringify(res.json).slice(0, 300));
    }
    for (let p = 0; p < 3; p++) await claimAndFinish(server.url, id(p, 0), `agent-${p}`);
    await claimAndFinish(server.url, id(0, 1), 'agent-0', null);

    const browser = await launch();
    t.after(() => browser.close());
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    page.setDefaultTimeout(T_UI);
    const pageErrors = watchPage(page);
    // When the slot and throughput panels first get content, and when the task list is complete.
    await page.addInitScript((n) => {
      window.__firstPaint = {};
      const note = (k) => { if (!window.__firstPaint[k]) window.__firstPaint[k] = performance.now(); };
      new MutationObserver(() => {
        if (document.querySelector('[data-testid="slot"]')) note('slots');
        if (document.querySelector('[data-testid="spark-throughput"] svg polyline')) note('throughput');
        const c = document.querySelector('[data-testid="count-total"]');
        if (c && c.textContent === String(n)) note('tasks');
      }).observe(document, { subtree: true, childList: true, characterData: true });
    }, N);
    const t0 = Date.now();
    await page.goto(`${server.url}/#graph`, { waitUntil: 'domcontentloaded', timeout: T_START });
    await page.waitForFunction((n) => document.querySelector('[data-testid="count-total"]').textContent === String(n), N, { timeout: T_BIG });
    await page.waitForSelector('[data-testid="graph-svg"][data-state="ready"]', { timeout: T_BIG });
    const opened = Date.now() - t0;
    const g = await drawnGraph(page);
    const shown = Object.keys(g.nodes).length;
    t.diagnostic(`5,000-task board: graph view ready ${opened} ms after navigation; ${shown} tasks laid out in ${g.layoutMs} ms (in the worker)`);
    console.log(`# graph layout: ${shown} nodes, ${g.edges.length} edges in ${g.layoutMs} ms; view ready after ${opened} ms`);
    assert.ok(shown > 0 && shown <= 500, `nodes drawn: ${shown}`);
    const msg = await page.textContent('[data-testid="graph-message"]');
    assert.match(msg, /5,000 tasks/);
    assert.match(msg, /graph_max_nodes = 500/);
    // The frontier: every ready and running task is shown (97 roots, 47 + 47 steps, 1 running step).
    const board = await page.evaluate(() => ({ ready: document.querySelector('[data-testid="count-ready"]').textContent, running: document.querySelector('[data-testid="count-running"]').textContent }));
    const frontier = Object.values(g.nodes).filter((x) => x.status === 'ready' || x.status === 'running').length;
    assert.equal(frontier, Number(board.ready) + Number(board.running));
    assert.equal(g.nodes[id(0, 1)].status, 'running');
    await shot(page, 'graph-5k.png');

    // Responsive: a scripted click on another tab is handled while the graph is open.
    const clickAt = Date.now();
    await page.click('[data-testid="tab-board"]');
    await page.waitForSelector('[data-testid="board-view"]:not([hidden])');
    t.diagnostic(`board tab shown ${Date.now() - clickAt} ms after the click`);
    const frameMs = await page.evaluate(() => new Promise((r) => { const a = performance.now(); requestAnimationFrame(() => r(performance.now() - a)); }));
    t.diagnostic(`next frame after switching: ${frameMs.toFixed(0)} ms`);

    // A task's neighbourhood: its ancestors and descendants only.
    await page.click('[data-testid="tab-graph"]');
    await page.fill('[data-testid="graph-focus-input"]', id(7, 48));
    await page.press('[data-testid="graph-focus-input"]', 'Enter');
    await page.waitForSelector('[data-testid="graph-svg"][data-state="ready"][data-nodes="50"]', { timeout: T_BIG });
    const g2 = await drawnGraph(page);
    assert.deepEqual(Object.keys(g2.nodes).sort(), Array.from({ length: 50 }, (_, s) => id(7, s)).sort());
    assert.equal(g2.edges.length, 47 * 2 + 1);
    await shot(page, 'graph-5k-focus.png');

    // Slots and throughput were drawn on first paint, before the 5,000 tasks had finished loading.
    const fp = await page.evaluate(() => window.__firstPaint);
    t.diagnostic(`first paint: ${JSON.stringify(fp)}`);
    assert.ok(fp.slots && fp.throughput && fp.tasks, JSON.stringify(fp));
    assert.ok(fp.slots <= fp.tasks && fp.throughput <= fp.tasks, `slot/throughput panels before the task list: ${JSON.stringify(fp)}`);
    assert.deepEqual(pageErrors, []);
  });
});

/**
 * A reverse proxy serving the server under /baton/ (prefix stripped, as nginx `location /baton/` does); records any other path.
 * Like nginx's default it rewrites Host to the upstream's, so the page's origin (the proxy's) must be listed in
 * `[server] allowed_origins`: the proxy listens first, and the server is started with its origin, then set as target.
 */
async function prefixProxy() {
  const stray = [];
  let up = null;
  const srv = http.createServer((req, res) => {
    if (!req.url.startsWith('/baton/') || !up) {
      stray.push(req.url);
      res.writeHead(404).end('outside the mount prefix');
      return;
    }
    const fwd = http.request({ host: up.hostname, port: up.port, method: req.method, path: req.url.slice('/baton'.length), headers: { ...req.headers, host: up.host } }, (r) => {
      res.writeHead(r.statusCode, r.headers);
      r.pipe(res);
    });
    fwd.on('error', () => { if (!res.headersSent) res.writeHead(502); res.end(); });
    req.pipe(fwd);
    res.on('close', () => fwd.destroy());
  });
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${srv.address().port}`;
  return {
    origin,
    url: `${origin}/baton/`,
    stray,
    target: (url) => { up = new URL(url); },
    close: () => new Promise((r) => { srv.closeAllConnections(); srv.close(r); }),
  };
}

test('views under a mount prefix: graph, timeline and live updates use only relative URLs', { skip: SKIP, timeout: 300_000 }, async (t) => {
  const proxy = await prefixProxy();
  t.after(() => proxy.close());
  const server = await startServer({ env: { BATON_SERVER__ALLOWED_ORIGINS: JSON.stringify([proxy.origin]) } });
  t.after(() => server.stop());
  proxy.target(server.url);
  const browser = await launch();
  t.after(() => browser.close());
  await withDiagnostics(t, server, async () => {
    const tasks = dag30().slice(0, 14);
    assert.equal((await rest(server.url, 'POST', 'api/v1/tasks', { tasks })).status, 201);
    await claimAndFinish(server.url, 'setup', 'agent-1');
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.setDefaultTimeout(T_UI);
    const pageErrors = watchPage(page);
    await page.goto(`${proxy.url}#graph`, { waitUntil: 'domcontentloaded', timeout: T_START });
    await page.waitForSelector('[data-testid="conn-status"][data-state="live"]');
    await page.waitForSelector('[data-testid="graph-svg"][data-state="ready"][data-nodes="14"]', { timeout: T_BIG });
    assert.match(await page.textContent('[data-testid="graph-status"]'), /in a worker/);
    await claimAndFinish(server.url, 'build-2', 'agent-2');
    await page.waitForSelector(`${node('test-2')}[data-status="ready"]`);
    await page.click('[data-testid="tab-timeline"]');
    await page.waitForSelector('[data-testid="timeline-svg"][data-state="ready"][data-bars="2"]');
    assert.deepEqual(proxy.stray, [], 'every request stayed under /baton/');
    assert.deepEqual(pageErrors, []);
  });
});
