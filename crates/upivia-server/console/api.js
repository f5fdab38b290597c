// The JSON API under /api/v1, with the session cookie. Mutations send JSON
// bodies and the session's CSRF token (auth/csrf.rs on the server).

let csrfToken = null;

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Called with no argument when a request finds the session gone. */
let onSignedOut = () => {};
export function whenSignedOut(f) { onSignedOut = f; }

export function setCsrf(token) { csrfToken = token; }

export async function api(method, path, body) {
  const headers = { accept: 'application/json' };
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
  if (method !== 'GET') {
    headers['content-type'] = 'application/json';
    if (csrfToken) headers['x-csrf-token'] = csrfToken;
    init.body = JSON.stringify(body ?? {});
  }
  const res = await fetch(`/api/v1${path}`, init);
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!res.ok) {
    const err = data?.error ?? {};
    const e = new ApiError(res.status, err.code ?? 'http_error', err.message ?? `HTTP ${res.status}`);
    if (res.status === 401 && path !== '/auth/login') onSignedOut();
    throw e;
  }
  return data;
}

/** `{a: 1, b: ''}` → `?a=1` (empty values left out). */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** Agent names by id, fetched once a screen needs them. */
export async function agentNames() {
  const { agents } = await api('GET', '/agents');
  return new Map(agents.map((a) => [a.id, a.name]));
}
