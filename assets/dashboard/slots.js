// The worker-slot panel: every slot with its worker, task and lease times, from api/v1/slots,
// fetched again shortly after an event that takes or frees a slot. It also tells the running
// lane when each running task started (the slot's `since`).
import { api } from './api.js';
import { S, markLane, scheduleRender } from './state.js';
import { $, h, relSpan, showError, tickRel, ts } from './util.js';

let slotsTimer = null;
/** Fetches the slots once, 300 ms from now, however many events ask for it meanwhile. */
export function scheduleSlots() {
  if (slotsTimer) return;
  slotsTimer = setTimeout(() => { slotsTimer = null; fetchSlots(); }, 300);
}

let slotsErrShown = false;
export async function fetchSlots() {
  try {
    const res = await api('api/v1/slots');
    S.slots = res;
    slotsErrShown = false;
    for (const sl of (res && res.slots) || []) {
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

export function renderSlots() {
  const box = $('[data-testid="slots"]');
  const sv = S.slots;
  if (!sv) return;
  $('[data-testid="slots-summary"]').textContent = `${sv.busy ?? 0} busy / ${sv.total ?? 0}`;
  const list = Array.isArray(sv.slots) ? sv.slots : [];
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
