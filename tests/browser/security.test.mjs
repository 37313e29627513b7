// A web page of another origin tries to act on baton from the user's browser
// (headless Chromium): no-cors fetches (add an executor task, cancel, reset,
// claim, restart a downstream server) and a form post. Nothing may change on
// the board and no downstream tool may be called.
// Run: npm ci --prefix tests/browser && BATON_BIN=target/debug/baton node --test tests/browser/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ARTIFACTS, BATON_BIN, launch, rest as restAt, SKIP as NO_BATON, startServer, waitUntil } from './harness.mjs';

const FAULT_SERVER = path.join(path.dirname(BATON_BIN), 'examples', 'fault_server');
const SKIP = NO_BATON || (!existsSync(FAULT_SERVER) ? `no ${FAULT_SERVER}: cargo build --examples` : false);

/** REST v1 call from the test process; `body` is the parsed JSON answer. */
async function rest(base, method, p, body) {
  const { status, json } = await restAt(base, method, `api/v1/${p}`, body);
  return { status, body: json };
}

/** The attacker's page: every way a page can send a state-changing request without CORS. */
function attackPage(baton) {
  const exec = JSON.stringify({ id: 'xsite', title: 'x', executor: { server: 'f', tool: 'echo', arguments: { text: 'from a web page' } } });
  return `<!doctype html><html><body><h1>An innocent page</h1>
<iframe name="sink" style="width:10px;height:10px"></iframe>
<form id="f" method="POST" action="${baton}/api/v1/tasks" enctype="text/plain" target="sink">
  <input name='{"id":"xform","title":"x","pad":"' value='"}'>
</form>
<script>
const B = ${JSON.stringify(baton)};
const opts = (body) => ({ method: 'POST', mode: 'no-cors', headers: { 'Content-Type': 'text/plain' }, body });
window.results = [];
async function attack() {
  const shots = [
    fetch(B + '/api/v1/tasks', opts(${JSON.stringify(exec)})),
    fetch(B + '/api/v1/tasks/victim/cancel', { method: 'POST', mode: 'no-cors' }),
    fetch(B + '/api/v1/tasks/broken/reset', { method: 'POST', mode: 'no-cors' }),
    fetch(B + '/api/v1/tasks/claim-next', opts('{"worker":"page"}')),
    fetch(B + '/api/v1/tasks/victim/claim', opts('{"worker":"page"}')),
    fetch(B + '/api/v1/servers/f/restart', { method: 'POST', mode: 'no-cors' }),
    fetch(B + '/api/add-task', opts('{"id":"xcompat","title":"x"}')),
    // with a JSON content type the browser must preflight; baton grants no CORS, so it is never sent
    fetch(B + '/api/v1/tasks', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"id":"xcors","title":"x"}' }),
  ];
  for (const s of shots) {
    try { const r = await s; window.results.push(r.type + ':' + r.status); } catch (e) { window.results.push('blocked'); }
  }
  await new Promise((resolve) => {
    document.querySelector('iframe').addEventListener('load', resolve, { once: true });
    document.getElementById('f').submit();
  });
  window.done = true;
}
attack();
</script></body></html>`;
}

test('a page of another origin cannot change the board or run downstream tools', { skip: SKIP, timeout: 180_000 }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'baton-xsite-'));
  const servers = path.join(dir, 'servers.json');
  writeFileSync(servers, JSON.stringify({ mcpServers: { f: { command: FAULT_SERVER } } }));
  const config = path.join(dir, 'baton.toml');
  writeFileSync(config, '[pool.servers.f]\nexecutable_tools = ["echo"]\n');
  const baton = await startServer({ dataDir: path.join(dir, 'data'), args: ['--config', config, '--mcp-servers', servers] });
  const page = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(attackPage(baton.url));
  });
  await new Promise((r) => page.listen(0, '127.0.0.1', r));
  const pageUrl = `http://127.0.0.1:${page.address().port}/`;
  const browser = await launch();
  try {
    // the board before: a ready task, a failed one, the downstream server ready
    assert.equal((await rest(baton.url, 'POST', 'tasks', { id: 'victim', title: 'v' })).status, 201);
    assert.equal((await rest(baton.url, 'POST', 'tasks', { id: 'broken', title: 'b', max_attempts: 1 })).status, 201);
    const c = await rest(baton.url, 'POST', 'tasks/broken/claim', { worker: 'me' });
    assert.equal(c.status, 200);
    assert.equal((await rest(baton.url, 'POST', 'tasks/broken/fail', { lease_id: c.body.lease.lease_id, error: 'x', retry: false })).status, 200);
    await waitUntil('the downstream server is ready', async () =>
      (await rest(baton.url, 'GET', 'servers/f')).body?.state === 'ready', 30_000);
    const serverBefore = (await rest(baton.url, 'GET', 'servers/f')).body;
    assert.equal(serverBefore.state, 'ready', JSON.stringify(serverBefore));

    const ctx = await browser.newContext();
    const tab = await ctx.newPage();
    await tab.goto(pageUrl);
    await tab.waitForFunction(() => window.done === true, null, { timeout: 60_000 });
    const results = await tab.evaluate(() => window.results);
    mkdirSync(ARTIFACTS, { recursive: true });
    await tab.screenshot({ path: path.join(ARTIFACTS, 'cross-origin-attack.png') });

    // every request that reached baton was refused at the edge, by Origin
    const refused = (baton.logs().match(/forbidden_origin/g) || []).length;
    assert.ok(refused >= 8, `baton saw and refused the page's requests (${refused}); results ${results}\n${baton.logs().slice(-3000)}`);
    // nothing changed
    for (const id of ['xsite', 'xform', 'xcompat', 'xcors']) {
      assert.equal((await rest(baton.url, 'GET', `tasks/${id}`)).status, 404, `${id} was not added`);
    }
    assert.equal((await rest(baton.url, 'GET', 'tasks/victim')).body.status, 'ready');
    assert.equal((await rest(baton.url, 'GET', 'tasks/broken')).body.status, 'failed');
    const list = (await rest(baton.url, 'GET', 'tasks')).body.tasks;
    assert.deepEqual(list.map((t) => t.id).sort(), ['broken', 'victim']);
    // no downstream call, no restart
    const serverAfter = (await rest(baton.url, 'GET', 'servers/f')).body;
    assert.equal(serverAfter.calls, serverBefore.calls, JSON.stringify(serverAfter));
    assert.equal(serverAfter.restarts, serverBefore.restarts, JSON.stringify(serverAfter));
    assert.equal(serverAfter.state, 'ready');
  } finally {
    await browser.close();
    page.close();
    await baton.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
