// Talking to the node: the admin API (/api/*), sign-in (/auth/*) and the
// client API (/v1/*, for the playground), all same-origin.
//
// Credentials: the session cookie set by /auth/callback (sent by the browser),
// or an admin key the operator typed, kept in sessionStorage (this tab only,
// gone when it closes) and sent as X-Admin-Key. State-changing calls made with
// the cookie echo the readable `aihub_csrf` cookie in X-CSRF-Token.

const KEY_STORE = 'aihub.adminKey';

function readKey() {
  try { return sessionStorage.getItem(KEY_STORE) || ''; } catch { return ''; }
}

export const auth = { key: readKey() };

export function setAdminKey(key) {
  auth.key = key || '';
  try {
    if (auth.key) sessionStorage.setItem(KEY_STORE, auth.key);
    else sessionStorage.removeItem(KEY_STORE);
  } catch { /* storage disabled: the key lives until reload */ }
}

export function csrfToken() {
  const m = /(?:^|;\s*)aihub_csrf=([^;]*)/.exec(document.cookie);
  return m ? decodeURIComponent(m[1]) : '';
}

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

function authHeaders(method) {
  const h = {};
  if (auth.key) h['X-Admin-Key'] = auth.key;
  if (!SAFE.has(method)) {
    const c = csrfToken();
    if (c) h['X-CSRF-Token'] = c;
  }
  return h;
}

export class ApiError extends Error {
  constructor(status, body, message) {
    super(message);
    this.status = status;
    this.body = body;
    this.code = body?.error?.code || body?.code || null;
  }
}

function messageOf(status, body, text) {
  const e = body?.error;
  if (e && typeof e === 'object' && e.message) return e.message;
  if (typeof e === 'string') return e;
  if (body?.message) return body.message;
  return text && text.length < 300 ? `HTTP ${status}: ${text}` : `HTTP ${status}`;
}

// Called when a call gets 401 and no refresh helps: the app shows sign-in.
let unauthorized = () => {};
export function onUnauthorized(fn) { unauthorized = fn; }

// A 401 with a session cookie may only mean the short-lived session JWT
// expired: rotate it once through /auth/refresh (shared by concurrent calls).
let refreshing = null;
export function refreshSession() {
  if (!refreshing) {
    refreshing = fetch('/auth/refresh', { method: 'POST', credentials: 'same-origin', headers: authHeaders('POST') })
      .then((r) => r.ok, () => false)
      .finally(() => { setTimeout(() => { refreshing = null; }, 1000); });
  }
  return refreshing;
}

/**
 * One API call. body: an object (sent as JSON) or a string (sent as given,
 * with opts.type as its content type). Resolves to the parsed JSON (or text,
 * or null for 204); rejects with ApiError. opts.quiet401: do not leave the
 * page on 401 (the sign-in probe).
 */
export async function api(method, path, body, opts = {}) {
  const headers = { Accept: 'application/json', ...authHeaders(method), ...(opts.headers || {}) };
  let payload;
  if (body !== undefined && body !== null) {
    if (typeof body === 'string') {
      payload = body;
      headers['Content-Type'] = opts.type || 'text/plain; charset=utf-8';
    } else {
      payload = JSON.stringify(body);
      headers['Content-Type'] = 'application/json';
    }
  }
  const r = await fetch(path, { method, headers, body: payload, credentials: 'same-origin', signal: opts.signal });
  if (r.status === 401 && !auth.key && !opts.noRefresh && !path.startsWith('/auth/')) {
    if (await refreshSession()) return api(method, path, body, { ...opts, noRefresh: true });
  }
  const text = r.status === 204 ? '' : await r.text();
  let json = null;
  if (text) {
    try { json = JSON.parse(text); } catch { json = null; }
  }
  if (!r.ok) {
    if (r.status === 401 && !opts.quiet401) unauthorized();
    throw new ApiError(r.status, json, messageOf(r.status, json, text));
  }
  return json ?? (text || null);
}

export const get = (path, opts) => api('GET', path, undefined, opts);

/** Builds a query string from an object, leaving out empty values. */
export function qs(params) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') p.set(k, String(v));
  }
  const s = p.toString();
  return s ? `?${s}` : '';
}

/** Every page of a list endpoint ({data, next}), up to `max` items. */
export async function getAll(path, max = 5000) {
  const out = [];
  let before = null;
  for (;;) {
    const sep = path.includes('?') ? '&' : '?';
    const page = await get(`${path}${sep}limit=1000${before ? `&before=${encodeURIComponent(before)}` : ''}`);
    out.push(...(page?.data || []));
    if (!page?.next || out.length >= max) return out;
    before = page.next;
  }
}

/**
 * Reads a Server-Sent Events response (GET or POST) with fetch, so it can send
 * the admin key or a user key as a header (EventSource cannot). Calls
 * onEvent({event, data, id}) per event; resolves when the stream ends.
 * opts: {method, body, headers, signal, onOpen(response), admin (send admin credentials)}
 */
export async function sse(path, onEvent, opts = {}) {
  const method = opts.method || 'GET';
  const headers = { Accept: 'text/event-stream', ...(opts.admin === false ? {} : authHeaders(method)), ...(opts.headers || {}) };
  let payload;
  if (opts.body !== undefined) {
    payload = JSON.stringify(opts.body);
    headers['Content-Type'] = 'application/json';
  }
  const r = await fetch(path, { method, headers, body: payload, credentials: 'same-origin', signal: opts.signal });
  if (!r.ok) {
    const text = await r.text();
    let json = null;
    try { json = JSON.parse(text); } catch { /* not JSON */ }
    if (r.status === 401 && opts.admin !== false) unauthorized();
    throw new ApiError(r.status, json, messageOf(r.status, json, text));
  }
  opts.onOpen?.(r);
  const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  const boundary = /\r?\n\r?\n/;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += value;
    let m;
    while ((m = boundary.exec(buf)) !== null) {
      const block = buf.slice(0, m.index);
      buf = buf.slice(m.index + m[0].length);
      let event = 'message';
      let id = null;
      const data = [];
      for (const line of block.split(/\r?\n/)) {
        if (line === '' || line.startsWith(':')) continue;
        const c = line.indexOf(':');
        const field = c < 0 ? line : line.slice(0, c);
        let val = c < 0 ? '' : line.slice(c + 1);
        if (val.startsWith(' ')) val = val.slice(1);
        if (field === 'data') data.push(val);
        else if (field === 'event') event = val;
        else if (field === 'id') id = val;
      }
      if (data.length) onEvent({ event, id, data: data.join('\n') });
    }
  }
}
