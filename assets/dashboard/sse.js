// The live event stream: one EventSource on api/v1/events (opened with a single-use ticket, since
// EventSource cannot send headers, and resumed with `after` the last event seen), reconnected with
// backoff. Every event updates the task store and the views that follow it; a gap in the event
// ids, a `resync` event or a fresh stream re-fetches the whole board (resync), buffering events
// that arrive meanwhile.
import { ApiError, api } from './api.js';
import { scheduleDetailFetch } from './detail.js';
import { scheduleReservations } from './reservations.js';
import { fetchServers } from './servers.js';
import { fetchSlots, scheduleSlots } from './slots.js';
import { S, replaceAll, scheduleRender, upsert } from './state.js';
import { fetchStats } from './stats.js';
import { timelineNote, timelineResync } from './timeline.js';
import { $, showError, ts } from './util.js';

const KINDS = ['task_added', 'task_ready', 'task_blocked', 'task_claimed', 'task_heartbeat',
  'task_completed', 'task_failed', 'task_retried', 'task_released', 'task_expired',
  'task_cancelled', 'task_reset', 'slot_claimed', 'slot_released', 'context_set', 'task_deleted'];
const SLOT_KINDS = new Set(['task_claimed', 'task_completed', 'task_failed', 'task_retried',
  'task_released', 'task_expired', 'task_cancelled', 'slot_claimed', 'slot_released']);
const PAGE = 1000;

function setConn(state, text) {
  const el = $('[data-testid="conn-status"]');
  el.dataset.state = state;
  el.textContent = text || state;
}

let connTimer = null;
let connBackoff = 1000;
let connGen = 0;
/** (Re)opens the event stream; resyncs the board once a stream without `after` is open. */
export async function connect() {
  const gen = ++connGen;
  clearTimeout(connTimer);
  if (S.es) { S.es.close(); S.es = null; }
  setConn('connecting', 'connecting…');
  // A single-use ticket authenticates the stream (EventSource cannot send
  // headers); resuming after the last event seen replaces Last-Event-ID,
  // which a new EventSource does not carry.
  let url = 'api/v1/events';
  try {
    const t = await api('api/v1/events/ticket', { method: 'POST' });
    if (gen !== connGen) return;
    const q = [`ticket=${encodeURIComponent(t.ticket)}`];
    if (S.lastEventId != null) q.push(`after=${S.lastEventId}`);
    url += `?${q.join('&')}`;
  } catch (err) {
    if (gen !== connGen) return;
    setConn('down', 'disconnected');
    connTimer = setTimeout(connect, connBackoff);
    connBackoff = Math.min(connBackoff * 2, 30000);
    return;
  }
  const es = new EventSource(url);
  S.es = es;
  S.esFresh = S.lastEventId == null;
  es.onopen = () => {
    connBackoff = 1000;
    setConn('live', 'live');
    if (S.esFresh || S.lastEventId == null) {
      // A stream opened without `after` carries nothing from before this
      // point: that must come from a full fetch.
      S.esFresh = false;
      S.lastEventId = null;
      resync();
    }
  };
  es.onerror = () => {
    // A ticket opens one stream only: reconnect with a fresh one (and `after`).
    es.close();
    if (S.es !== es) return;
    setConn('reconnecting', 'reconnecting…');
    connTimer = setTimeout(connect, connBackoff);
    connBackoff = Math.min(connBackoff * 2, 30000);
  };
  for (const k of KINDS) es.addEventListener(k, onEvent);
  es.addEventListener('message', onEvent);
  es.addEventListener('resync', (e) => { noteId(e); resync(); });
}

// Returns false if the message must be ignored (duplicate).
function noteId(e) {
  if (!e.lastEventId) return true;
  const id = Number(e.lastEventId);
  if (!Number.isFinite(id)) return true;
  const last = S.lastEventId;
  S.lastEventId = id;
  if (last == null) return true;
  if (id === last) return false;
  if (id < last || id > last + 1) resync(); // gap (or server reset): re-fetch everything
  return true;
}

function onEvent(e) {
  if (!noteId(e)) return;
  let ev;
  try { ev = JSON.parse(e.data); } catch (err) { return; }
  if (!ev || typeof ev !== 'object') return;
  if (!ev.kind) ev.kind = e.type;
  if (S.loading) { S.buffer.push(ev); return; }
  applyEvent(ev);
}

let deletedTimer = null;
function applyEvent(ev) {
  if (ev.kind === 'task_deleted') {
    // retention deletes in batches: reload once after a burst, not per task
    if (!deletedTimer) deletedTimer = setTimeout(() => { deletedTimer = null; resync(); }, 250);
    return;
  }
  if (ev.task) upsert(ev.task);
  timelineNote(ev);
  if (ev.kind === 'task_claimed' && ev.task_id) {
    const at = ts(ev.at);
    if (Number.isFinite(at)) S.runningSince.set(ev.task_id, at);
  }
  if (SLOT_KINDS.has(ev.kind)) { scheduleSlots(); scheduleReservations(); }
  if (S.selected && (ev.task_id === S.selected ||
      (ev.task && Array.isArray(ev.task.dependencies) && ev.task.dependencies.includes(S.selected)))) {
    S.dirty.detail = true;
    scheduleDetailFetch();
  }
  scheduleRender();
}

let snapEventId = null;
/** Re-fetches every task (paged), then replays the events that arrived meanwhile. */
export async function resync() {
  if (S.loading) { S.resyncAgain = true; return; }
  S.loading = true;
  S.buffer = [];
  $('[data-testid="loading"]').hidden = false;
  try {
    const all = [];
    let cursor = null;
    let pages = 0;
    snapEventId = null;
    do {
      const q = `api/v1/tasks?limit=${PAGE}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const page = await api(q);
      if (!page || !Array.isArray(page.tasks)) throw new ApiError(200, 'bad_response', 'api/v1/tasks returned no "tasks" array');
      for (const t of page.tasks) all.push(t);
      // Optional server extra: events up to this id are already in the snapshot.
      if (snapEventId === null && Number.isFinite(page.last_event_id)) snapEventId = page.last_event_id;
      const next = page.next_cursor == null ? null : page.next_cursor;
      if (next !== null && next === cursor) throw new ApiError(200, 'bad_cursor', 'api/v1/tasks returned the same cursor twice');
      cursor = next;
    } while (cursor && ++pages < 100000);
    replaceAll(all);
    S.loadedOnce = true;
  } catch (err) {
    snapEventId = null;
    showError(err, 'Loading tasks failed');
  } finally {
    const buf = S.buffer || [];
    S.buffer = null;
    S.loading = false;
    for (const ev of buf) if (!(snapEventId !== null && ev.id <= snapEventId)) applyEvent(ev);
    $('[data-testid="loading"]').hidden = true;
    S.dirty.counts = true;
    scheduleRender();
  }
  fetchSlots();
  fetchStats();
  fetchServers();
  timelineResync();
  if (S.selected) scheduleDetailFetch(0);
  if (S.resyncAgain) { S.resyncAgain = false; resync(); }
}
