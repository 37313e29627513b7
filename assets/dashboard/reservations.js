// The reservations panel: every live path reservation — its patterns, holder (worker, and task
// for a lease-bound one), mode and expiry — from api/v1/reservations, fetched every few seconds
// and shortly after a claim or a lease end. The task detail reads the same list for the task's
// own reservations (reservationsOf).
import { api } from './api.js';
import { S, scheduleRender } from './state.js';
import { $, h, relSpan, showError, tickRel } from './util.js';

let timer = null;
/** Fetches the reservations once, 300 ms from now, however many callers ask meanwhile. */
export function scheduleReservations() {
  if (timer) return;
  timer = setTimeout(() => { timer = null; fetchReservations(); }, 300);
}

let errShown = false;
export async function fetchReservations() {
  try {
    const res = await api('api/v1/reservations');
    S.reservations = (res && res.reservations) || [];
    errShown = false;
    S.dirty.reservations = true;
    if (S.selected) S.dirty.detail = true;
    scheduleRender();
  } catch (err) {
    if (!errShown) { errShown = true; showError(err, 'Loading reservations failed'); }
  }
}

/** The live reservations of task `id`'s lease (from the last fetch). */
export function reservationsOf(id) {
  return (S.reservations || []).filter((r) => r.task_id === id);
}

/** One reservation as a row: patterns, holder, mode, expiry. */
export function reservationRow(r) {
  return h('div', { class: `resv ${r.mode}`, 'data-testid': 'reservation', 'data-reservation': r.id },
    h('div', { class: 'resv-pats' }, (r.patterns || []).map((p) => h('code', { 'data-testid': 'reservation-pattern' }, p))),
    h('div', { class: 'small' },
      h('span', { 'data-testid': 'reservation-worker' }, r.worker), ' · ', r.mode,
      r.task_id ? [' · task ', h('button', { type: 'button', class: 'link', 'data-goto': r.task_id }, r.task_id)] : ' · ttl',
      ' · ', relSpan('until', r.expires_at)));
}

export function renderReservations() {
  const box = $('[data-testid="reservations"]');
  if (!box || !S.reservations) return;
  const list = S.reservations;
  $('[data-testid="reservations-summary"]').textContent = `${list.length} live`;
  const MAX = 200;
  const frag = document.createDocumentFragment();
  for (const r of list.slice(0, MAX)) frag.append(reservationRow(r));
  if (list.length > MAX) frag.append(h('div', { class: 'muted small' }, `… ${list.length - MAX} more`));
  box.replaceChildren(frag);
  if (!list.length) box.append(h('p', { class: 'muted small' }, 'No paths reserved.'));
  tickRel(box);
}
