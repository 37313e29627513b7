// Helpers every part of the dashboard uses: DOM and SVG builders, time and number formatting,
// relative times that tick, and the error banner and notice. Imports nothing.

/** Task statuses in lane order. */
export const STATUSES = ['blocked', 'ready', 'running', 'done', 'failed', 'cancelled'];

export const $ = (sel, root = document) => root.querySelector(sel);

/** An HTML element: `attrs` sets attributes (`class`, `text`, `on<event>` listeners), `kids` are appended. */
export function h(tag, attrs, ...kids) {
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

export const SVGNS = 'http://www.w3.org/2000/svg';

/** An SVG element with attributes and children. */
export function s(tag, attrs, ...kids) {
  const el = document.createElementNS(SVGNS, tag);
  if (attrs) for (const [k, v] of Object.entries(attrs)) if (v != null && v !== false) el.setAttribute(k, String(v));
  for (const k of kids) if (k != null) el.append(k);
  return el;
}

/** An RFC 3339 timestamp as epoch milliseconds, NaN when absent or unreadable. */
export const ts = (str) => { if (!str) return NaN; const n = Date.parse(str); return Number.isNaN(n) ? NaN : n; };

export function fmtDur(ms) {
  if (!Number.isFinite(ms)) return '—';
  let sec = Math.max(0, Math.round(ms / 1000));
  if (sec < 60) return sec + 's';
  const d = Math.floor(sec / 86400); sec -= d * 86400;
  const hh = Math.floor(sec / 3600); sec -= hh * 3600;
  const m = Math.floor(sec / 60); sec -= m * 60;
  if (d) return `${d}d ${hh}h`;
  if (hh) return `${hh}h ${m}m`;
  return `${m}m ${sec}s`;
}

export function fmtTime(str) {
  const n = ts(str);
  if (!Number.isFinite(n)) return str || '—';
  const d = new Date(n);
  const same = new Date().toDateString() === d.toDateString();
  return same ? d.toLocaleTimeString() : d.toLocaleString();
}

function untilText(expMs, now) {
  const left = expMs - now;
  return left >= 0 ? `expires in ${fmtDur(left)}` : `expired ${fmtDur(-left)} ago`;
}

export function fmtJson(v) {
  let out;
  try { out = JSON.stringify(v, null, 2); } catch (e) { out = String(v); }
  if (out === undefined) out = 'null';
  return out.length > 20000 ? out.slice(0, 20000) + '\n… (truncated)' : out;
}

export const splitList = (str) => String(str || '').split(',').map((x) => x.trim()).filter(Boolean);
export const fmtInt = (n) => Number(n).toLocaleString('en-US');
export const fmtNum = (v) => (Number.isFinite(Number(v)) ? (Math.round(Number(v) * 100) / 100).toString() : '—');
export const clip = (str, n) => { str = String(str ?? ''); return str.length > n ? `${str.slice(0, n - 1)}…` : str; };

// ---------- relative times ----------
/** A span showing "<dur> ago" (`kind` since) or "expires in <dur>" (`kind` until) that tickRel keeps current. */
export function relSpan(kind, iso) {
  const n = ts(iso);
  if (!Number.isFinite(n)) return h('span', { class: 'muted' }, '—');
  return h('span', { 'data-rel': kind, 'data-ts': n, title: new Date(n).toLocaleString() }, relText(kind, n, Date.now()));
}
function relText(kind, n, now) {
  return kind === 'until' ? untilText(n, now) : `${fmtDur(now - n)} ago`;
}
export function tickRel(root) {
  const now = Date.now();
  for (const el of root.querySelectorAll('[data-rel]')) {
    const n = Number(el.dataset.ts);
    el.textContent = relText(el.dataset.rel, n, now);
    el.classList.toggle('warn', el.dataset.rel === 'until' && n < now);
  }
}

// ---------- messages ----------
export function showError(err, context) {
  const banner = $('[data-testid="error-banner"]');
  const msg = err && err.message ? err.message : String(err);
  const code = err && err.code ? ` [${err.code}${err.field ? `, field: ${err.field}` : ''}]` : '';
  $('[data-testid="error-text"]').textContent = `${context ? `${context}: ` : ''}${msg}${code}`;
  banner.dataset.code = (err && err.code) || '';
  banner.hidden = false;
}
export function clearError() { $('[data-testid="error-banner"]').hidden = true; }
let noticeTimer = null;
export function notice(text) {
  const el = $('[data-testid="notice"]');
  el.textContent = text;
  el.hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => { el.hidden = true; }, 4000);
}
