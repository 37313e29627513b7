// The dependency graph: nodes are the board's tasks (or a selection of them), edges run from a
// dependency to the task waiting on it, laid out left to right by dagre (vendor/dagre.min.js) in
// a Web Worker (graph-worker.js; on the page when Workers fail). A status change only recolours a
// node and its outgoing edges; the graph is laid out again (debounced, in the worker) only when
// the set of nodes shown changes. Above graph_max_nodes it shows the ready/running frontier;
// a focus narrows it to one task's ancestors and descendants.
import { openDetail } from './detail.js';
import { setViewParams, syncHash } from './nav.js';
import { S, onTaskChange, onTasksReplaced } from './state.js';
import { $, clip, fmtInt, h, s, showError } from './util.js';

const GRAPH_MAX = (() => {
  const m = document.querySelector('meta[name="baton-graph-max-nodes"]');
  const n = m ? parseInt(m.content, 10) : NaN;
  return Number.isFinite(n) && n > 0 ? n : 500;
})();
const NODE = { w: 184, h: 46 };
const GR = {
  focus: null, mode: 'all', key: null, idSet: new Set(), structDirty: true, recolorAll: true,
  colorDirty: new Set(), nodeEls: new Map(), edgesFrom: new Map(), timer: null,
  worker: null, useMain: false, seq: 0, inflight: null, again: false,
  layoutW: 0, layoutH: 0, vp: { k: 1, x: 0, y: 0 }, userMoved: false, drawn: 0, selected: undefined,
};

function graphNote(t, prev) {
  if (!prev) { GR.structDirty = true; return; }
  if (prev.status !== t.status) {
    GR.colorDirty.add(t.id);
    if (GR.mode === 'frontier') GR.structDirty = true; // the frontier itself moved
  } else if (GR.nodeEls.has(t.id)) GR.colorDirty.add(t.id);
}

function dependentsIndex() {
  const m = new Map();
  for (const t of S.tasks.values()) {
    for (const d of t.dependencies || []) {
      let a = m.get(d);
      if (!a) m.set(d, (a = []));
      a.push(t.id);
    }
  }
  return m;
}

// Which tasks to draw: the focus task's ancestors and descendants (nearest first), else the whole
// board, else (above graph_max_nodes) the ready/running frontier and what waits on it.
function graphSelection() {
  const total = S.tasks.size;
  if (GR.focus && S.tasks.has(GR.focus)) {
    const dependents = dependentsIndex();
    const order = [GR.focus];
    const seen = new Set(order);
    let level = [[GR.focus, 0]];
    let up = 0, down = 0;
    while (level.length) {
      const next = [];
      for (const [id, dir] of level) {
        if (dir <= 0) {
          for (const d of (S.tasks.get(id) || {}).dependencies || []) {
            if (!seen.has(d) && S.tasks.has(d)) { seen.add(d); order.push(d); next.push([d, -1]); up++; }
          }
        }
        if (dir >= 0) {
          for (const d of dependents.get(id) || []) {
            if (!seen.has(d)) { seen.add(d); order.push(d); next.push([d, 1]); down++; }
          }
        }
      }
      level = next;
    }
    const ids = order.slice(0, GRAPH_MAX);
    const what = `${GR.focus}: ${fmtInt(up)} ancestor${up === 1 ? '' : 's'}, ${fmtInt(down)} descendant${down === 1 ? '' : 's'}`;
    const message = order.length > GRAPH_MAX
      ? `${what}: more than the graph lays out at once (graph_max_nodes = ${fmtInt(GRAPH_MAX)}); showing the ${fmtInt(GRAPH_MAX)} nearest.`
      : '';
    return { mode: 'focus', ids, message, caption: what };
  }
  if (GR.focus) return { mode: 'focus', ids: [], message: `No task "${GR.focus}" on this board.`, caption: '' };
  if (total <= GRAPH_MAX) return { mode: 'all', ids: [...S.tasks.keys()], message: '', caption: 'the whole board' };
  const running = [], ready = [];
  for (const t of S.tasks.values()) {
    if (t.status === 'running') running.push(t);
    else if (t.status === 'ready') ready.push(t);
  }
  const seq = S.seq;
  running.sort((a, b) => (seq.get(a.id) - seq.get(b.id)));
  ready.sort((a, b) => ((b.priority || 0) - (a.priority || 0)) || (seq.get(a.id) - seq.get(b.id)));
  const all = running.concat(ready);
  const front = all.slice(0, GRAPH_MAX);
  const ids = front.map((t) => t.id);
  const set = new Set(ids);
  if (ids.length < GRAPH_MAX) {
    const dependents = dependentsIndex();
    outer: for (const t of front) {
      for (const d of dependents.get(t.id) || []) {
        if (set.has(d)) continue;
        set.add(d); ids.push(d);
        if (ids.length >= GRAPH_MAX) break outer;
      }
    }
  }
  const frontText = all.length > front.length ? `the first ${fmtInt(front.length)} of ${fmtInt(all.length)} ready and running tasks` : `the ${fmtInt(front.length)} ready and running tasks`;
  const message = `This board has ${fmtInt(total)} tasks, more than the graph lays out at once (graph_max_nodes = ${fmtInt(GRAPH_MAX)}). `
    + `Showing ${frontText} and the tasks waiting on them. Enter a task id above (or use “Show in graph” in a task's detail) to see its ancestors and descendants.`;
  return { mode: 'frontier', ids, message, caption: 'the ready/running frontier' };
}

function scheduleGraph(delay = 200) {
  if (GR.timer) return;
  GR.timer = setTimeout(() => { GR.timer = null; refreshGraph(); }, delay);
}

function refreshGraph() {
  if (S.view !== 'graph' || !S.loadedOnce) return; // the first snapshot marks the graph dirty again
  GR.structDirty = false;
  const sel = graphSelection();
  GR.mode = sel.mode;
  GR.caption = sel.caption;
  const msg = $('[data-testid="graph-message"]');
  msg.textContent = sel.message;
  msg.hidden = !sel.message;
  $('[data-testid="graph-all"]').hidden = !GR.focus;
  const set = new Set(sel.ids);
  const key = sel.ids.slice().sort().join('\n');
  if (key === GR.key) { GR.recolorAll = true; graphRender(); return; }
  GR.key = key;
  GR.idSet = set;
  const edges = [];
  for (const id of sel.ids) {
    const t = S.tasks.get(id);
    for (const d of (t && t.dependencies) || []) if (set.has(d)) edges.push([d, id]);
  }
  requestLayout({ ids: sel.ids, edges });
}

function requestLayout(job) {
  if (GR.inflight) { GR.again = job; return; }
  if (!job.ids.length) { drawGraph({ ok: true, ids: [], edges: [], pos: {}, points: [], width: 0, height: 0, ms: 0 }); return; }
  const msg = { seq: ++GR.seq, ids: job.ids, edges: job.edges, node: NODE };
  GR.inflight = { seq: msg.seq, t0: performance.now(), n: job.ids.length };
  setGraphStatus(`laying out ${fmtInt(job.ids.length)} tasks…`);
  $('[data-testid="graph-svg"]').dataset.state = 'layout';
  if (!GR.useMain) {
    try {
      if (!GR.worker) {
        GR.worker = new Worker('graph-worker.js');
        GR.worker.onmessage = (e) => onLayout(e.data);
        GR.worker.onerror = (e) => { if (e && e.preventDefault) e.preventDefault(); workerFailed(msg); };
      }
      GR.worker.postMessage(msg);
      return;
    } catch (e) {
      GR.useMain = true;
    }
  }
  layoutOnMain(msg);
}

function workerFailed(msg) {
  if (GR.worker) GR.worker.terminate();
  GR.worker = null;
  GR.useMain = true;
  if (GR.inflight && GR.inflight.seq === msg.seq) layoutOnMain(msg);
}

let mainLoader = null;
function loadScript(src) {
  return new Promise((resolve, reject) => {
    const el = document.createElement('script');
    el.src = src;
    el.onload = resolve;
    el.onerror = () => reject(new Error(`could not load ${src}`));
    document.head.append(el);
  });
}
async function layoutOnMain(msg) {
  try {
    if (!mainLoader) mainLoader = loadScript('vendor/dagre.min.js').then(() => loadScript('graph-worker.js'));
    await mainLoader;
    onLayout(self.batonLayout(msg));
  } catch (e) {
    onLayout({ seq: msg.seq, ok: false, error: String(e && e.message ? e.message : e) });
  }
}

function onLayout(res) {
  if (!GR.inflight || !res || res.seq !== GR.inflight.seq) return;
  const took = performance.now() - GR.inflight.t0;
  GR.inflight = null;
  if (!res.ok) {
    showError(new Error(res.error || 'layout failed'), 'Graph layout failed');
    setGraphStatus('layout failed');
  } else {
    res.total = took;
    drawGraph(res);
  }
  if (GR.again) { const job = GR.again; GR.again = false; requestLayout(job); }
}

function setGraphStatus(text) { $('[data-testid="graph-status"]').textContent = text; }

function makeNode(id) {
  const title = s('title');
  const g = s('g', { class: 'gn', 'data-testid': 'graph-node', 'data-task-id': id, tabindex: 0, role: 'button' },
    s('rect', { class: 'gn-box', width: NODE.w, height: NODE.h, rx: 8 }),
    s('rect', { class: 'gn-bar', x: 0, y: 0, width: 6, height: NODE.h, rx: 3 }),
    s('text', { class: 'gn-id', x: 14, y: 19 }),
    s('text', { class: 'gn-title', x: 14, y: 36 }),
    title);
  return g;
}

function paintNode(el, t) {
  const st = t ? t.status : 'unknown';
  const cls = `gn st-${st}${S.selected === el.dataset.taskId ? ' selected' : ''}${GR.focus === el.dataset.taskId ? ' focus' : ''}`;
  if (el.getAttribute('class') !== cls) el.setAttribute('class', cls);
  if (el.dataset.status !== st) el.dataset.status = st;
  const kids = el.childNodes;
  const id = el.dataset.taskId;
  const idText = clip(id, 24);
  if (kids[2].textContent !== idText) kids[2].textContent = idText;
  let sub = t ? (t.title || '(untitled)') : '';
  if (t && t.status === 'running' && t.lease && t.lease.worker) sub = `▶ ${t.lease.worker} · ${sub}`;
  sub = clip(sub, 28);
  if (kids[3].textContent !== sub) kids[3].textContent = sub;
  const tip = t ? `${id} — ${t.title || ''}\nstatus: ${st}${t.lease ? ` (${t.lease.worker}, slot ${t.lease.slot})` : ''}${(t.tags || []).length ? `\ntags: ${t.tags.join(', ')}` : ''}` : id;
  if (kids[4].textContent !== tip) kids[4].textContent = tip;
  el.setAttribute('aria-label', `${id}: ${st}`);
}

// d3's curveBasis through dagre's edge points: smooth, and it stays between the ranks.
function basisPath(pts) {
  if (!pts.length) return '';
  const f = (v) => Math.round(v * 10) / 10;
  let d = `M${f(pts[0][0])},${f(pts[0][1])}`;
  if (pts.length === 2) return `${d}L${f(pts[1][0])},${f(pts[1][1])}`;
  let [x0, y0] = pts[0];
  let [x1, y1] = pts[0];
  const seg = (x, y) => { d += `C${f((2 * x0 + x1) / 3)},${f((2 * y0 + y1) / 3)} ${f((x0 + 2 * x1) / 3)},${f((y0 + 2 * y1) / 3)} ${f((x0 + 4 * x1 + x) / 6)},${f((y0 + 4 * y1 + y) / 6)}`; };
  for (let i = 1; i < pts.length; i++) {
    const [x, y] = pts[i];
    if (i === 2) d += `L${f((5 * x0 + x1) / 6)},${f((5 * y0 + y1) / 6)}`;
    if (i >= 2) seg(x, y);
    x0 = x1; y0 = y1; x1 = x; y1 = y;
  }
  seg(x1, y1);
  d += `L${f(x1)},${f(y1)}`;
  return d;
}

function paintEdge(el) {
  const from = S.tasks.get(el.dataset.from);
  const done = !!from && from.status === 'done';
  const cls = `ge${done ? ' done' : ''}${from && (from.status === 'failed' || from.status === 'cancelled') ? ' broken' : ''}`;
  if (el.getAttribute('class') !== cls) {
    el.setAttribute('class', cls);
    el.setAttribute('marker-end', done ? 'url(#gv-arrow-done)' : 'url(#gv-arrow)');
  }
}

function drawGraph(res) {
  const svg = $('[data-testid="graph-svg"]');
  const nodesLayer = svg.querySelector('.gv-nodes');
  const edgesLayer = svg.querySelector('.gv-edges');
  const keep = new Set(res.ids);
  for (const [id, el] of GR.nodeEls) if (!keep.has(id)) { el.remove(); GR.nodeEls.delete(id); }
  const frag = document.createDocumentFragment();
  for (const id of res.ids) {
    let el = GR.nodeEls.get(id);
    if (!el) { el = makeNode(id); GR.nodeEls.set(id, el); frag.append(el); }
    const p = res.pos[id] || [0, 0];
    el.setAttribute('transform', `translate(${p[0] - NODE.w / 2},${p[1] - NODE.h / 2})`);
    paintNode(el, S.tasks.get(id));
  }
  nodesLayer.append(frag);
  GR.edgesFrom = new Map();
  const paths = res.edges.map(([v, w], i) => {
    const el = s('path', { 'data-testid': 'graph-edge', 'data-from': v, 'data-to': w, d: basisPath(res.points[i] || []) });
    paintEdge(el);
    let a = GR.edgesFrom.get(v);
    if (!a) GR.edgesFrom.set(v, (a = []));
    a.push(el);
    return el;
  });
  edgesLayer.replaceChildren(...paths);
  GR.layoutW = res.width;
  GR.layoutH = res.height;
  GR.pos = res.pos;
  GR.colorDirty.clear();
  GR.recolorAll = false;
  GR.drawn++;
  svg.dataset.nodes = String(res.ids.length);
  svg.dataset.edges = String(res.edges.length);
  svg.dataset.layoutMs = String(Math.round(res.ms));
  svg.dataset.state = 'ready';
  svg.dataset.draws = String(GR.drawn);
  $('[data-testid="graph-empty"]').hidden = res.ids.length > 0;
  const where = GR.useMain ? 'on the page' : 'in a worker';
  setGraphStatus(res.ids.length
    ? `${fmtInt(res.ids.length)} tasks, ${fmtInt(res.edges.length)} dependencies — ${GR.caption || ''} · laid out in ${fmtInt(Math.round(res.ms))} ms ${where}. Drag to pan, wheel to zoom, click a task for its detail.`
    : '');
  // follow the graph as it changes until the user pans or zooms it
  if (!GR.userMoved) fitGraph(); else applyViewport();
}

/** Draws what changed since the last frame while the graph view is shown. */
export function graphRender() {
  // the open task is outlined: a new selection repaints every node
  if (GR.selected !== S.selected) { GR.selected = S.selected; GR.recolorAll = true; }
  // the frontier moves with every completion: lay it out again at most about once a second
  if (GR.structDirty) scheduleGraph(GR.mode === 'frontier' ? 1000 : 200);
  if (GR.recolorAll) {
    GR.recolorAll = false;
    GR.colorDirty.clear();
    for (const [id, el] of GR.nodeEls) paintNode(el, S.tasks.get(id));
    for (const list of GR.edgesFrom.values()) for (const el of list) paintEdge(el);
    return;
  }
  for (const id of GR.colorDirty) {
    const el = GR.nodeEls.get(id);
    if (el) paintNode(el, S.tasks.get(id));
    for (const e of GR.edgesFrom.get(id) || []) paintEdge(e);
  }
  GR.colorDirty.clear();
}

function applyViewport() {
  const { k, x, y } = GR.vp;
  $('[data-testid="graph-svg"] .gv-viewport').setAttribute('transform', `translate(${x.toFixed(1)},${y.toFixed(1)}) scale(${k.toFixed(4)})`);
}
function fitGraph() {
  const box = $('[data-testid="graph-box"]');
  const cw = box.clientWidth || 800, ch = box.clientHeight || 500;
  const w = GR.layoutW || 1, hgt = GR.layoutH || 1;
  let k = Math.min(cw / w, ch / hgt, 1.2);
  if (k >= 0.45) {
    GR.vp = { k, x: (cw - w * k) / 2, y: (ch - hgt * k) / 2 };
  } else {
    // too big to read when fitted: start readable, on the focus task if there is one, else at
    // the top left (the sources); pan from there
    k = 0.6;
    const p = GR.focus && GR.pos && GR.pos[GR.focus];
    GR.vp = p ? { k, x: cw / 2 - p[0] * k, y: ch / 2 - p[1] * k } : { k, x: 8, y: Math.max(8, (ch - hgt * k) / 2) };
  }
  applyViewport();
}
function zoomBy(f, cx, cy) {
  GR.userMoved = true;
  const box = $('[data-testid="graph-box"]');
  if (cx == null) { cx = box.clientWidth / 2; cy = box.clientHeight / 2; }
  const v = GR.vp;
  const k = Math.min(3, Math.max(0.08, v.k * f));
  GR.vp = { k, x: cx - (cx - v.x) * (k / v.k), y: cy - (cy - v.y) * (k / v.k) };
  applyViewport();
}

/** Narrows the graph to `id`'s ancestors and descendants (null: the whole board). */
export function setFocus(id) {
  id = id ? String(id).trim() : null;
  if ((id || null) === GR.focus) return;
  GR.focus = id || null;
  GR.userMoved = false;
  GR.structDirty = true;
  GR.recolorAll = true;
  const input = $('[data-testid="graph-focus-input"]');
  if (input && document.activeElement !== input) input.value = GR.focus || '';
  if (S.view === 'graph') { syncHash(); scheduleGraph(0); }
}

/** The graph view was switched to: lay out and repaint from the current board. */
export function graphShown() { GR.structDirty = true; GR.recolorAll = true; }

/** Wires panning, zooming, the focus box and node clicks, and follows the task store. */
export function setupGraph() {
  onTaskChange(graphNote);
  onTasksReplaced(() => { GR.structDirty = true; GR.recolorAll = true; });
  setViewParams('graph', () => ({ focus: GR.focus }));
  const svg = $('[data-testid="graph-svg"]');
  const box = $('[data-testid="graph-box"]');
  let drag = null;
  svg.addEventListener('pointerdown', (e) => {
    if (e.button !== 0) return;
    drag = { x: e.clientX, y: e.clientY, vx: GR.vp.x, vy: GR.vp.y, moved: false, id: e.pointerId };
  });
  svg.addEventListener('pointermove', (e) => {
    if (!drag || e.pointerId !== drag.id) return;
    const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
    if (!drag.moved && Math.abs(dx) + Math.abs(dy) < 5) return;
    if (!drag.moved) { drag.moved = true; svg.setPointerCapture(e.pointerId); svg.classList.add('panning'); }
    GR.vp = { k: GR.vp.k, x: drag.vx + dx, y: drag.vy + dy };
    GR.userMoved = true;
    applyViewport();
  });
  const end = () => { if (drag && drag.moved) { svg.classList.remove('panning'); svg.dataset.justPanned = '1'; setTimeout(() => { delete svg.dataset.justPanned; }, 0); } drag = null; };
  svg.addEventListener('pointerup', end);
  svg.addEventListener('pointercancel', end);
  svg.addEventListener('wheel', (e) => {
    e.preventDefault();
    const r = box.getBoundingClientRect();
    zoomBy(Math.exp(-e.deltaY * 0.0015), e.clientX - r.left, e.clientY - r.top);
  }, { passive: false });
  svg.addEventListener('click', (e) => {
    if (svg.dataset.justPanned) return;
    const n = e.target.closest('[data-testid="graph-node"]');
    if (n) openDetail(n.dataset.taskId);
  });
  svg.addEventListener('keydown', (e) => {
    if (e.key !== 'Enter' && e.key !== ' ') return;
    const n = e.target.closest('[data-testid="graph-node"]');
    if (n) { e.preventDefault(); openDetail(n.dataset.taskId); }
  });
  $('[data-testid="graph-fit"]').addEventListener('click', () => { GR.userMoved = false; fitGraph(); });
  $('[data-testid="graph-zoom-in"]').addEventListener('click', () => zoomBy(1.25));
  $('[data-testid="graph-zoom-out"]').addEventListener('click', () => zoomBy(0.8));
  $('[data-testid="graph-all"]').addEventListener('click', () => setFocus(null));
  const input = $('[data-testid="graph-focus-input"]');
  $('[data-testid="graph-focus-form"]').addEventListener('submit', (e) => { e.preventDefault(); setFocus(input.value); });
  // suggestions for the focus box: a bounded sample of ids matching what is typed
  input.addEventListener('input', () => {
    const q = input.value.trim().toLowerCase();
    const list = $('#graph-ids');
    const out = [];
    if (q) for (const id of S.tasks.keys()) { if (id.toLowerCase().includes(q)) { out.push(h('option', { value: id })); if (out.length >= 30) break; } }
    list.replaceChildren(...out);
  });
}
