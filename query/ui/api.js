// Calls the HTTP API: URLs, the saved bearer token, JSON requests and the errors they answer with.

const TOKEN_KEY = 'logpipe.token';

class ApiError extends Error {
  constructor(status, message, position) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.position = position;
  }
}

// The token lives in sessionStorage: it is gone when the tab closes, and never written
// to disk for the next person at the browser.
export const savedToken = () => sessionStorage.getItem(TOKEN_KEY);

// Saves the token for later requests in this tab; an empty one forgets it.
export function storeToken(token) {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

export function authHeaders() {
  const token = savedToken();
  return token ? { Authorization: `Bearer ${token}` } : {};
}

export function apiUrl(path, params = {}) {
  const p = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value != null) p.set(key, value);
  const qs = p.toString();
  return qs ? `${path}?${qs}` : path;
}

export async function errorFrom(res) {
  const text = await res.text().catch(() => '');
  let body = null;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: use the raw text
  }
  const message = (body && body.error) || text.trim() || `HTTP ${res.status} ${res.statusText}`;
  const position = body && Number.isInteger(body.position) ? body.position : undefined;
  return new ApiError(res.status, message, position);
}

export async function getJson(path, params, signal) {
  const res = await fetch(apiUrl(path, params), {
    headers: { Accept: 'application/json', ...authHeaders() },
    signal,
  });
  if (!res.ok) throw await errorFrom(res);
  return res.json();
}

export const isAbort = (err) => err && err.name === 'AbortError';
