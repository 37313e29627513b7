// Every data call of the dashboard: fetch with the bearer token, JSON in and out, baton's
// {"error": {code, message, field}} answers as ApiError. Paths are relative (no leading slash),
// so the page works under any mount prefix.
//
// With auth on, the server answers 401 and the page asks for a token. It is kept in
// sessionStorage (this tab's session only) and sent as a bearer header; the event stream opens
// with a single-use ticket instead (sse.js), so the token never appears in a URL.
import { $ } from './util.js';

export class ApiError extends Error {
  constructor(status, code, message, field) {
    super(message);
    this.status = status; this.code = code; this.field = field;
  }
}

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

/** Wires the sign-in dialog; `onSignIn` runs after a token was entered (the page reconnects its stream). */
export function setupLogin(onSignIn) {
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
    onSignIn();
  });
}

/** `opts`: {method, body (sent as JSON)}. Resolves with the parsed JSON (null on 204); a 401 asks for a token and retries once. */
export async function api(path, opts = {}, retried = false) {
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
