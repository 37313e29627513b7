// baton dashboard: live task board, dependency graph, lease timeline and progress. Vanilla ES
// modules, no build step; the graph is laid out by dagre (vendored, see graph-worker.js) in a Web
// Worker. Every URL is relative (no leading slash) so the page works under any mount prefix, and
// every data call goes through api() and the one event stream (sse.js), so auth applies to all
// views.
//
// This is the entry module: it draws each frame, switches views from the URL fragment and wires
// the page. The parts, each importing only those below it:
//   app.js                      entry: render loop, views, wiring
//   sse.js                      the live event stream and full re-fetches
//   board.js graph.js timeline.js form.js progress.js
//                               the views and panels
//   detail.js                   the task detail drawer (opened from every view)
//   slots.js stats.js servers.js reservations.js
//                               side panels fed by the REST API
//   nav.js                      the URL fragment
//   state.js                    the task store and the render scheduler
//   api.js                      fetch with auth
//   util.js                     DOM, SVG and formatting helpers
import { setupLogin } from './api.js';
import { buildBoard, rebuildLanes, renderCounts, renderLane } from './board.js';
import { closeDetail, openDetail, renderDetail } from './detail.js';
import { setupForm } from './form.js';
import { graphRender, graphShown, setFocus, setupGraph } from './graph.js';
import { VIEWS, parseHash } from './nav.js';
import { renderProgressSoon } from './progress.js';
import { fetchReservations, renderReservations } from './reservations.js';
import { fetchServers } from './servers.js';
import { fetchSlots, renderSlots } from './slots.js';
import { connect, resync } from './sse.js';
import { S, markLane, scheduleRender, setRenderer } from './state.js';
import { fetchStats, renderStats } from './stats.js';
import { setZoomFromHash, setupTimeline, timelineDirty, timelineFrame, timelineShown, timelineTick } from './timeline.js';
import { $, STATUSES, clearError, tickRel } from './util.js';

const STATS_EVERY = 2000;
const SLOTS_EVERY = 10000;
const RESERVATIONS_EVERY = 5000;
const SERVERS_EVERY = 30000;

/** Draws whatever is dirty, once per animation frame (state.scheduleRender). */
function render() {
  rebuildLanes();
  if (S.dirty.counts) { renderCounts(); S.dirty.counts = false; }
  for (const st of STATUSES) {
    const L = S.lanes[st];
    if (L.paintDirty) { renderLane(st); L.paintDirty = false; }
  }
  if (S.dirty.detail) { renderDetail(); S.dirty.detail = false; }
  if (S.dirty.slots) { renderSlots(); S.dirty.slots = false; }
  if (S.dirty.reservations) { renderReservations(); S.dirty.reservations = false; }
  if (S.dirty.stats) { renderStats(); S.dirty.stats = false; }
  if (S.dirty.progress) renderProgressSoon();
  if (S.view === 'graph') graphRender();
  if (S.view === 'timeline') timelineFrame();
}

function selectLane(st) {
  S.activeLane = st;
  for (const x of STATUSES) S.lanes[x].el.classList.toggle('active', x === st);
  for (const c of document.querySelectorAll('.summary .chip[data-lane]')) c.classList.toggle('active', c.dataset.lane === st);
  for (const x of STATUSES) markLane(x, false);
  const L = S.lanes[st];
  L.el.classList.remove('flash');
  void L.el.offsetWidth;
  L.el.classList.add('flash');
  if (window.matchMedia('(min-width: 761px)').matches) L.el.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
  scheduleRender();
}

function init() {
  setRenderer(render);
  buildBoard();
  setupForm();
  setupLogin(connect);
  for (const c of document.querySelectorAll('.summary .chip[data-lane]')) {
    c.classList.toggle('active', c.dataset.lane === S.activeLane);
    c.addEventListener('click', () => selectLane(c.dataset.lane));
  }
  let filterTimer = null;
  $('[data-testid="filter-input"]').addEventListener('input', (e) => {
    clearTimeout(filterTimer);
    filterTimer = setTimeout(() => {
      S.filter = e.target.value.trim().toLowerCase();
      for (const st of STATUSES) { markLane(st, true); S.lanes[st].scroll.scrollTop = 0; }
      scheduleRender();
    }, 120);
  });
  $('[data-testid="refresh"]').addEventListener('click', () => resync());
  $('[data-testid="error-dismiss"]').addEventListener('click', clearError);
  $('[data-testid="detail-close"]').addEventListener('click', closeDetail);
  $('[data-testid="detail-backdrop"]').addEventListener('click', closeDetail);
  document.addEventListener('keydown', (e) => { if (e.key === 'Escape' && S.selected) closeDetail(); });
  document.addEventListener('click', (e) => {
    const a = e.target.closest('[data-goto]');
    if (a) { e.preventDefault(); openDetail(a.dataset.goto); }
  });
  window.addEventListener('resize', () => { for (const st of STATUSES) markLane(st, false); timelineDirty(); scheduleRender(); });
  window.addEventListener('hashchange', openFromHash);
  setupGraph();
  setupTimeline();
  document.addEventListener('visibilitychange', () => { if (!document.hidden) { fetchStats(); fetchSlots(); fetchReservations(); } });

  setInterval(() => {
    if (S.counts.running > 0) markLane('running', false);
    if (S.counts.blocked > 0) markLane('blocked', false);
    tickRel(document.querySelector('[data-testid="slots"]'));
    tickRel(document.querySelector('[data-testid="reservations"]'));
    if (S.selected) tickRel(document.querySelector('[data-testid="detail-body"]'));
    S.dirty.progress = true; // the ETA moves with time
    timelineTick();
    scheduleRender();
  }, 1000);
  setInterval(() => { if (!document.hidden) fetchStats(); }, STATS_EVERY);
  setInterval(() => { if (!document.hidden) fetchSlots(); }, SLOTS_EVERY);
  setInterval(() => { if (!document.hidden) fetchReservations(); }, RESERVATIONS_EVERY);
  setInterval(() => { if (!document.hidden) fetchServers(); }, SERVERS_EVERY);

  // Slots and throughput do not wait for the task list (first paint, even on a large board).
  fetchSlots();
  fetchReservations();
  fetchStats();
  connect();
  // If the event stream cannot open quickly, still show a snapshot.
  setTimeout(() => { if (!S.loadedOnce && !S.loading) resync(); }, 2000);
  openFromHash();
  scheduleRender();
}

function openFromHash() {
  const { view, params } = parseHash();
  if (view === 'graph') setFocus(params.focus || null);
  if (view === 'timeline') setZoomFromHash(params.zoom);
  showView(view);
  if (params.task) { if (params.task !== S.selected) openDetail(params.task); } else if (S.selected) closeDetail();
}

function showView(view) {
  if (!VIEWS.includes(view)) view = 'board';
  const was = S.view;
  S.view = view;
  for (const el of document.querySelectorAll('[data-view]')) el.hidden = el.dataset.view !== view;
  for (const tab of document.querySelectorAll('[data-view-tab]')) {
    const on = tab.dataset.viewTab === view;
    tab.setAttribute('aria-selected', on ? 'true' : 'false');
    tab.classList.toggle('active', on);
  }
  document.body.dataset.activeView = view;
  if (view === 'board' && was !== 'board') for (const st of STATUSES) markLane(st, false);
  if (view === 'graph') graphShown();
  if (view === 'timeline') timelineShown();
  scheduleRender();
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
else init();
