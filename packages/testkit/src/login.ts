// Log in through the real code flow with plain HTTP (no browser), for tests
// that need a session but are not about the browser.
import { Agent, fetch as undiciFetch } from 'undici';
import { formFieldsOf, TestBrowser } from './test-browser.ts';

const insecureAgent = new Agent({ connect: { rejectUnauthorized: false } });

/** fetch that accepts the gateway's self-signed certificate (tests only). */
export const insecureFetch = ((input: string | URL, init?: RequestInit) =>
  undiciFetch(input, { ...(init as object), dispatcher: insecureAgent })) as unknown as typeof fetch;

export interface LoggedIn {
  browser: TestBrowser;
  /** The final page after the login (the page first asked for). */
  response: Response;
  body: string;
  /** The callback URL the IdP redirected to (code and state), for replay tests. */
  callbackUrl: URL;
}

export async function loginWithHttp(gatewayUrl: string, login: string, password: string, path = '/'): Promise<LoggedIn> {
  const browser = new TestBrowser(insecureFetch);
  const html = { accept: 'text/html' };
  // Gateway → IdP authorization endpoint → login page.
  const start = await browser.navigate(new URL(path, gatewayUrl), { headers: html });
  if (!start.response || !start.body) throw new Error('no login page');
  const form = formFieldsOf(start.body);
  if (!form.action) throw new Error(`no login form on ${start.response.url}: ${start.body.slice(0, 200)}`);
  const loginUrl = new URL(form.action, start.response.url);
  const posted = await browser.navigate(
    loginUrl,
    {
      method: 'POST',
      headers: { ...html, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...form.fields, login, password }),
    },
    `${gatewayUrl}/aporeto/oidc/callback`,
  );
  if (!posted.stoppedAt) throw new Error(`login did not reach the callback: ${posted.body?.slice(0, 300)}`);
  const callbackUrl = posted.stoppedAt;
  const final = await browser.navigate(callbackUrl, { headers: html });
  return { browser, response: final.response!, body: final.body ?? '', callbackUrl };
}

/** Logs in and returns the session cookie's value (`__Host-microseg`); throws when the login did not end on a 200 with one. */
export async function sessionCookieFor(gatewayUrl: string, login: string, password: string): Promise<string> {
  const user = await loginWithHttp(gatewayUrl, login, password);
  if (user.response.status !== 200) throw new Error(`the login of ${login} ended with ${user.response.status}, not 200`);
  const cookie = user.browser.cookie('__Host-microseg');
  if (!cookie) throw new Error(`the login of ${login} left no __Host-microseg cookie`);
  return cookie;
}
