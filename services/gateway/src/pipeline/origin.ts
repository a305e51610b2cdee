// Whether a request comes from a page of the very origin it is sent to (CSRF defence for the gateway's own
// state-changing endpoints, the logout).
import type { IncomingHttpHeaders } from 'node:http';

/**
 * Same origin when the browser says so: `Sec-Fetch-Site: same-origin` (set by the browser, never by a page's
 * script); else, when the browser sends no Fetch Metadata, an `Origin` equal to `https://<Host>`. A request
 * with neither is not same-origin: every current browser sends at least `Origin` with a POST, so only an old
 * browser (which nothing else protects from cross-site forms) or a non-browser client sends neither, and such
 * a client can add `Origin` itself. Another port of the same host is another origin (it may be another
 * tenant's application), and `same-site` is not enough for the same reason.
 */
export function isSameOriginRequest(headers: IncomingHttpHeaders, hostHeader: string): boolean {
  const site = headers['sec-fetch-site'];
  if (site !== undefined) return site === 'same-origin';
  const origin = headers.origin;
  if (!origin || origin === 'null') return false;
  let sent: URL;
  try {
    sent = new URL(origin);
  } catch {
    return false;
  }
  // A serialised origin only (scheme, host, port, in lower case, as browsers send it); 443 is left out of it.
  return sent.origin === origin && sent.protocol === 'https:' && sent.host === hostHeader.toLowerCase().replace(/:443$/, '');
}
