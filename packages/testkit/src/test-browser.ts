// A tiny cookie-keeping HTTP client for tests that drive browser flows with plain fetch.

type StoredCookie = { name: string; value: string; path: string; expiresAt: number };

function defaultCookiePath(url: URL): string {
  const lastSlash = url.pathname.lastIndexOf('/');
  return lastSlash <= 0 ? '/' : url.pathname.slice(0, lastSlash);
}

function pathMatches(requestPath: string, cookiePath: string): boolean {
  if (requestPath === cookiePath) return true;
  if (!requestPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith('/') || requestPath[cookiePath.length] === '/';
}

function parseSetCookie(header: string, url: URL): StoredCookie | undefined {
  const [pair = '', ...attributes] = header.split(';');
  const separator = pair.indexOf('=');
  if (separator <= 0) return undefined;
  const cookie: StoredCookie = {
    name: pair.slice(0, separator).trim(),
    value: pair.slice(separator + 1).trim(),
    path: defaultCookiePath(url),
    expiresAt: Infinity,
  };
  for (const attribute of attributes) {
    const [rawKey = '', ...rest] = attribute.split('=');
    const key = rawKey.trim().toLowerCase();
    const value = rest.join('=').trim();
    if (key === 'path' && value.startsWith('/')) cookie.path = value;
    else if (key === 'max-age') cookie.expiresAt = Date.now() + Number(value) * 1000;
    else if (key === 'expires' && cookie.expiresAt === Infinity) cookie.expiresAt = Date.parse(value);
  }
  return cookie;
}

export class TestBrowser {
  readonly #cookies = new Map<string, StoredCookie>();
  readonly #fetch: typeof fetch;

  /** `fetchImpl` lets a test trust the gateway's self-signed certificate (see insecureFetch). */
  constructor(fetchImpl: typeof fetch = fetch) {
    this.#fetch = fetchImpl;
  }

  /** The value of a cookie, if the jar has it. */
  cookie(name: string): string | undefined {
    for (const c of this.#cookies.values()) if (c.name === name && c.expiresAt > Date.now()) return c.value;
    return undefined;
  }

  cookieHeaderFor(url: URL): string {
    const now = Date.now();
    return [...this.#cookies.values()]
      .filter((cookie) => cookie.expiresAt > now && pathMatches(url.pathname, cookie.path))
      .map((cookie) => `${cookie.name}=${cookie.value}`)
      .join('; ');
  }

  /** One request, no redirect following; cookies are sent and stored. */
  async request(target: string | URL, init: RequestInit = {}): Promise<Response> {
    const url = new URL(target);
    const headers = new Headers(init.headers);
    const cookieHeader = this.cookieHeaderFor(url);
    if (cookieHeader) headers.set('cookie', cookieHeader);
    const response = await this.#fetch(url, { ...init, headers, redirect: 'manual' });
    for (const header of response.headers.getSetCookie()) {
      const cookie = parseSetCookie(header, url);
      if (cookie) this.#cookies.set(`${cookie.name}\u0000${cookie.path}`, cookie);
    }
    return response;
  }

  /**
   * Follows redirects like a browser (as GET) until a response is not a redirect or the next location
   * starts with `stopAt` (a relying party's callback the test cannot reach), which is returned as-is.
   */
  async navigate(target: string | URL, init: RequestInit = {}, stopAt?: string): Promise<{ response?: Response; body?: string; stoppedAt?: URL }> {
    let url = new URL(target);
    let requestInit = init;
    for (let hop = 0; hop < 20; hop += 1) {
      const response = await this.request(url, requestInit);
      const location = response.headers.get('location');
      if (response.status < 300 || response.status >= 400 || !location) {
        return { response, body: await response.text() };
      }
      await response.body?.cancel();
      const next = new URL(location, url);
      if (stopAt && next.href.startsWith(stopAt)) return { stoppedAt: next };
      url = next;
      requestInit = {};
    }
    throw new Error('too many redirects');
  }
}

export function formFieldsOf(html: string): { action: string | undefined; fields: Record<string, string> } {
  const action = /<form[^>]*\saction="([^"]*)"/.exec(html)?.[1];
  const fields: Record<string, string> = {};
  for (const match of html.matchAll(/<input[^>]*>/g)) {
    const tag = match[0];
    const name = /\sname="([^"]*)"/.exec(tag)?.[1];
    if (name) fields[name] = /\svalue="([^"]*)"/.exec(tag)?.[1] ?? '';
  }
  return { action, fields };
}
