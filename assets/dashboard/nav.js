// The URL fragment names the view and its state: #graph&focus=<id>, #timeline&zoom=day,
// and &task=<id> for an open task detail (#task=<id> alone is the board). Each view registers
// what it adds to the fragment, so this module imports no view.
import { S } from './state.js';

export const VIEWS = ['board', 'graph', 'timeline'];
const viewParams = {};

/** `fn()` returns the fragment parameters of `view` while it is shown ({focus}, {zoom}). */
export function setViewParams(view, fn) { viewParams[view] = fn; }

export function parseHash() {
  const out = { view: 'board', params: {} };
  for (const part of location.hash.replace(/^#/, '').split('&')) {
    if (!part) continue;
    const i = part.indexOf('=');
    if (i < 0) { if (VIEWS.includes(part)) out.view = part; continue; }
    try { out.params[part.slice(0, i)] = decodeURIComponent(part.slice(i + 1)); } catch (e) { /* malformed: ignore */ }
  }
  return out;
}

export function hashFor(view, params) {
  const parts = view === 'board' ? [] : [view];
  for (const k of ['focus', 'zoom', 'task']) if (params[k]) parts.push(`${k}=${encodeURIComponent(params[k])}`);
  return parts.length ? `#${parts.join('&')}` : '';
}

/** Writes the current view, its parameters and the open task into the URL (no history entry). */
export function syncHash() {
  const params = { task: S.selected, ...(viewParams[S.view] ? viewParams[S.view]() : {}) };
  const want = hashFor(S.view, params);
  if (location.hash !== want && !(want === '' && location.hash === '#board')) {
    history.replaceState(null, '', want || location.pathname + location.search);
  }
}
