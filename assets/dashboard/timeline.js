// The lease timeline: one row per worker, one bar per lease from claim to end, coloured by how it
// ended, from GET api/v1/leases (the audit log), kept live from the event stream (task_claimed
// opens a bar, the ending event closes it). The window (last hour, the default; last day; all)
// picks the leases drawn, and the time axis fits them (timelineDomain). Hover shows the lease, a
// click opens its task.
import { ApiError, api } from './api.js';
import { openDetail } from './detail.js';
import { setViewParams, syncHash } from './nav.js';
import { S, scheduleRender } from './state.js';
import { $, clip, fmtDur, fmtInt, fmtTime, h, s, showError, ts } from './util.js';

const ZOOMS_MS = { hour: 3600e3, day: 86400e3, all: null };
const END_OUTCOME = { task_completed: 'done', task_failed: 'failed', task_retried: 'failed', task_expired: 'expired', task_released: 'released', task_cancelled: 'cancelled' };
const TL_PAGE = 1000;
const TL_MAX_PAGES = 20; // 20,000 leases drawn at most (oldest first)
const TL = { zoom: 'hour', leases: new Map(), loaded: false, loading: false, token: 0, truncated: false, dirty: true, hover: null, drawnAt: 0 };

function normLease(l) {
  l._c = ts(l.claimed_at);
  l._e = ts(l.ended_at);
  return l;
}
function timelineHasRunning() {
  for (const l of TL.leases.values()) if (l.outcome === 'running') return true;
  return false;
}

/** The once-a-second tick: running bars grow; a large chart is redrawn for that only every 5 s. */
export function timelineTick() {
  if (S.view === 'timeline' && timelineHasRunning() && (TL.leases.size <= 2000 || Date.now() - TL.drawnAt > 5000)) TL.dirty = true;
}
/** Draws the chart if anything changed (called from the render loop while the view is shown). */
export function timelineFrame() { if (TL.dirty) timelineRender(); }
/** Redraw on the next frame (the window was resized). */
export function timelineDirty() { TL.dirty = true; }
/** The timeline view was switched to: draw it, loading the leases the first time. */
export function timelineShown() { TL.dirty = true; if (!TL.loaded && !TL.loading) fetchLeases(); }
/** After the board was re-fetched: re-read the leases if they were ever loaded or are on screen. */
export function timelineResync() { if (TL.loaded || S.view === 'timeline') fetchLeases(); }
/** The window named in the URL (`hour`, `day`, `all`; anything else is the default hour). */
export function setZoomFromHash(z) { setZoom(ZOOMS_MS[z] !== undefined ? z : 'hour'); }

function setZoom(z) {
  if (ZOOMS_MS[z] === undefined || z === TL.zoom) return;
  TL.zoom = z;
  TL.loaded = false;
  if (S.view === 'timeline') { syncHash(); fetchLeases(); }
}

async function fetchLeases() {
  const token = ++TL.token;
  TL.loading = true;
  TL.liveDuringLoad = new Map();
  $('[data-testid="timeline-summary"]').textContent = 'loading…';
  const span = ZOOMS_MS[TL.zoom];
  const since = span ? new Date(Date.now() - span).toISOString() : null;
  const got = new Map();
  let cursor = null;
  let pages = 0;
  try {
    do {
      let q = `api/v1/leases?limit=${TL_PAGE}`;
      if (since) q += `&since=${encodeURIComponent(since)}`;
      if (cursor) q += `&cursor=${encodeURIComponent(cursor)}`;
      const page = await api(q);
      if (token !== TL.token) return;
      if (!page || !Array.isArray(page.leases)) throw new ApiError(200, 'bad_response', 'api/v1/leases returned no "leases" array');
      for (const l of page.leases) got.set(l.lease_id, normLease(l));
      const next = page.next_cursor == null ? null : page.next_cursor;
      if (next !== null && next === cursor) break;
      cursor = next;
    } while (cursor && ++pages < TL_MAX_PAGES);
    TL.truncated = !!cursor;
    // changes seen on the stream while the pages were read win over the older snapshot
    for (const [id, l] of TL.liveDuringLoad) {
      const old = got.get(id);
      if (!old || old.outcome === 'running') got.set(id, l);
    }
    TL.leases = got;
    TL.loaded = true;
  } catch (err) {
    if (token === TL.token) showError(err, 'Loading the lease history failed');
  } finally {
    if (token === TL.token) { TL.loading = false; TL.liveDuringLoad = null; TL.dirty = true; scheduleRender(); }
  }
}

/** Opens or closes a bar from a live event (`task_claimed` or the event that ended a lease). */
export function timelineNote(ev) {
  if (ev.lease_id == null || (!TL.loaded && !TL.loading)) return;
  let l = null;
  if (ev.kind === 'task_claimed') {
    l = normLease({ task_id: ev.task_id, lease_id: ev.lease_id, worker: ev.worker || '?', slot: ev.slot, claimed_at: ev.at, ended_at: null, outcome: 'running', reason: null });
  } else if (END_OUTCOME[ev.kind] && ev.from === 'running') {
    const old = TL.leases.get(ev.lease_id) || (TL.liveDuringLoad && TL.liveDuringLoad.get(ev.lease_id));
    if (!old) return; // claimed before the window we hold
    l = normLease({ ...old, ended_at: ev.at, outcome: END_OUTCOME[ev.kind], reason: ev.reason || null });
  }
  if (!l) return;
  TL.leases.set(l.lease_id, l);
  if (TL.liveDuringLoad) TL.liveDuringLoad.set(l.lease_id, l);
  TL.dirty = true;
}

function niceStep(ms) {
  const steps = [1e3, 2e3, 5e3, 10e3, 15e3, 30e3, 60e3, 120e3, 300e3, 600e3, 900e3, 1800e3, 3600e3, 7200e3, 10800e3, 21600e3, 43200e3, 86400e3, 172800e3, 604800e3];
  for (const st of steps) if (ms / st <= 9) return st;
  return steps[steps.length - 1];
}
function tickLabel(t, step) {
  const d = new Date(t);
  const p = (n) => String(n).padStart(2, '0');
  if (step >= 86400e3) return `${d.getMonth() + 1}/${d.getDate()}`;
  if (step < 60e3) return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
  return `${p(d.getHours())}:${p(d.getMinutes())}`;
}

const MIN_SPAN_MS = 2e3;
/**
 * The time axis [t0, t1] in epoch ms, fitted to `leases` (the ones drawn): from the first claim
 * (never before the window's start, now - `span`) to the last end (now while a lease runs), at
 * least MIN_SPAN_MS wide, with 2% room on each side. So a short run fills the chart instead of
 * being a sliver at the edge of the window. With no lease: the whole window (the last minute
 * for "all").
 */
function timelineDomain(leases, now, span) {
  const from = span ? now - span : -Infinity;
  let lo = Infinity;
  let hi = -Infinity;
  for (const l of leases) {
    if (Number.isFinite(l._c)) lo = Math.min(lo, Math.max(l._c, from));
    hi = Math.max(hi, Number.isFinite(l._e) ? l._e : now);
  }
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) { lo = span ? now - span : now - 60e3; hi = now; }
  if (hi - lo < MIN_SPAN_MS) { const mid = (lo + hi) / 2; lo = mid - MIN_SPAN_MS / 2; hi = mid + MIN_SPAN_MS / 2; }
  const pad = (hi - lo) * 0.02;
  return [lo - pad, hi + pad];
}

function timelineRender() {
  TL.dirty = false;
  TL.drawnAt = Date.now();
  const svg = $('[data-testid="timeline-svg"]');
  const box = $('[data-testid="timeline-box"]');
  for (const b of document.querySelectorAll('[data-zoom]')) b.classList.toggle('active', b.dataset.zoom === TL.zoom);
  const now = Date.now();
  const span = ZOOMS_MS[TL.zoom];
  const leases = [...TL.leases.values()].filter((l) => !span || !Number.isFinite(l._e) || l._e >= now - span);
  const workers = [...new Set(leases.map((l) => l.worker))].sort((a, b) => a.localeCompare(b));
  const running = leases.filter((l) => l.outcome === 'running').length;
  const summary = $('[data-testid="timeline-summary"]');
  if (!TL.loading) {
    summary.textContent = `${fmtInt(leases.length)} lease${leases.length === 1 ? '' : 's'} · ${fmtInt(workers.length)} worker${workers.length === 1 ? '' : 's'}${running ? ` · ${running} running` : ''}${TL.truncated ? ` · only the oldest ${fmtInt(TL_PAGE * TL_MAX_PAGES)} loaded: pick a shorter window` : ''}`;
  }
  $('[data-testid="timeline-empty"]').hidden = leases.length > 0 || TL.loading;
  const LABEL_W = 150, ROW_H = 30, AXIS_H = 26, PAD_R = 18, BAR_H = 18;
  const cw = Math.max(420, box.clientWidth || 900);
  const [t0, t1] = timelineDomain(leases, now, span);
  const plotW = cw - LABEL_W - PAD_R;
  const x = (t) => LABEL_W + ((Math.min(Math.max(t, t0), t1) - t0) / (t1 - t0)) * plotW;
  const height = AXIS_H + Math.max(1, workers.length) * ROW_H + 6;
  svg.setAttribute('viewBox', `0 0 ${cw} ${height}`);
  svg.setAttribute('width', String(cw));
  svg.setAttribute('height', String(height));
  const axis = s('g', { class: 'tl-axis' });
  const step = niceStep(t1 - t0);
  // the "now" mark only where now is on the axis (it is not once every lease has ended)
  const nowX = now >= t0 && now <= t1 ? x(now) : null;
  for (let t = Math.ceil(t0 / step) * step; t <= t1; t += step) {
    const xx = x(t);
    axis.append(s('line', { class: 'tl-grid', x1: xx, x2: xx, y1: AXIS_H - 4, y2: height }));
    // no label under the "now" mark or cut off at the right edge
    if ((nowX === null || Math.abs(xx - nowX) > 44) && xx < cw - 30) axis.append(s('text', { class: 'tl-tick', x: xx, y: AXIS_H - 9, 'text-anchor': 'middle' }, tickLabel(t, step)));
  }
  const rows = s('g', { class: 'tl-rows' });
  const rowIndex = new Map(workers.map((w, i) => [w, i]));
  const byWorker = new Map(workers.map((w) => [w, []]));
  for (const l of leases) byWorker.get(l.worker).push(l);
  for (const w of workers) {
    const i = rowIndex.get(w);
    const y = AXIS_H + i * ROW_H;
    const list = byWorker.get(w).sort((a, b) => a.lease_id - b.lease_id);
    const g = s('g', { class: 'tl-row', 'data-testid': 'timeline-row', 'data-worker': w },
      s('rect', { class: `tl-band${i % 2 ? ' odd' : ''}`, x: 0, y, width: cw, height: ROW_H }),
      s('text', { class: 'tl-worker', x: 10, y: y + ROW_H / 2 + 4 }, clip(w, 18), s('title', null, `${w}: ${list.length} lease${list.length === 1 ? '' : 's'}`)));
    for (const l of list) {
      const end = Number.isFinite(l._e) ? l._e : now;
      const bx = x(l._c);
      const bw = Math.max(3, x(end) - bx);
      const bar = s('g', { class: `tl-bar o-${l.outcome}`, 'data-testid': 'timeline-bar', 'data-lease-id': l.lease_id, 'data-task-id': l.task_id, 'data-worker': w, 'data-outcome': l.outcome, tabindex: 0, role: 'button', 'aria-label': `${l.task_id}, lease ${l.lease_id}, ${l.outcome}` },
        s('rect', { x: bx.toFixed(1), y: y + (ROW_H - BAR_H) / 2, width: bw.toFixed(1), height: BAR_H, rx: 3 }));
      if (bw > 54) bar.append(s('text', { x: (bx + 5).toFixed(1), y: y + ROW_H / 2 + 4, class: 'tl-label' }, clip(l.task_id, Math.floor((bw - 8) / 6.6))));
      g.append(bar);
    }
    rows.append(g);
  }
  const nowLine = nowX === null ? null
    : s('g', { class: 'tl-now' }, s('line', { x1: nowX, x2: nowX, y1: AXIS_H - 4, y2: height }), s('text', { x: nowX, y: 10, 'text-anchor': 'end' }, 'now'));
  svg.replaceChildren(...[s('rect', { class: 'tl-gutter', x: 0, y: 0, width: LABEL_W - 6, height }), axis, rows, nowLine].filter(Boolean));
  svg.dataset.bars = String(leases.length);
  // the axis' ends (epoch ms), for tests and tools
  svg.dataset.t0 = String(Math.round(t0));
  svg.dataset.t1 = String(Math.round(t1));
  svg.dataset.state = TL.loading ? 'loading' : 'ready';
  if (TL.hover) {
    const el = svg.querySelector(`[data-testid="timeline-bar"][data-lease-id="${TL.hover.id}"]`);
    if (el) showTip(el, TL.hover.ev); else { TL.hover = null; $('[data-testid="timeline-tooltip"]').hidden = true; }
  }
}

function leaseTip(l) {
  const dur = (Number.isFinite(l._e) ? l._e : Date.now()) - l._c;
  const t = S.tasks.get(l.task_id);
  const lines = [
    h('b', null, l.task_id), t && t.title ? h('span', { class: 'muted' }, ` — ${clip(t.title, 60)}`) : null, h('br'),
    `${l.worker}${l.slot != null ? ` · slot ${l.slot}` : ''} · lease #${l.lease_id}`, h('br'),
    `claimed ${fmtTime(l.claimed_at)}`, h('br'),
    l.ended_at ? `ended ${fmtTime(l.ended_at)} · ${fmtDur(dur)}` : `running for ${fmtDur(dur)}`, h('br'),
    h('span', { class: `tl-out o-${l.outcome}` }, l.outcome), l.reason ? h('span', { class: 'muted' }, ` — ${clip(l.reason, 120)}`) : null,
  ];
  return lines;
}
function showTip(el, ev) {
  const tip = $('[data-testid="timeline-tooltip"]');
  const id = Number(el.dataset.leaseId);
  const l = TL.leases.get(id);
  if (!l) { tip.hidden = true; return; }
  tip.replaceChildren(...leaseTip(l).filter(Boolean));
  tip.dataset.leaseId = String(id);
  tip.hidden = false;
  // fixed to the window, so the tooltip is never cut off by the scrolling chart
  const r = el.getBoundingClientRect();
  const px = ev && Number.isFinite(ev.clientX) ? ev.clientX : r.left + r.width / 2;
  const left = Math.min(Math.max(4, px + 12), window.innerWidth - tip.offsetWidth - 8);
  const below = r.bottom + 6;
  const top = below + tip.offsetHeight > window.innerHeight - 4 ? Math.max(4, r.top - tip.offsetHeight - 6) : below;
  tip.style.left = `${left}px`;
  tip.style.top = `${top}px`;
}
/** Wires the zoom buttons, hover tooltips and bar clicks. */
export function setupTimeline() {
  setViewParams('timeline', () => (TL.zoom !== 'hour' ? { zoom: TL.zoom } : {}));
  for (const b of document.querySelectorAll('[data-zoom]')) b.addEventListener('click', () => setZoom(b.dataset.zoom));
  const svg = $('[data-testid="timeline-svg"]');
  const tip = $('[data-testid="timeline-tooltip"]');
  const bar = (e) => e.target.closest && e.target.closest('[data-testid="timeline-bar"]');
  const over = (e) => { const b = bar(e); if (b) { TL.hover = { id: b.dataset.leaseId, ev: { clientX: e.clientX } }; showTip(b, e); } };
  svg.addEventListener('mouseover', over);
  svg.addEventListener('mousemove', over);
  svg.addEventListener('mouseout', (e) => { if (bar(e) && !(e.relatedTarget && e.relatedTarget.closest && e.relatedTarget.closest('[data-testid="timeline-bar"]'))) { TL.hover = null; tip.hidden = true; } });
  svg.addEventListener('focusin', (e) => { const b = bar(e); if (b) showTip(b, null); });
  svg.addEventListener('focusout', () => { tip.hidden = true; });
  svg.addEventListener('click', (e) => { const b = bar(e); if (b) openDetail(b.dataset.taskId); });
  svg.addEventListener('keydown', (e) => { const b = bar(e); if (b && (e.key === 'Enter' || e.key === ' ')) { e.preventDefault(); openDetail(b.dataset.taskId); } });
}
