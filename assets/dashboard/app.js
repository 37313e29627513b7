// baton dashboard: live task board, dependency graph, lease timeline and progress. Vanilla ES2020;
// the graph is laid out by dagre (vendored, see graph-worker.js) in a Web Worker.
// Every URL is relative (no leading slash) so the page works under any mount prefix, and every
// data call goes through api() and the one event stream (connect), so auth applies to all views.
'use strict';
(() => {
  const STATUSES = ['blocked', 'ready', 'running', 'done', 'failed', 'cancelled'];
  const KINDS = ['task_added', 'task_ready', 'task_blocked', 'task_claimed', 'task_heartbeat',
    'task_completed', 'task_failed', 'task_retried', 'task_released', 'task_expired',
    'task_cancelled', 'task_reset', 'slot_claimed', 'slot_released', 'context_set', 'task_deleted'];
  const SLOT_KINDS = new Set(['task_claimed', 'task_completed', 'task_failed', 'task_retried',
    'task_released', 'task_expired', 'task_cancelled', 'slot_claimed', 'slot_released']);
  const ROW_H = 60; // must match .task-row height in style.css
  const OVERSCAN = 6;
  const PAGE = 1000;
  const STATS_EVERY = 2000;
  const SLOTS_EVERY = 10000;
  const SERVERS_EVERY = 30000;

  const $ = (sel, root = document) => root.querySelector(sel);

  // ---------- helpers ----------
  function h(tag, attrs, ...kids) {
    const el = document.createElement(tag);
    if (attrs) {
      for (const [k, v] of Object.entries(attrs)) {
        if (v == null || v === false) continue;
        if (k === 'class') el.className = v;
        else if (k === 'text') el.textContent = v;
        else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
        else el.setAttribute(k, v === true ? '' : String(v));
      }
    }
    for (const k of kids.flat(Infinity)) {
      if (k == null || k === false) continue;
      el.append(k instanceof Node ? k : String(k));
    }
    return el;
  }
  const ts = (s) => { if (!s) return NaN; const n = Date.parse(s); return Number.isNaN(n) ? NaN : n; };
  function fmtDur(ms) {
    if (!Number.isFinite(ms)) return '—';
    let s = Math.max(0, Math.round(ms / 1000));
    if (s < 60) return s + 's';
    const d = Math.floor(s / 86400); s -= d * 86400;
    const hh = Math.floor(s / 3600); s -= hh * 3600;
    const m = Math.floor(s / 60); s -= m * 60;
    if (d) return `${d}d ${hh}h`;
    if (hh) return `${hh}h ${m}m`;
    return `${m}m ${s}s`;
  }
  function fmtTime(s) {
    const n = ts(s);
    if (!Number.isFinite(n)) return s || '—';
    const d = new Date(n);
    const same = new Date().toDateString() === d.toDateString();
    return same ? d.toLocaleTimeString() : d.toLocaleString();
  }
  function untilText(expMs, now) {
    const left = expMs - now;
    return left >= 0 ? `expires in ${fmtDur(left)}` : `expired ${fmtDur(-left)} ago`;
  }
  function fmtJson(v) {
    let s;
    try { s = JSON.stringify(v, null, 2); } catch (e) { s = String(v); }
    if (s === undefined) s = 'null';
    return s.length > 20000 ? s.slice(0, 20000) + '\n… (truncated)' : s;
  }
  const splitList = (s) => String(s || '').split(',').map((x) => x.trim()).filter(Boolean);

  class ApiError extends Error {
    constructor(status, code, message, field) {
      super(message);
      this.status = status; this.code = code; this.field = field;
    }
  }

  // ---------- auth ----------
  // With auth on, the server answers 401 and the page asks for a token. It is
  // kept in sessionStorage (this tab's session only) and sent as a bearer
  // header; the event stream opens with a single-use ticket instead, so the
  // token never appears in a URL.
  const TOKEN_KEY = 'baton.token';
  let authToken = null;
  try { authToken = sessionStorage.getItem(TOKEN_KEY); } catch (e) { authToken = null; }
  let loginWaiters = [];

  function askForToken(message) {
    const dlg = $('[data-testid="login"]');
    $('[data-testid="login-message"]').textContent = message || 'This board needs an access token.';
    if (!dlg.open) {
      if (typeof dlg.showModal === 'function') dlg.showModal(); else dlg.setAttribute('open', '');
      setTimeout(() => $('[data-testid="login-token"]').focus(), 0);
    }
    return new Promise((resolve) => loginWaiters.push(resolve));
  }

  function setupLogin() {
    $('[data-testid="login-form"]').addEventListener('submit', (e) => {
      e.preventDefault();
      const v = $('[data-testid="login-token"]').value.trim();
      if (!v) return;
      authToken = v;
      try { sessionStorage.setItem(TOKEN_KEY, v); } catch (err) { /* private mode: keep it in memory */ }
      $('[data-testid="login-token"]').value = '';
      const dlg = $('[data-testid="login"]');
      if (typeof dlg.close === 'function' && dlg.open) dlg.close(); else dlg.removeAttribute('open');
      const waiters = loginWaiters;
      loginWaiters = [];
      for (const w of waiters) w();
      connect();
    });
  }

  async function api(path, opts = {}, retried = false) {
    const init = { method: opts.method || 'GET', headers: { Accept: 'application/json' }, cache: 'no-store' };
    if (authToken) init.headers.Authorization = `Bearer ${authToken}`;
    if (opts.body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(opts.body);
    }
    let res;
    try { res = await fetch(path, init); } catch (e) {
      throw new ApiError(0, 'network_error', `Network error: ${e && e.message ? e.message : e}`);
    }
    if (res.status === 401 && !retried) {
      const had = authToken;
      authToken = null;
      try { sessionStorage.removeItem(TOKEN_KEY); } catch (e) { /* nothing stored */ }
      await askForToken(had ? 'That token was not accepted (unknown or revoked). Enter another one.' : undefined);
      return api(path, opts, true);
    }
    if (res.status === 204) return null;
    const text = await res.text();
    let data = null;
    if (text) { try { data = JSON.parse(text); } catch (e) { data = undefined; } }
    if (!res.ok) {
      const err = data && data.error;
      if (err && typeof err === 'object') {
        throw new ApiError(res.status, err.code || 'error', err.message || `HTTP ${res.status}`, err.field);
      }
      const extra = text && data === undefined ? `: ${text.slice(0, 200)}` : '';
      throw new ApiError(res.status, `http_${res.status}`, `HTTP ${res.status} ${res.statusText}${extra}`);
    }
    if (data === undefined) throw new ApiError(res.status, 'bad_json', `Invalid JSON from ${path}`);
    return data;
  }

  // ---------- state ----------
  const S = {
    tasks: new Map(),      // id -> task
    seq: new Map(),        // id -> first-seen order (stable sort key)
    nextSeq: 0,
    counts: Object.fromEntries(STATUSES.map((s) => [s, 0])),
    total: 0,
    lanes: {},
    filter: '',
    activeLane: 'ready',
    selected: null,
    detail: null,          // {id, full, events, context, errors}
    slots: null,
    stats: null,
    runningSince: new Map(), // task id -> ms
    lastEventId: null,
    loading: false,
    buffer: null,
    resyncAgain: false,
    loadedOnce: false,
    es: null,
    esFresh: true,
    dirty: { counts: true, slots: true, stats: true, detail: false, progress: true },
    view: 'board',
  };

  // ---------- task store ----------
  function markLane(st, resort) {
    const L = S.lanes[st];
    if (!L) return;
    if (resort) L.sortDirty = true;
    L.paintDirty = true;
  }

  function upsert(t) {
    if (!t || typeof t.id !== 'string') return false;
    t._u = ts(t.updated_at);
    const prev = S.tasks.get(t.id);
    if (prev) {
      if (t._u < prev._u) return false; // stale copy (e.g. buffered event older than snapshot)
      graphNote(t, prev);
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
      graphNote(t, null);
    }
    S.tasks.set(t.id, t);
    S.dirty.counts = true;
    S.dirty.progress = true;
    if (S.selected === t.id) S.dirty.detail = true;
    return true;
  }

  function replaceAll(list) {
    S.tasks = new Map();
    S.counts = Object.fromEntries(STATUSES.map((s) => [s, 0]));
    S.total = 0;
    for (const t of list) upsert(t);
    for (const st of STATUSES) markLane(st, true);
    for (const id of [...S.runningSince.keys()]) {
      const t = S.tasks.get(id);
      if (!t || t.status !== 'running') S.runningSince.delete(id);
    }
    GR.structDirty = true;
    GR.recolorAll = true;
  }

  function matches(t, f) {
    if (!f) return true;
    if (t.id.toLowerCase().includes(f)) return true;
    if (t.title && String(t.title).toLowerCase().includes(f)) return true;
    if (Array.isArray(t.tags) && t.tags.some((x) => String(x).toLowerCase().includes(f))) return true;
    return !!(t.lease && t.lease.worker && String(t.lease.worker).toLowerCase().includes(f));
  }

  function rebuildLanes() {
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

  // ---------- rendering ----------
  let rafPending = false;
  function scheduleRender() {
    if (rafPending) return;
    rafPending = true;
    requestAnimationFrame(render);
  }

  function render() {
    rafPending = false;
    rebuildLanes();
    if (S.dirty.counts) { renderCounts(); S.dirty.counts = false; }
    for (const st of STATUSES) {
      const L = S.lanes[st];
      if (L.paintDirty) { renderLane(st); L.paintDirty = false; }
    }
    if (S.dirty.detail) { renderDetail(); S.dirty.detail = false; }
    if (S.dirty.slots) { renderSlots(); S.dirty.slots = false; }
    if (S.dirty.stats) { renderStats(); S.dirty.stats = false; }
    if (S.dirty.progress) renderProgressSoon();
    if (S.view === 'graph') graphRender();
    if (S.view === 'timeline' && TL.dirty) timelineRender();
  }

  function renderCounts() {
    for (const st of STATUSES) {
      const el = $(`[data-testid="count-${st}"]`);
      const v = String(S.counts[st] || 0);
      if (el.textContent !== v) el.textContent = v;
    }
    $('[data-testid="count-total"]').textContent = String(S.total);
  }

  function buildBoard() {
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

  // When the running task started: its claim event, its slot, or the lease's claimed_at if the server sends one.
  function sinceOf(t) {
    const s = S.runningSince.get(t.id);
    return Number.isFinite(s) ? s : ts(t.lease && t.lease.claimed_at);
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

  function renderLane(st) {
    const L = S.lanes[st];
    const n = L.ids.length;
    const tot = S.counts[st] || 0;
    L.count.textContent = n === tot ? String(n) : `${n} / ${tot}`;
    L.spacer.style.height = `${n * ROW_H}px`;
    L.empty.hidden = n > 0;
    const viewH = L.scroll.clientHeight;
    const top = L.scroll.scrollTop;
    let start = Math.max(0, Math.floor(top / ROW_H) - OVERSCAN);
    let end = viewH > 0 ? Math.min(n, Math.ceil((top + viewH) / ROW_H) + OVERSCAN) : 0;
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

  // ---------- live events ----------
  function setConn(state, text) {
    const el = $('[data-testid="conn-status"]');
    el.dataset.state = state;
    el.textContent = text || state;
  }

  let connTimer = null;
  let connBackoff = 1000;
  let connGen = 0;
  async function connect() {
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
    if (SLOT_KINDS.has(ev.kind)) scheduleSlots();
    if (S.selected && (ev.task_id === S.selected ||
        (ev.task && Array.isArray(ev.task.dependencies) && ev.task.dependencies.includes(S.selected)))) {
      S.dirty.detail = true;
      scheduleDetailFetch();
    }
    scheduleRender();
  }

  let snapEventId = null;
  async function resync() {
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
    if (TL.loaded || S.view === 'timeline') fetchLeases();
    if (S.selected) scheduleDetailFetch(0);
    if (S.resyncAgain) { S.resyncAgain = false; resync(); }
  }

  // ---------- slots ----------
  let slotsTimer = null;
  function scheduleSlots() {
    if (slotsTimer) return;
    slotsTimer = setTimeout(() => { slotsTimer = null; fetchSlots(); }, 300);
  }
  let slotsErrShown = false;
  async function fetchSlots() {
    try {
      const s = await api('api/v1/slots');
      S.slots = s;
      slotsErrShown = false;
      for (const sl of (s && s.slots) || []) {
        const since = ts(sl.since);
        if (sl.task_id && Number.isFinite(since) && !S.runningSince.has(sl.task_id)) S.runningSince.set(sl.task_id, since);
      }
      S.dirty.slots = true;
      markLane('running', false);
      scheduleRender();
    } catch (err) {
      if (!slotsErrShown) { slotsErrShown = true; showError(err, 'Loading slots failed'); }
    }
  }

  function relSpan(kind, iso) {
    const n = ts(iso);
    if (!Number.isFinite(n)) return h('span', { class: 'muted' }, '—');
    return h('span', { 'data-rel': kind, 'data-ts': n, title: new Date(n).toLocaleString() }, relText(kind, n, Date.now()));
  }
  function relText(kind, n, now) {
    return kind === 'until' ? untilText(n, now) : `${fmtDur(now - n)} ago`;
  }
  function tickRel(root) {
    const now = Date.now();
    for (const el of root.querySelectorAll('[data-rel]')) {
      const n = Number(el.dataset.ts);
      el.textContent = relText(el.dataset.rel, n, now);
      el.classList.toggle('warn', el.dataset.rel === 'until' && n < now);
    }
  }

  function renderSlots() {
    const box = $('[data-testid="slots"]');
    const s = S.slots;
    if (!s) return;
    $('[data-testid="slots-summary"]').textContent = `${s.busy ?? 0} busy / ${s.total ?? 0}`;
    const list = Array.isArray(s.slots) ? s.slots : [];
    const MAX = 300;
    const frag = document.createDocumentFragment();
    for (const sl of list.slice(0, MAX)) {
      const busy = !!(sl.worker || sl.task_id);
      frag.append(h('div', { class: `slot${busy ? ' busy' : ''}${sl.explicit ? ' explicit' : ''}`, 'data-testid': 'slot', 'data-slot': sl.slot },
        h('div', { class: 'slot-head' }, h('b', null, `#${sl.slot}`), busy ? h('span', null, sl.worker || '?') : h('span', { class: 'muted' }, 'free'),
          sl.explicit ? h('span', { class: 'tag' }, 'explicit') : null),
        sl.task_id ? h('button', { type: 'button', class: 'link', 'data-goto': sl.task_id }, sl.task_id) : null,
        sl.since ? h('div', { class: 'small' }, 'since ', relSpan('since', sl.since)) : null,
        sl.expires_at ? h('div', { class: 'small' }, relSpan('until', sl.expires_at)) : null));
    }
    if (list.length > MAX) frag.append(h('div', { class: 'muted small' }, `… ${list.length - MAX} more`));
    box.replaceChildren(frag);
    if (!list.length) box.append(h('p', { class: 'muted small' }, 'No slots.'));
    tickRel(box);
  }

  // ---------- stats ----------
  let statsErrShown = false;
  async function fetchStats() {
    try {
      S.stats = await api('api/v1/stats');
      statsErrShown = false;
      S.dirty.stats = true;
      scheduleRender();
    } catch (err) {
      if (!statsErrShown) { statsErrShown = true; showError(err, 'Loading stats failed'); }
    }
  }

  const SVGNS = 'http://www.w3.org/2000/svg';
  function sparkline(box, legend, series) {
    const W = 300, H = 64;
    let max = 0, len = 60; // fixed time window: short series grow from the right
    for (const s of series) {
      for (const v of s.values) if (Number.isFinite(v) && v > max) max = v;
      len = Math.max(len, s.values.length);
    }
    if (max <= 0) max = 1;
    const svg = document.createElementNS(SVGNS, 'svg');
    svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
    svg.setAttribute('preserveAspectRatio', 'none');
    svg.setAttribute('role', 'img');
    // zero line and a half-scale guide, so an idle chart reads as "nothing yet", not as missing
    for (const [y, cls] of [[H - 2, 'axis'], [H / 2, 'guide']]) {
      const ln = document.createElementNS(SVGNS, 'line');
      for (const [k, v] of [['x1', 0], ['x2', W], ['y1', y], ['y2', y], ['class', cls], ['vector-effect', 'non-scaling-stroke']]) ln.setAttribute(k, v);
      svg.append(ln);
    }
    for (const s of series) {
      const vals = s.values;
      if (!vals.length) continue;
      const step = len > 1 ? W / (len - 1) : W;
      const off = len - vals.length;
      const pts = vals.map((v, i) => `${((i + off) * step).toFixed(1)},${(H - 2 - ((Number(v) || 0) / max) * (H - 4)).toFixed(1)}`);
      if (pts.length === 1) pts.push(`${W},${pts[0].split(',')[1]}`);
      const pl = document.createElementNS(SVGNS, 'polyline');
      pl.setAttribute('points', pts.join(' '));
      pl.setAttribute('class', `line ${s.cls}`);
      pl.setAttribute('vector-effect', 'non-scaling-stroke');
      svg.append(pl);
    }
    svg.setAttribute('aria-label', series.map((s) => `${s.name}: ${s.values.length ? s.values[s.values.length - 1] : 0}`).join(', '));
    box.replaceChildren(svg);
    legend.replaceChildren(...series.map((s) => {
      const last = s.values.length ? s.values[s.values.length - 1] : 0;
      const peak = s.values.reduce((m, v) => (v > m ? v : m), 0);
      return h('span', { class: `lg ${s.cls}` }, h('i'), `${s.name} `, h('b', null, fmtNum(last)), h('span', { class: 'muted' }, ` max ${fmtNum(peak)}`));
    }));
  }
  const fmtNum = (v) => (Number.isFinite(Number(v)) ? (Math.round(Number(v) * 100) / 100).toString() : '—');

  function renderStats() {
    const st = S.stats;
    if (!st) return;
    const ser = st.series || {};
    const arr = (x) => (Array.isArray(x) ? x.map(Number) : []);
    sparkline($('[data-testid="spark-throughput"]'), $('[data-testid="legend-throughput"]'), [
      { name: 'claimed', cls: 'c1', values: arr(ser.claimed_per_sec) },
      { name: 'completed', cls: 'c2', values: arr(ser.completed_per_sec) },
      { name: 'added', cls: 'c3', values: arr(ser.added_per_sec) },
    ]);
    sparkline($('[data-testid="spark-latency"]'), $('[data-testid="legend-latency"]'), [
      { name: 'p50', cls: 'c2', values: arr(ser.request_p50_ms) },
      { name: 'p99', cls: 'c4', values: arr(ser.request_p99_ms) },
    ]);
    if (Number.isFinite(st.uptime_secs)) $('[data-testid="uptime"]').textContent = `up ${fmtDur(st.uptime_secs * 1000)}`;
  }

  // ---------- downstream servers ----------
  async function fetchServers() {
    const panel = $('[data-testid="servers-panel"]');
    const box = $('[data-testid="servers"]');
    let data;
    try {
      data = await api('api/v1/servers');
    } catch (err) {
      if (err.status === 404 || err.status === 405) { panel.hidden = true; return; }
      panel.hidden = false;
      box.replaceChildren(h('p', { class: 'err small' }, err.message));
      return;
    }
    panel.hidden = false;
    const list = Array.isArray(data) ? data : (data && Array.isArray(data.servers) ? data.servers : null);
    if (!list) { box.replaceChildren(h('pre', { class: 'json' }, fmtJson(data))); return; }
    if (!list.length) { box.replaceChildren(h('p', { class: 'muted small' }, 'No downstream servers.')); return; }
    box.replaceChildren(...list.map((s) => {
      if (!s || typeof s !== 'object') return h('div', { class: 'server', 'data-testid': 'server' }, String(s));
      const name = s.name || s.id || s.url || '(server)';
      let status = s.status ?? s.state ?? (s.healthy === true ? 'up' : s.healthy === false ? 'down' : '');
      if (typeof status === 'object') status = JSON.stringify(status);
      const rest = Object.entries(s).filter(([k, v]) => !['name', 'status', 'state', 'healthy'].includes(k) && k !== (s.name ? '' : 'id') && v !== null && typeof v !== 'object');
      return h('div', { class: 'server', 'data-testid': 'server' },
        h('div', { class: 'slot-head' }, h('b', null, String(name)), status !== '' ? h('span', { class: `tag st-${String(status).toLowerCase()}` }, String(status)) : null),
        rest.length ? h('div', { class: 'small muted' }, rest.map(([k, v]) => `${k}: ${v}`).join(' · ')) : null);
    }));
  }

  // ---------- messages ----------
  function showError(err, context) {
    const banner = $('[data-testid="error-banner"]');
    const msg = err && err.message ? err.message : String(err);
    const code = err && err.code ? ` [${err.code}${err.field ? `, field: ${err.field}` : ''}]` : '';
    $('[data-testid="error-text"]').textContent = `${context ? `${context}: ` : ''}${msg}${code}`;
    banner.dataset.code = (err && err.code) || '';
    banner.hidden = false;
  }
  function clearError() { $('[data-testid="error-banner"]').hidden = true; }
  let noticeTimer = null;
  function notice(text) {
    const el = $('[data-testid="notice"]');
    el.textContent = text;
    el.hidden = false;
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(() => { el.hidden = true; }, 4000);
  }

  // ---------- task detail ----------
  let detailTimer = null;
  let detailToken = 0;
  function scheduleDetailFetch(delay = 300) {
    clearTimeout(detailTimer);
    detailTimer = setTimeout(fetchDetail, delay);
  }

  function openDetail(id) {
    if (!id) return;
    S.selected = id;
    S.detail = { id, full: null, events: null, context: null, errors: {} };
    $('[data-testid="task-detail"]').hidden = false;
    $('[data-testid="detail-backdrop"]').hidden = false;
    syncHash();
    GR.recolorAll = true;
    for (const st of STATUSES) markLane(st, false);
    for (const L of Object.values(S.lanes)) for (const r of L.pool) r.task = null;
    S.dirty.detail = true;
    scheduleRender();
    scheduleDetailFetch(0);
  }

  function closeDetail() {
    S.selected = null;
    S.detail = null;
    $('[data-testid="task-detail"]').hidden = true;
    $('[data-testid="detail-backdrop"]').hidden = true;
    syncHash();
    GR.recolorAll = true;
    for (const L of Object.values(S.lanes)) { for (const r of L.pool) r.task = null; L.paintDirty = true; }
    scheduleRender();
  }

  async function fetchDetail() {
    const id = S.selected;
    if (!id) return;
    const token = ++detailToken;
    const p = `api/v1/tasks/${encodeURIComponent(id)}`;
    const [full, events, context] = await Promise.allSettled([api(p), api(`${p}/events`), api(`${p}/context`)]);
    if (token !== detailToken || S.selected !== id) return;
    const d = S.detail || (S.detail = { id, errors: {} });
    d.errors = {};
    if (full.status === 'fulfilled') { d.full = full.value; if (full.value) upsert(full.value); } else d.errors.full = full.reason;
    if (events.status === 'fulfilled') d.events = (events.value && events.value.events) || []; else d.errors.events = events.reason;
    if (context.status === 'fulfilled') d.context = (context.value && context.value.context) || {}; else d.errors.context = context.reason;
    S.dirty.detail = true;
    scheduleRender();
  }

  function section(title, testid, ...body) {
    return h('section', { class: 'dsec', 'data-testid': testid }, h('h3', null, title), ...body);
  }
  function idLinks(ids, testid) {
    if (!ids || !ids.length) return h('p', { class: 'muted small', 'data-testid': testid }, 'none');
    return h('ul', { class: 'links', 'data-testid': testid }, ids.map((d) => {
      const t = S.tasks.get(d);
      return h('li', null, h('button', { type: 'button', class: 'link', 'data-goto': d }, d),
        h('span', { class: `badge st-${t ? t.status : 'unknown'}` }, t ? t.status : '?'));
    }));
  }

  function renderDetail() {
    const d = S.detail;
    const body = $('[data-testid="detail-body"]');
    if (!d) { body.replaceChildren(); return; }
    const t = S.tasks.get(d.id) || d.full;
    $('[data-testid="detail-title"]').textContent = d.id;
    const scrollTop = body.scrollTop;
    const kids = [];
    if (d.errors.full) kids.push(h('p', { class: 'err' }, `Could not load task: ${d.errors.full.message}`));
    if (!t) {
      kids.push(h('p', { class: 'muted' }, d.errors.full ? '' : 'Loading…'));
      body.replaceChildren(...kids);
      return;
    }
    const now = Date.now();
    // actions
    const acts = h('div', { class: 'actions', 'data-testid': 'detail-actions' });
    if (t.status === 'blocked' || t.status === 'ready' || t.status === 'running') {
      const reason = h('input', { class: 'reason', placeholder: 'reason (optional)', 'data-testid': 'cancel-reason', 'aria-label': 'Cancel reason',
        oninput: (e) => { d.reason = e.target.value; } });
      reason.value = d.reason || '';
      acts.append(h('span', { class: 'act-group' }, reason, h('button', { type: 'button', class: 'btn danger', 'data-testid': 'action-cancel',
        onclick: (e) => act(e.currentTarget, `api/v1/tasks/${encodeURIComponent(t.id)}/cancel`, reason.value.trim() ? { reason: reason.value.trim() } : {}, `Cancelled ${t.id}`) }, 'Cancel task')));
    }
    if (t.status === 'failed') {
      acts.append(h('button', { type: 'button', class: 'btn', 'data-testid': 'action-reset',
        onclick: (e) => act(e.currentTarget, `api/v1/tasks/${encodeURIComponent(t.id)}/reset`, {}, `Reset ${t.id}`) }, 'Reset (retry)'));
    }
    if (t.status === 'running' && t.lease) {
      const leaseId = t.lease.lease_id;
      acts.append(h('button', { type: 'button', class: 'btn', 'data-testid': 'action-release', title: `Release lease ${leaseId} held by ${t.lease.worker}`,
        onclick: (e) => act(e.currentTarget, `api/v1/tasks/${encodeURIComponent(t.id)}/release`, { lease_id: leaseId }, `Released lease ${leaseId} of ${t.id}`) }, `Release lease #${leaseId}`));
    }
    acts.append(h('a', { class: 'btn', href: hashFor('graph', { focus: t.id }), 'data-testid': 'detail-graph',
      title: 'Show this task with its ancestors and descendants in the graph', onclick: () => closeDetail() }, 'Show in graph'));
    kids.push(h('div', { class: 'dhead' }, h('span', { class: `badge st-${t.status}`, 'data-testid': 'detail-status' }, t.status), h('b', { class: 'dtitle' }, t.title || '(untitled)')));
    if (acts.childNodes.length) kids.push(acts);
    const dl = h('dl', { class: 'kv' });
    const kv = (k, ...v) => dl.append(h('dt', null, k), h('dd', null, ...v));
    if (t.description) kv('description', h('span', { class: 'pre' }, t.description));
    kv('priority', String(t.priority ?? 0));
    kv('tags', (t.tags || []).length ? t.tags.map((x) => h('span', { class: 'tag' }, x)) : h('span', { class: 'muted' }, 'none'));
    kv('attempts', `${t.attempts ?? 0} / ${t.max_attempts ?? '?'}`);
    kv('timeout', t.timeout_secs == null ? 'none' : `${t.timeout_secs}s`);
    kv('created', fmtTime(t.created_at));
    kv('updated', fmtTime(t.updated_at));
    if (t.lease) {
      const since = sinceOf(t);
      kv('lease', h('span', { 'data-testid': 'detail-lease' }, `#${t.lease.lease_id} · worker ${t.lease.worker} · slot ${t.lease.slot} · `,
        relSpan('until', t.lease.expires_at), Number.isFinite(since) ? ` · running ${fmtDur(now - since)}` : ''));
    }
    kids.push(dl);
    kids.push(section('Depends on', 'detail-dependencies-section', idLinks(t.dependencies, 'detail-dependencies')));
    const deps = d.full && Array.isArray(d.full.dependents) ? d.full.dependents : null;
    kids.push(section('Dependents', 'detail-dependents-section', deps ? idLinks(deps, 'detail-dependents') : h('p', { class: 'muted small' }, 'loading…')));
    kids.push(section('Payload', 'detail-payload', h('pre', { class: 'json' }, fmtJson(t.payload ?? null))));
    if (t.output != null) kids.push(section('Output', 'detail-output', h('pre', { class: 'json' }, fmtJson(t.output))));
    if (t.error != null) kids.push(section('Error', 'detail-error', h('pre', { class: 'json err' }, String(t.error))));
    // context
    let ctx;
    if (d.errors.context) ctx = h('p', { class: 'err small' }, d.errors.context.message);
    else if (!d.context) ctx = h('p', { class: 'muted small' }, 'loading…');
    else if (!Object.keys(d.context).length) ctx = h('p', { class: 'muted small' }, 'empty');
    else ctx = h('dl', { class: 'kv' }, Object.entries(d.context).map(([k, v]) => [h('dt', null, k), h('dd', null, h('pre', { class: 'json' }, fmtJson(v)))]));
    kids.push(section('Context', 'detail-context', ctx));
    // audit log
    let log;
    if (d.errors.events) log = h('p', { class: 'err small' }, d.errors.events.message);
    else if (!d.events) log = h('p', { class: 'muted small' }, 'loading…');
    else {
      const evs = d.events.slice(-300).reverse();
      log = h('table', { class: 'audit' }, h('thead', null, h('tr', null, ['#', 'time', 'event', 'transition', 'who', 'reason'].map((x) => h('th', null, x)))),
        h('tbody', null, evs.map((e) => h('tr', null,
          h('td', null, String(e.id)), h('td', null, fmtTime(e.at)), h('td', null, String(e.kind).replace(/^task_/, '')),
          h('td', null, e.from || e.to ? `${e.from || '·'} → ${e.to || '·'}` : ''),
          h('td', null, [e.worker, e.slot != null ? `slot ${e.slot}` : null, e.lease_id != null ? `lease #${e.lease_id}` : null].filter(Boolean).join(' · ')),
          h('td', null, e.reason || '')))));
      if (d.events.length > 300) log = h('div', null, h('p', { class: 'muted small' }, `latest 300 of ${d.events.length}`), log);
    }
    kids.push(section('Audit log', 'detail-events', log));
    const hadFocus = document.activeElement && document.activeElement.dataset.testid === 'cancel-reason';
    body.replaceChildren(...kids);
    body.scrollTop = scrollTop;
    const r = hadFocus && body.querySelector('[data-testid="cancel-reason"]');
    if (r) r.focus();
  }

  async function act(btn, path, bodyObj, okText) {
    btn.disabled = true;
    try {
      const res = await api(path, { method: 'POST', body: bodyObj });
      if (res && Array.isArray(res.reset)) res.reset.forEach(upsert);
      else if (res && res.id) upsert(res);
      clearError();
      notice(okText);
      scheduleDetailFetch(100);
      scheduleSlots();
      scheduleRender();
    } catch (err) {
      showError(err);
    } finally {
      btn.disabled = false;
    }
  }

  // ---------- add task form ----------
  function setupForm() {
    const form = $('[data-testid="add-task-form"]');
    const ferr = $('[data-testid="form-error"]');
    const fail = (err, field) => {
      ferr.textContent = err.message;
      ferr.hidden = false;
      showError(err);
      const name = field || err.field;
      const input = name && form.elements.namedItem(String(name).replace(/\[.*$/, '').replace(/^.*\./, ''));
      if (input && input.focus) { input.setAttribute('aria-invalid', 'true'); input.focus(); }
    };
    form.addEventListener('input', (e) => { if (e.target.removeAttribute) e.target.removeAttribute('aria-invalid'); });
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      ferr.hidden = true;
      const val = (name) => form.elements.namedItem(name).value;
      const spec = { title: val('title').trim() };
      const id = val('id').trim();
      if (id) spec.id = id;
      if (val('description').trim()) spec.description = val('description');
      const intField = (name) => {
        const raw = val(name).trim();
        if (raw === '') return undefined;
        const n = Number(raw);
        if (!Number.isInteger(n)) throw Object.assign(new Error(`${name.replace('_', ' ')} must be an integer`), { code: 'invalid_input', field: name });
        return n;
      };
      try {
        const prio = intField('priority');
        if (prio !== undefined && prio !== 0) spec.priority = prio;
        const ma = intField('max_attempts');
        if (ma !== undefined) spec.max_attempts = ma;
        const to = intField('timeout_secs');
        if (to !== undefined) spec.timeout_secs = to;
        const tags = splitList(val('tags'));
        if (tags.length) spec.tags = tags;
        const deps = splitList(val('dependencies'));
        if (deps.length) spec.dependencies = deps;
        const payload = val('payload').trim();
        if (payload) {
          try { spec.payload = JSON.parse(payload); } catch (err) {
            throw Object.assign(new Error(`Payload is not valid JSON: ${err.message}`), { code: 'invalid_json', field: 'payload' });
          }
        }
      } catch (err) { fail(err); return; }
      const btn = $('[data-testid="add-task-submit"]');
      btn.disabled = true;
      try {
        const t = await api('api/v1/tasks', { method: 'POST', body: spec });
        if (t && t.id) upsert(t);
        clearError();
        notice(`Added ${t && t.id ? t.id : 'task'}`);
        form.reset();
        scheduleRender();
      } catch (err) {
        fail(err);
      } finally {
        btn.disabled = false;
      }
    });
  }

  // ---------- views ----------
  const VIEWS = ['board', 'graph', 'timeline'];
  const fmtInt = (n) => Number(n).toLocaleString('en-US');
  const SVG = 'http://www.w3.org/2000/svg';
  function s(tag, attrs, ...kids) {
    const el = document.createElementNS(SVG, tag);
    if (attrs) for (const [k, v] of Object.entries(attrs)) if (v != null && v !== false) el.setAttribute(k, String(v));
    for (const k of kids) if (k != null) el.append(k);
    return el;
  }
  const clip = (str, n) => { str = String(str ?? ''); return str.length > n ? `${str.slice(0, n - 1)}…` : str; };

  // ---------- graph view ----------
  // Nodes are the board's tasks (or a selection of them), edges run from a dependency to the task
  // waiting on it. A status change only recolours a node and its outgoing edges; the graph is laid
  // out again (debounced, in the worker) only when the set of nodes shown changes.
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
    layoutW: 0, layoutH: 0, vp: { k: 1, x: 0, y: 0 }, userMoved: false, drawn: 0,
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

  function graphRender() {
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

  function setFocus(id) {
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

  function setupGraph() {
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

  // ---------- timeline view ----------
  // One row per worker, one bar per lease from claim to end, from GET api/v1/leases (the audit
  // log), kept live from the event stream (task_claimed opens a bar, the ending event closes it).
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

  function timelineNote(ev) {
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
    // "all": from the first claim to now (at least 10 s), a little room on both sides
    let t0 = span ? now - span : leases.reduce((m, l) => (Number.isFinite(l._c) && l._c < m ? l._c : m), Infinity);
    if (!Number.isFinite(t0)) t0 = now - 60e3;
    if (!span) t0 = Math.min(t0, now - 10e3);
    const t1 = now + (now - t0) * 0.02;
    if (!span) t0 -= (t1 - t0) * 0.01;
    const plotW = cw - LABEL_W - PAD_R;
    const x = (t) => LABEL_W + ((Math.min(Math.max(t, t0), t1) - t0) / (t1 - t0)) * plotW;
    const height = AXIS_H + Math.max(1, workers.length) * ROW_H + 6;
    svg.setAttribute('viewBox', `0 0 ${cw} ${height}`);
    svg.setAttribute('width', String(cw));
    svg.setAttribute('height', String(height));
    const axis = s('g', { class: 'tl-axis' });
    const step = niceStep(t1 - t0);
    const nowX = x(now);
    for (let t = Math.ceil(t0 / step) * step; t <= t1; t += step) {
      const xx = x(t);
      axis.append(s('line', { class: 'tl-grid', x1: xx, x2: xx, y1: AXIS_H - 4, y2: height }));
      // no label under the "now" mark or cut off at the right edge
      if (Math.abs(xx - nowX) > 44 && xx < cw - 30) axis.append(s('text', { class: 'tl-tick', x: xx, y: AXIS_H - 9, 'text-anchor': 'middle' }, tickLabel(t, step)));
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
    const nowLine = s('g', { class: 'tl-now' }, s('line', { x1: nowX, x2: nowX, y1: AXIS_H - 4, y2: height }), s('text', { x: nowX, y: 10, 'text-anchor': 'end' }, 'now'));
    svg.replaceChildren(s('rect', { class: 'tl-gutter', x: 0, y: 0, width: LABEL_W - 6, height }), axis, rows, nowLine);
    svg.dataset.bars = String(leases.length);
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
  function setupTimeline() {
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

  // ---------- progress ----------
  // done / total for the board and per tag, failed and blocked beside it, and an ETA from the
  // completions of the last 10 minutes (done tasks' updated_at) for what is not finished yet.
  const ETA_WINDOW = 600e3;
  let progressTimer = null;
  let progressAt = 0;
  function renderProgressSoon() {
    if (progressTimer) return;
    const wait = Math.max(0, 500 - (Date.now() - progressAt));
    progressTimer = setTimeout(() => { progressTimer = null; progressAt = Date.now(); S.dirty.progress = false; renderProgress(); }, wait);
  }
  function newAgg() { return { total: 0, done: 0, failed: 0, blocked: 0, ready: 0, running: 0, cancelled: 0, recent: 0, first: Infinity }; }
  function addTo(a, t, now) {
    a.total++;
    a[t.status] = (a[t.status] || 0) + 1;
    if (t.status === 'done' && Number.isFinite(t._u) && t._u >= now - ETA_WINDOW && t._u <= now + 5e3) {
      a.recent++;
      if (t._u < a.first) a.first = t._u;
    }
  }
  function eta(a, now) {
    const left = a.blocked + a.ready + a.running;
    if (!a.total) return { text: '', rate: 0 };
    if (!left) return { text: a.done === a.total ? 'complete' : 'nothing left to run', rate: 0 };
    if (!a.recent) return { text: 'ETA —', rate: 0, title: 'no task completed in the last 10 minutes' };
    const span = Math.min(ETA_WINDOW, Math.max(10e3, now - a.first));
    const rate = a.recent / span; // per ms
    return { text: `ETA ~${fmtDur(left / rate)}`, rate, title: `${left} left at ${(rate * 60e3).toFixed(1)} completions/min (last 10 min)` };
  }
  function bar(a, testid) {
    const pct = (n) => (a.total ? (100 * n) / a.total : 0);
    const seg = (cls, n) => (n ? h('span', { class: `pb-seg ${cls}`, style: `width:${pct(n).toFixed(2)}%` }) : null);
    return h('span', { class: 'pbar', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': a.total, 'aria-valuenow': a.done, 'data-testid': testid },
      seg('s-done', a.done), seg('s-failed', a.failed), seg('s-cancelled', a.cancelled), seg('s-running', a.running));
  }
  function progressLine(name, a, now, testid) {
    const e = eta(a, now);
    const pct = a.total ? Math.floor((100 * a.done) / a.total) : 0;
    return h('div', { class: 'prow', 'data-testid': testid, 'data-tag': name },
      h('span', { class: 'pname', title: name }, name),
      bar(a, `${testid}-bar`),
      h('span', { class: 'pnums' }, h('b', { 'data-testid': `${testid}-done` }, `${fmtInt(a.done)} / ${fmtInt(a.total)}`), ` ${pct}%`),
      h('span', { class: 'pextra' },
        a.failed ? h('span', { class: 'pf', 'data-testid': `${testid}-failed` }, `${fmtInt(a.failed)} failed`) : null,
        a.blocked ? h('span', { class: 'pb', 'data-testid': `${testid}-blocked` }, `${fmtInt(a.blocked)} blocked`) : null,
        e.text ? h('span', { class: 'peta', title: e.title || '', 'data-testid': `${testid}-eta` }, e.text) : null));
  }
  function renderProgress() {
    const now = Date.now();
    const all = newAgg();
    const tags = new Map();
    for (const t of S.tasks.values()) {
      addTo(all, t, now);
      for (const tag of t.tags || []) {
        let a = tags.get(tag);
        if (!a) tags.set(tag, (a = newAgg()));
        addTo(a, t, now);
      }
    }
    const e = eta(all, now);
    const pct = all.total ? Math.floor((100 * all.done) / all.total) : 0;
    const top = $('[data-testid="progress-overall"]');
    top.replaceChildren(...(all.total ? [
      bar(all, 'progress-overall-bar'),
      h('span', { class: 'pnums' }, h('b', { 'data-testid': 'progress-overall-done' }, `${fmtInt(all.done)} / ${fmtInt(all.total)}`), ` done · ${pct}%`),
      all.failed ? h('span', { class: 'pf' }, `${fmtInt(all.failed)} failed`) : null,
      all.blocked ? h('span', { class: 'pb' }, `${fmtInt(all.blocked)} blocked`) : null,
      e.text ? h('span', { class: 'peta', title: e.title || '', 'data-testid': 'progress-overall-eta' }, e.text) : null,
    ].filter(Boolean) : []));
    const box = $('[data-testid="progress-tags"]');
    const list = [...tags.entries()].sort((a, b) => (b[1].total - a[1].total) || a[0].localeCompare(b[0]));
    const MAX = 40;
    const rows = [progressLine('all tasks', all, now, 'progress-all')];
    for (const [tag, a] of list.slice(0, MAX)) rows.push(progressLine(`#${tag}`, a, now, 'progress-tag'));
    if (list.length > MAX) rows.push(h('p', { class: 'muted small' }, `… ${list.length - MAX} more tags`));
    if (!all.total) rows.splice(0, rows.length, h('p', { class: 'muted small' }, 'No tasks yet.'));
    else if (!list.length) rows.push(h('p', { class: 'muted small' }, 'No tags: tag tasks to follow each part of the work.'));
    box.replaceChildren(...rows);
  }

  // ---------- wiring ----------
  function selectLane(st) {
    S.activeLane = st;
    for (const s of STATUSES) S.lanes[s].el.classList.toggle('active', s === st);
    for (const c of document.querySelectorAll('.summary .chip[data-lane]')) c.classList.toggle('active', c.dataset.lane === st);
    for (const s of STATUSES) markLane(s, false);
    const L = S.lanes[st];
    L.el.classList.remove('flash');
    void L.el.offsetWidth;
    L.el.classList.add('flash');
    if (window.matchMedia('(min-width: 761px)').matches) L.el.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
    scheduleRender();
  }

  function init() {
    buildBoard();
    setupForm();
    setupLogin();
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
    window.addEventListener('resize', () => { for (const st of STATUSES) markLane(st, false); TL.dirty = true; scheduleRender(); });
    window.addEventListener('hashchange', openFromHash);
    setupGraph();
    setupTimeline();
    document.addEventListener('visibilitychange', () => { if (!document.hidden) { fetchStats(); fetchSlots(); } });

    setInterval(() => {
      if (S.counts.running > 0) markLane('running', false);
      if (S.counts.blocked > 0) markLane('blocked', false);
      tickRel(document.querySelector('[data-testid="slots"]'));
      if (S.selected) tickRel(document.querySelector('[data-testid="detail-body"]'));
      S.dirty.progress = true; // the ETA moves with time
      // running bars grow; a large chart is redrawn for that only every 5 s
      if (S.view === 'timeline' && timelineHasRunning() && (TL.leases.size <= 2000 || Date.now() - TL.drawnAt > 5000)) TL.dirty = true;
      scheduleRender();
    }, 1000);
    setInterval(() => { if (!document.hidden) fetchStats(); }, STATS_EVERY);
    setInterval(() => { if (!document.hidden) fetchSlots(); }, SLOTS_EVERY);
    setInterval(() => { if (!document.hidden) fetchServers(); }, SERVERS_EVERY);

    // Slots and throughput do not wait for the task list (first paint, even on a large board).
    fetchSlots();
    fetchStats();
    connect();
    // If the event stream cannot open quickly, still show a snapshot.
    setTimeout(() => { if (!S.loadedOnce && !S.loading) resync(); }, 2000);
    openFromHash();
    scheduleRender();
  }

  // The URL fragment names the view and its state: #graph&focus=<id>, #timeline&zoom=day,
  // and &task=<id> for an open task detail (#task=<id> alone is the board).
  function parseHash() {
    const out = { view: 'board', params: {} };
    for (const part of location.hash.replace(/^#/, '').split('&')) {
      if (!part) continue;
      const i = part.indexOf('=');
      if (i < 0) { if (VIEWS.includes(part)) out.view = part; continue; }
      try { out.params[part.slice(0, i)] = decodeURIComponent(part.slice(i + 1)); } catch (e) { /* malformed: ignore */ }
    }
    return out;
  }
  function hashFor(view, params) {
    const parts = view === 'board' ? [] : [view];
    for (const k of ['focus', 'zoom', 'task']) if (params[k]) parts.push(`${k}=${encodeURIComponent(params[k])}`);
    return parts.length ? `#${parts.join('&')}` : '';
  }
  function syncHash() {
    const params = { task: S.selected };
    if (S.view === 'graph') params.focus = GR.focus;
    if (S.view === 'timeline' && TL.zoom !== 'hour') params.zoom = TL.zoom;
    const want = hashFor(S.view, params);
    if (location.hash !== want && !(want === '' && location.hash === '#board')) {
      history.replaceState(null, '', want || location.pathname + location.search);
    }
  }
  function openFromHash() {
    const { view, params } = parseHash();
    if (view === 'graph') setFocus(params.focus || null);
    if (view === 'timeline') setZoom(ZOOMS_MS[params.zoom] !== undefined ? params.zoom : 'hour');
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
    if (view === 'graph') { GR.structDirty = true; GR.recolorAll = true; }
    if (view === 'timeline') { TL.dirty = true; if (!TL.loaded && !TL.loading) fetchLeases(); }
    scheduleRender();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
