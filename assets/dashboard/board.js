// The board: one lane per status, each a virtual list (only the rows in view exist, so 10,000
// tasks scroll smoothly), sorted by priority, slot or recency, narrowed by the filter box, and
// the per-status counts above it.
import { openDetail } from './detail.js';
import { S, scheduleRender, sinceOf } from './state.js';
import { $, STATUSES, fmtDur, fmtTime, h, ts } from './util.js';

const ROW_H = 60; // must match .task-row height in style.css
const OVERSCAN = 6;

function matches(t, f) {
  if (!f) return true;
  if (t.id.toLowerCase().includes(f)) return true;
  if (t.title && String(t.title).toLowerCase().includes(f)) return true;
  if (Array.isArray(t.tags) && t.tags.some((x) => String(x).toLowerCase().includes(f))) return true;
  return !!(t.lease && t.lease.worker && String(t.lease.worker).toLowerCase().includes(f));
}

/** Re-sorts (and re-filters) the lanes marked sortDirty. */
export function rebuildLanes() {
  const need = STATUSES.filter((st) => S.lanes[st].sortDirty);
  if (!need.length) return;
  const buckets = {};
  for (const st of need) buckets[st] = [];
  const f = S.filter;
  for (const t of S.tasks.values()) {
    const b = buckets[t.status];
    if (b && matches(t, f)) b.push(t);
  }
  for (const st of need) {
    const arr = buckets[st];
    const seq = S.seq;
    if (st === 'done' || st === 'failed' || st === 'cancelled') {
      arr.sort((a, b) => (b._u - a._u) || (seq.get(a.id) - seq.get(b.id)));
    } else if (st === 'running') {
      arr.sort((a, b) => ((a.lease ? a.lease.slot : 1e9) - (b.lease ? b.lease.slot : 1e9)) || (seq.get(a.id) - seq.get(b.id)));
    } else {
      arr.sort((a, b) => ((b.priority || 0) - (a.priority || 0)) || (seq.get(a.id) - seq.get(b.id)));
    }
    const L = S.lanes[st];
    L.ids = arr.map((t) => t.id);
    L.sortDirty = false;
    L.paintDirty = true;
  }
}

export function renderCounts() {
  for (const st of STATUSES) {
    const el = $(`[data-testid="count-${st}"]`);
    const v = String(S.counts[st] || 0);
    if (el.textContent !== v) el.textContent = v;
  }
  $('[data-testid="count-total"]').textContent = String(S.total);
}

/** Creates the lanes (S.lanes) and their click and keyboard handlers. */
export function buildBoard() {
  const board = $('[data-testid="board"]');
  for (const st of STATUSES) {
    const count = h('span', { class: 'lane-count', 'data-testid': `lane-count-${st}` }, '0');
    const spacer = h('div', { class: 'lane-spacer' });
    const empty = h('p', { class: 'lane-empty muted' }, 'No tasks');
    const scroll = h('div', { class: 'lane-scroll', 'data-testid': 'lane-scroll', tabindex: '-1' }, spacer, empty);
    const el = h('section', { class: `lane s-${st}${st === S.activeLane ? ' active' : ''}`, 'data-testid': `lane-${st}`, 'data-lane': st },
      h('h3', { class: 'lane-head' }, h('span', { class: 'dot' }), st, count), scroll);
    board.append(el);
    const L = { el, scroll, spacer, empty, count, ids: [], pool: [], sortDirty: true, paintDirty: true };
    S.lanes[st] = L;
    scroll.addEventListener('scroll', () => { L.paintDirty = true; scheduleRender(); }, { passive: true });
  }
  board.addEventListener('click', (e) => {
    const row = e.target.closest('[data-testid="task-row"]');
    if (row) openDetail(row.dataset.taskId);
  });
  board.addEventListener('keydown', (e) => {
    if (e.key !== 'Enter' && e.key !== ' ') return;
    const row = e.target.closest('[data-testid="task-row"]');
    if (row) { e.preventDefault(); openDetail(row.dataset.taskId); }
  });
}

function makeRow() {
  const r = {
    id: h('span', { class: 'tid' }), prio: h('span', { class: 'prio' }),
    title: h('div', { class: 'r2' }), meta: h('div', { class: 'r3' }),
  };
  r.el = h('div', { class: 'task-row', 'data-testid': 'task-row', role: 'button', tabindex: '0' },
    h('div', { class: 'r1' }, r.id, r.prio), r.title, r.meta);
  return r;
}

function rowMeta(t, now) {
  switch (t.status) {
    case 'running': {
      const l = t.lease;
      if (!l) return ['running', ''];
      const since = sinceOf(t);
      const exp = ts(l.expires_at);
      const parts = [l.worker, `slot ${l.slot}`];
      if (Number.isFinite(since)) parts.push(`for ${fmtDur(now - since)}`);
      parts.push(Number.isFinite(exp) ? (exp >= now ? `exp ${fmtDur(exp - now)}` : `EXPIRED ${fmtDur(now - exp)}`) : 'no expiry');
      return [parts.join(' · '), Number.isFinite(exp) && exp < now ? 'warn' : ''];
    }
    case 'blocked': {
      const deps = (t.dependencies || []).filter((d) => { const x = S.tasks.get(d); return !x || x.status !== 'done'; });
      return [deps.length ? `waits on ${deps.join(', ')}` : 'blocked', ''];
    }
    case 'failed':
      return [t.error ? String(t.error).split('\n')[0] : `failed after ${t.attempts} attempts`, 'err'];
    case 'ready': {
      const tags = (t.tags || []).join(', ');
      return [[tags && `#${tags}`, t.attempts ? `attempt ${t.attempts + 1}/${t.max_attempts}` : ''].filter(Boolean).join(' · '), ''];
    }
    default:
      return [`${t.status} ${fmtTime(t.updated_at)}`, t.status === 'cancelled' && t.error ? 'err' : ''];
  }
}

/** Paints the rows of lane `st` that are in view (reusing a pool of row elements). */
export function renderLane(st) {
  const L = S.lanes[st];
  const n = L.ids.length;
  const tot = S.counts[st] || 0;
  L.count.textContent = n === tot ? String(n) : `${n} / ${tot}`;
  L.spacer.style.height = `${n * ROW_H}px`;
  L.empty.hidden = n > 0;
  const viewH = L.scroll.clientHeight;
  const top = L.scroll.scrollTop;
  let start = Math.max(0, Math.floor(top / ROW_H) - OVERSCAN);
  const end = viewH > 0 ? Math.min(n, Math.ceil((top + viewH) / ROW_H) + OVERSCAN) : 0;
  if (end < start) start = end;
  const want = end - start;
  while (L.pool.length < want) { const r = makeRow(); L.pool.push(r); L.spacer.append(r.el); }
  while (L.pool.length > want) L.pool.pop().el.remove();
  const now = Date.now();
  for (let i = 0; i < want; i++) {
    const r = L.pool[i];
    const t = S.tasks.get(L.ids[start + i]);
    if (!t) continue;
    const y = (start + i) * ROW_H;
    if (r.y !== y) { r.el.style.transform = `translateY(${y}px)`; r.y = y; }
    if (r.task === t && t.status !== 'running' && t.status !== 'blocked') continue;
    r.task = t;
    r.el.dataset.taskId = t.id;
    r.el.dataset.status = t.status;
    r.el.classList.toggle('selected', S.selected === t.id);
    r.id.textContent = t.id;
    r.prio.textContent = t.priority ? `p${t.priority}` : '';
    r.title.textContent = t.title || '(untitled)';
    const [meta, cls] = rowMeta(t, now);
    r.meta.textContent = meta;
    r.meta.className = `r3 ${cls}`;
    r.el.title = `${t.id}: ${t.title || ''}`;
  }
}
