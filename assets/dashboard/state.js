// The page's one copy of the board: every task by id with per-status counts, the lanes' dirty
// flags, the open task detail, and the render loop (one requestAnimationFrame per burst of
// changes; app.js installs what it draws). Views that keep their own picture of the tasks (the
// graph) hear of every change through onTaskChange / onTasksReplaced, so nothing here imports them.
import { STATUSES, ts } from './util.js';

export const S = {
  tasks: new Map(),      // id -> task
  seq: new Map(),        // id -> first-seen order (stable sort key)
  nextSeq: 0,
  counts: Object.fromEntries(STATUSES.map((st) => [st, 0])),
  total: 0,
  lanes: {},
  filter: '',
  activeLane: 'ready',
  selected: null,
  detail: null,          // {id, full, events, context, errors}
  slots: null,
  reservations: null,    // live path reservations (reservations.js)
  stats: null,
  runningSince: new Map(), // task id -> ms
  lastEventId: null,
  loading: false,
  buffer: null,
  resyncAgain: false,
  loadedOnce: false,
  es: null,
  esFresh: true,
  dirty: { counts: true, slots: true, reservations: true, stats: true, detail: false, progress: true },
  view: 'board',
};

// ---------- rendering ----------
let renderer = () => {};
let rafPending = false;
/** Installs the function that draws everything dirty (app.js). */
export function setRenderer(fn) { renderer = fn; }
export function scheduleRender() {
  if (rafPending) return;
  rafPending = true;
  requestAnimationFrame(() => { rafPending = false; renderer(); });
}

export function markLane(st, resort) {
  const L = S.lanes[st];
  if (!L) return;
  if (resort) L.sortDirty = true;
  L.paintDirty = true;
}

// ---------- task store ----------
const changeListeners = [];
const replaceListeners = [];
/** `fn(task, previous copy or null)` runs for every accepted upsert, before the new copy is stored. */
export function onTaskChange(fn) { changeListeners.push(fn); }
/** `fn()` runs after a full snapshot replaced every task. */
export function onTasksReplaced(fn) { replaceListeners.push(fn); }

/** Stores a task copy unless it is older than the one held; false when ignored. */
export function upsert(t) {
  if (!t || typeof t.id !== 'string') return false;
  t._u = ts(t.updated_at);
  const prev = S.tasks.get(t.id);
  if (prev) {
    if (t._u < prev._u) return false; // stale copy (e.g. buffered event older than snapshot)
    for (const fn of changeListeners) fn(t, prev);
    if (prev.status !== t.status) {
      S.counts[prev.status] = (S.counts[prev.status] || 0) - 1;
      S.counts[t.status] = (S.counts[t.status] || 0) + 1;
      markLane(prev.status, true);
      markLane(t.status, true);
      if (t.status !== 'running') S.runningSince.delete(t.id);
    } else {
      markLane(t.status, prev.priority !== t.priority || t.status === 'done' || t.status === 'failed' || t.status === 'cancelled');
    }
  } else {
    S.counts[t.status] = (S.counts[t.status] || 0) + 1;
    S.total++;
    // FIFO key: the server's creation sequence if it sends one, else first-seen order.
    if (!S.seq.has(t.id)) S.seq.set(t.id, Number.isFinite(t.seq) ? t.seq : 1e15 + S.nextSeq++);
    markLane(t.status, true);
    for (const fn of changeListeners) fn(t, null);
  }
  S.tasks.set(t.id, t);
  S.dirty.counts = true;
  S.dirty.progress = true;
  if (S.selected === t.id) S.dirty.detail = true;
  return true;
}

/** Replaces every task with a full snapshot (`list` from api/v1/tasks). */
export function replaceAll(list) {
  S.tasks = new Map();
  S.counts = Object.fromEntries(STATUSES.map((st) => [st, 0]));
  S.total = 0;
  for (const t of list) upsert(t);
  for (const st of STATUSES) markLane(st, true);
  for (const id of [...S.runningSince.keys()]) {
    const t = S.tasks.get(id);
    if (!t || t.status !== 'running') S.runningSince.delete(id);
  }
  for (const fn of replaceListeners) fn();
}

/** When the running task started: its claim event, its slot, or the lease's claimed_at if the server sends one. */
export function sinceOf(t) {
  const since = S.runningSince.get(t.id);
  return Number.isFinite(since) ? since : ts(t.lease && t.lease.claimed_at);
}
