// The task detail drawer: the task's fields, its dependencies and dependents, declared paths and
// live reservations, why a ready task waits, payload, output, context and audit log
// (api/v1/tasks/{id}, …/events, …/context), and the actions its status allows (cancel, reset,
// release). Opened from any view; the open task is kept in the URL.
import { api } from './api.js';
import { hashFor, syncHash } from './nav.js';
import { reservationRow, reservationsOf, scheduleReservations } from './reservations.js';
import { scheduleSlots } from './slots.js';
import { S, markLane, scheduleRender, sinceOf, upsert } from './state.js';
import { $, STATUSES, clearError, fmtDur, fmtJson, fmtTime, h, notice, relSpan, showError } from './util.js';

let detailTimer = null;
let detailToken = 0;
export function scheduleDetailFetch(delay = 300) {
  clearTimeout(detailTimer);
  detailTimer = setTimeout(fetchDetail, delay);
}

export function openDetail(id) {
  if (!id) return;
  S.selected = id;
  S.detail = { id, full: null, events: null, context: null, errors: {} };
  $('[data-testid="task-detail"]').hidden = false;
  $('[data-testid="detail-backdrop"]').hidden = false;
  syncHash();
  for (const st of STATUSES) markLane(st, false);
  for (const L of Object.values(S.lanes)) for (const r of L.pool) r.task = null;
  S.dirty.detail = true;
  scheduleRender();
  scheduleDetailFetch(0);
}

export function closeDetail() {
  S.selected = null;
  S.detail = null;
  $('[data-testid="task-detail"]').hidden = true;
  $('[data-testid="detail-backdrop"]').hidden = true;
  syncHash();
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

export function renderDetail() {
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
  if ((t.paths || []).length) {
    kv('paths', h('span', { 'data-testid': 'detail-paths' }, t.paths.map((p) => h('code', null, p)), ` · ${t.paths_mode || 'exclusive'}`));
  }
  if (t.concurrency_key) kv('concurrency key', h('span', { 'data-testid': 'detail-concurrency-key' }, t.concurrency_key));
  kids.push(dl);
  const waits = d.full && t.status === 'ready' ? d.full.waits : null;
  if (waits) kids.push(h('p', { class: 'waits', 'data-testid': 'detail-waits' }, waits));
  const held = reservationsOf(t.id);
  if (held.length || (t.paths || []).length) {
    kids.push(section('Reservations', 'detail-reservations', held.length ? held.map(reservationRow) : h('p', { class: 'muted small' }, 'none live')));
  }
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
    scheduleReservations();
    scheduleRender();
  } catch (err) {
    showError(err);
  } finally {
    btn.disabled = false;
  }
}
