// Shared by the console pages: who is signed in (through the gateway, the
// user's single sign-on says it, and no token is needed; on flowlog's own port,
// an API token), calls to /api/v1 with the token as a Bearer header (never in a
// URL), the live stream read with fetch (EventSource cannot send headers), and
// a DOM builder that only ever sets text, so that nothing from the data is ever
// parsed as HTML.

const TOKEN_KEY = 'microseg.console.token';

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

/** The Authorization header when a token was given; none when the gateway's sign-in speaks for the user. */
function authorization() {
  const value = token();
  return value ? { authorization: `Bearer ${value}` } : {};
}

/** `el('td', { className: 'num', title: 'x', onclick: f }, 'text', child)`: children are text or nodes. */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'className') node.className = value;
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value);
    else if (key === 'text') node.textContent = String(value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function clear(node, ...children) {
  node.replaceChildren(...children.flat().filter((c) => c !== undefined && c !== null && c !== false));
  return node;
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Parameters as a query string; an array is the parameter repeated (`filter=a=1&filter=b!=2`). */
function encodeParams(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params ?? {})) {
    for (const one of Array.isArray(value) ? value : [value]) if (one !== undefined && one !== null && one !== '') search.append(key, String(one));
  }
  return search.toString();
}

function query(params) {
  const text = encodeParams(params);
  return text ? `?${text}` : '';
}

/** GET /api/v1/… with the token; a 401 signs out, and access withdrawn shows why. */
export async function api(path, params) {
  const response = await fetch(`/api/v1${path}${query(params)}`, {
    headers: { ...authorization(), accept: 'application/json' },
    cache: 'no-store',
  });
  const body = await response.json().catch(() => ({}));
  if (response.status === 401 || body.code === 'FLOWLOG_NO_ACCESS') {
    signOut(response.status === 401 && token() ? 'Your token is no longer valid. Sign in again.' : undefined);
    throw new ApiError(response.status, body.code, body.message ?? 'signed out');
  }
  if (!response.ok) throw new ApiError(response.status, body.code ?? String(response.status), body.message ?? response.statusText);
  return body;
}

/**
 * Reads /api/v1/stream (Server-Sent Events) with the token in a header, and
 * reconnects after a pause while `signal` is not aborted. `on.flow` and
 * `on.event` get the records; `on.state` gets 'live' or 'reconnecting'. Signed
 * in through the gateway, the stream ends with `renew` when the user's
 * assertion expires, and is opened again at once (the gateway checks her
 * session again).
 */
export function stream(params, on, signal) {
  const run = async () => {
    let pause = 1000;
    while (!signal.aborted) {
      let renew = false;
      try {
        const response = await fetch(`/api/v1/stream${query(params)}`, {
          headers: { ...authorization(), accept: 'text/event-stream' },
          signal,
          cache: 'no-store',
        });
        if (response.status === 401) return signOut(token() ? 'Your token is no longer valid. Sign in again.' : undefined);
        if (response.status === 403) return signOut();
        if (!response.ok || !response.body) throw new Error(`stream answered ${response.status}`);
        on.state?.('live');
        pause = 1000;
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let cut;
          while ((cut = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, cut);
            buffer = buffer.slice(cut + 2);
            let type = 'message';
            let data = '';
            for (const line of block.split('\n')) {
              if (line.startsWith('event:')) type = line.slice(6).trim();
              else if (line.startsWith('data:')) data += line.slice(5).trim();
            }
            if (type === 'expired') return signOut(token() ? 'Your token was revoked. Sign in again.' : undefined);
            if (type === 'renew') renew = true;
            if (data && on[type]) on[type](JSON.parse(data));
          }
        }
      } catch (err) {
        if (signal.aborted) return;
      }
      if (renew) continue;
      on.state?.('reconnecting');
      await new Promise((resolve) => setTimeout(resolve, pause));
      pause = Math.min(pause * 2, 15000);
    }
  };
  void run();
}

/** Forgets the token (a user signed in through the gateway has none) and shows the page again. */
export function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  if (message) sessionStorage.setItem(`${TOKEN_KEY}.notice`, message);
  location.reload();
}

/** Who /api/v1/whoami says is calling: the user the gateway signed in, or the stored token's. */
async function whoami() {
  const response = await fetch('/api/v1/whoami', { headers: { ...authorization(), accept: 'application/json' }, cache: 'no-store' }).catch(() => undefined);
  if (!response) return { status: 0, body: {} };
  return { status: response.status, body: await response.json().catch(() => ({})) };
}

/** Where a viewer's pages open: its first namespace, with its children when its grant there reaches them. */
export function startingPoint(viewer) {
  const grant = (viewer.grants ?? []).find((g) => g.namespace === viewer.namespace);
  return { namespace: viewer.namespace, recursive: grant ? grant.subtree : true };
}

/**
 * Shows the console for whoever /api/v1/whoami names — a user signed in through the gateway, or the holder of
 * the token in this tab — then calls `ready(viewer)`; a signed-in user without access gets a page that says so;
 * anyone else the token form, until a token is accepted.
 */
export async function signIn(ready) {
  const login = document.getElementById('login');
  const consoleView = document.getElementById('console');
  const error = document.getElementById('login-error');
  const who = document.getElementById('who');
  const out = document.getElementById('signout');
  const ssoOut = document.getElementById('sso-signout');
  out.addEventListener('click', () => signOut());
  const notice = sessionStorage.getItem(`${TOKEN_KEY}.notice`);
  sessionStorage.removeItem(`${TOKEN_KEY}.notice`);

  const start = (viewer) => {
    login.hidden = true;
    consoleView.hidden = false;
    if (viewer.via === 'sso') {
      // The sign-out form posts to the gateway, which ends the single sign-on session.
      ssoOut.hidden = false;
      clear(who, 'Signed in as ', el('strong', { text: viewer.name }), ` (${viewer.role}) · ${viewer.namespace}`);
    } else {
      out.hidden = false;
      clear(who, 'Signed in with ', el('strong', { text: viewer.name }), ` (${viewer.role}) · ${viewer.namespace}`);
    }
    ready(viewer);
  };
  // A token in this tab, or an https page: the gateway (always https) may speak for the user. flowlog's own
  // port is plain http, where only a token can sign in: no question to ask, and no 401 to show.
  const { status, body } = token() || location.protocol === 'https:' ? await whoami() : { status: 401, body: {} };
  if (status === 200) return start(body);
  if (status === 403 && body.code === 'FLOWLOG_NO_ACCESS') {
    document.getElementById('no-access-message').textContent = body.message ?? '';
    document.getElementById('no-access').hidden = false;
    return;
  }
  if (status === 401) {
    if (token()) sessionStorage.removeItem(TOKEN_KEY);
  } else {
    error.textContent = status === 0 ? 'flowlog did not answer. Is it running?' : `The console cannot reach flowlog: ${body.message ?? status}`;
  }
  login.hidden = false;
  if (notice) error.textContent = notice;
  const form = document.getElementById('login-form');
  const input = document.getElementById('token');
  input.focus();
  form.addEventListener('submit', async (submit) => {
    submit.preventDefault();
    error.textContent = '';
    const value = input.value.trim();
    if (!value) return;
    const response = await fetch('/api/v1/whoami', { headers: { authorization: `Bearer ${value}` }, cache: 'no-store' }).catch(() => undefined);
    if (!response) {
      error.textContent = 'flowlog did not answer. Is it running?';
      return;
    }
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      error.textContent = response.status === 401 ? 'This token is unknown, revoked or malformed.' : (body.message ?? `flowlog answered ${response.status}`);
      return;
    }
    sessionStorage.setItem(TOKEN_KEY, value);
    input.value = '';
    start(body);
  });
}

/** The view's settings in the address bar's fragment (never the token): `#namespace=/acme&recursive=true`. */
export function readHash() {
  return Object.fromEntries(new URLSearchParams(location.hash.slice(1)));
}

/** Every value of a repeated setting of the fragment (`#f=a%3D1&f=b!%3D2`). */
export function readHashAll(key) {
  return new URLSearchParams(location.hash.slice(1)).getAll(key);
}

/** Arrays are written as the setting repeated. */
export function writeHash(values) {
  history.replaceState(null, '', `#${encodeParams(values)}`);
}

/** A fragment for a link to another page of the console, built the same way. */
export function hashOf(values) {
  return `#${encodeParams(values)}`;
}

const pad = (n) => String(n).padStart(2, '0');

/** `2026-11-28 12:03:07` in local time. */
export function formatTime(ms) {
  if (!ms) return '—';
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function formatClock(ms) {
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function ago(ms) {
  if (!ms) return 'never';
  const s = Math.round((Date.now() - ms) / 1000);
  if (s < 60) return `${Math.max(s, 0)} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

export function plural(n, one, many) {
  return `${n} ${n === 1 ? one : many}`;
}

/** A namespace input's datalist: the token's namespace and those seen. */
export function rememberNamespaces(datalist, namespaces) {
  const known = new Set([...datalist.options].map((o) => o.value));
  for (const ns of namespaces) if (!known.has(ns)) datalist.append(el('option', { value: ns }));
}
