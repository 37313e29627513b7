// The throughput and request-latency sparklines and the uptime, from api/v1/stats.
import { api } from './api.js';
import { S, scheduleRender } from './state.js';
import { $, SVGNS, fmtDur, fmtNum, h, showError } from './util.js';

let statsErrShown = false;
export async function fetchStats() {
  try {
    S.stats = await api('api/v1/stats');
    statsErrShown = false;
    S.dirty.stats = true;
    scheduleRender();
  } catch (err) {
    if (!statsErrShown) { statsErrShown = true; showError(err, 'Loading stats failed'); }
  }
}

function sparkline(box, legend, series) {
  const W = 300, H = 64;
  let max = 0, len = 60; // fixed time window: short series grow from the right
  for (const sr of series) {
    for (const v of sr.values) if (Number.isFinite(v) && v > max) max = v;
    len = Math.max(len, sr.values.length);
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
  for (const sr of series) {
    const vals = sr.values;
    if (!vals.length) continue;
    const step = len > 1 ? W / (len - 1) : W;
    const off = len - vals.length;
    const pts = vals.map((v, i) => `${((i + off) * step).toFixed(1)},${(H - 2 - ((Number(v) || 0) / max) * (H - 4)).toFixed(1)}`);
    if (pts.length === 1) pts.push(`${W},${pts[0].split(',')[1]}`);
    const pl = document.createElementNS(SVGNS, 'polyline');
    pl.setAttribute('points', pts.join(' '));
    pl.setAttribute('class', `line ${sr.cls}`);
    pl.setAttribute('vector-effect', 'non-scaling-stroke');
    svg.append(pl);
  }
  svg.setAttribute('aria-label', series.map((sr) => `${sr.name}: ${sr.values.length ? sr.values[sr.values.length - 1] : 0}`).join(', '));
  box.replaceChildren(svg);
  legend.replaceChildren(...series.map((sr) => {
    const last = sr.values.length ? sr.values[sr.values.length - 1] : 0;
    const peak = sr.values.reduce((m, v) => (v > m ? v : m), 0);
    return h('span', { class: `lg ${sr.cls}` }, h('i'), `${sr.name} `, h('b', null, fmtNum(last)), h('span', { class: 'muted' }, ` max ${fmtNum(peak)}`));
  }));
}

export function renderStats() {
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
