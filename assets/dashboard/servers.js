// The downstream MCP servers panel, from api/v1/servers (hidden when this build serves none):
// one row per server (state, last error — a `misconfigured` server says why), then the server
// file and how its last reload went (a refused reload lists every reason; nothing changed).
import { api } from './api.js';
import { $, fmtJson, h } from './util.js';

export async function fetchServers() {
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
  const reload = reloadLine(data && data.reload);
  if (!list.length) { box.replaceChildren(...[h('p', { class: 'muted small' }, 'No downstream servers.'), reload].filter(Boolean)); return; }
  box.replaceChildren(...list.map((sv) => {
    if (!sv || typeof sv !== 'object') return h('div', { class: 'server', 'data-testid': 'server' }, String(sv));
    const name = sv.name || sv.id || sv.url || '(server)';
    let status = sv.status ?? sv.state ?? (sv.healthy === true ? 'up' : sv.healthy === false ? 'down' : '');
    if (typeof status === 'object') status = JSON.stringify(status);
    const rest = Object.entries(sv).filter(([k, v]) => !['name', 'status', 'state', 'healthy'].includes(k) && k !== (sv.name ? '' : 'id') && v !== null && typeof v !== 'object');
    return h('div', { class: 'server', 'data-testid': 'server' },
      h('div', { class: 'slot-head' }, h('b', null, String(name)), status !== '' ? h('span', { class: `tag st-${String(status).toLowerCase()}` }, String(status)) : null),
      rest.length ? h('div', { class: 'small muted' }, rest.map(([k, v]) => `${k}: ${v}`).join(' · ')) : null);
  }), ...(reload ? [reload] : []));
}

/** The server file and its last reload (`reload` of api/v1/servers), or null without one. */
function reloadLine(r) {
  if (!r || typeof r !== 'object' || !r.file) return null;
  const when = Number.isFinite(r.at) ? new Date(r.at).toLocaleTimeString() : '';
  const head = [`file ${r.file}`, r.watching ? 'watched' : 'not watched'];
  if (r.outcome && r.outcome !== 'none') head.push(`last reload ${r.outcome}${r.trigger ? ` (${r.trigger})` : ''}${when ? ` at ${when}` : ''}`);
  const errors = Array.isArray(r.errors) ? r.errors : [];
  return h('div', { class: 'small', 'data-testid': 'servers-reload' },
    h('div', { class: 'muted' }, head.join(' · ')),
    errors.length ? h('div', { class: 'err' }, 'Not reloaded, nothing changed: ', errors.join('; ')) : null);
}
