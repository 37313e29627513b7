// Progress: done / total for the board and per tag, failed and blocked beside it, and an ETA from
// the completions of the last 10 minutes (done tasks' updated_at) for what is not finished yet.
// Redrawn at most twice a second.
import { S } from './state.js';
import { $, fmtDur, fmtInt, h } from './util.js';

const ETA_WINDOW = 600e3;
let progressTimer = null;
let progressAt = 0;
export function renderProgressSoon() {
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
