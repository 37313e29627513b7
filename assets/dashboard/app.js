// baton dashboard: live task board. Vanilla ES2020, no dependencies.
// Every URL is relative (no leading slash) so the page works under any mount prefix.
'use strict';
(() => {
  const STATUSES = ['blocked', 'ready', 'running', 'done', 'failed', 'cancelled'];
  const KINDS = ['task_added', 'task_ready', 'task_blocked', 'task_claimed', 'task_heartbeat',
    'task_completed', 'task_failed', 'task_retried', 'task_released', 'task_expired',
    'task_cancelled', 'task_reset', 'slot_claimed', 'slot_released', 'context_set'];
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

  async function api(path, opts = {}) {
    const init = { method: opts.method || 'GET', headers: { Accept: 'application/json' }, cache: 'no-store' };
    if (opts.body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(opts.body);
    }
    let res;
    try { res = await fetch(path, init); } catch (e) {
      throw new ApiError(0, 'network_error', `Network error: ${e && e.message ? e.message : e}`);
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
    dirty: { counts: true, slots: true, stats: true, detail: false },
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
    }
    S.tasks.set(t.id, t);
    S.dirty.counts = true;
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
  function connect() {
    if (S.es) S.es.close();
    setConn('connecting', 'connecting…');
    const es = new EventSource('api/v1/events');
    S.es = es;
    S.esFresh = true;
    es.onopen = () => {
      connBackoff = 1000;
      setConn('live', 'live');
      if (S.esFresh || S.lastEventId == null) {
        // A brand-new EventSource (or one that never saw an id) carries no
        // Last-Event-ID: anything before this point must come from a full fetch.
        S.esFresh = false;
        S.lastEventId = null;
        resync();
      }
    };
    es.onerror = () => {
      if (es.readyState === EventSource.CLOSED) {
        setConn('down', 'disconnected');
        clearTimeout(connTimer);
        connTimer = setTimeout(connect, connBackoff);
        connBackoff = Math.min(connBackoff * 2, 30000);
      } else {
        // The browser reconnects by itself and resends Last-Event-ID.
        setConn('reconnecting', 'reconnecting…');
      }
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

  function applyEvent(ev) {
    if (ev.task) upsert(ev.task);
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
    if (location.hash !== `#task=${encodeURIComponent(id)}`) history.replaceState(null, '', `#task=${encodeURIComponent(id)}`);
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
    if (location.hash) history.replaceState(null, '', location.pathname + location.search);
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
    window.addEventListener('resize', () => { for (const st of STATUSES) markLane(st, false); scheduleRender(); });
    window.addEventListener('hashchange', openFromHash);
    document.addEventListener('visibilitychange', () => { if (!document.hidden) { fetchStats(); fetchSlots(); } });

    setInterval(() => {
      if (S.counts.running > 0) markLane('running', false);
      if (S.counts.blocked > 0) markLane('blocked', false);
      tickRel(document.querySelector('[data-testid="slots"]'));
      if (S.selected) tickRel(document.querySelector('[data-testid="detail-body"]'));
      scheduleRender();
    }, 1000);
    setInterval(() => { if (!document.hidden) fetchStats(); }, STATS_EVERY);
    setInterval(() => { if (!document.hidden) fetchSlots(); }, SLOTS_EVERY);
    setInterval(() => { if (!document.hidden) fetchServers(); }, SERVERS_EVERY);

    connect();
    // If the event stream cannot open quickly, still show a snapshot.
    setTimeout(() => { if (!S.loadedOnce && !S.loading) resync(); }, 2000);
    openFromHash();
    scheduleRender();
  }

  function openFromHash() {
    const m = /^#task=(.+)$/.exec(location.hash);
    if (m) { const id = decodeURIComponent(m[1]); if (id !== S.selected) openDetail(id); }
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
