// What the gateway answers itself: an HTML page for a browser, `{code, message}`
// JSON for anything else. Never internals in a 5xx body.
import type { GatewayRequest, GatewayResponse } from '../http-exchange.ts';
import { errorCodes, type ErrorCode } from '@microseg/errors';

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function wantsHtml(req: GatewayRequest): boolean {
  // A WebSocket handshake is answered in JSON whatever it says it accepts, and never sent to sign in. (Node
  // sets `upgrade` on a request its server hands to the 'upgrade' listener; its types do not declare it.)
  if ((req as { upgrade?: boolean }).upgrade === true) return false;
  const accept = req.headers.accept ?? '';
  return accept.includes('text/html') || req.headers['sec-fetch-mode'] === 'navigate';
}

/** A top-level browser navigation, which may be sent to log in (never a POST: it would be replayed). */
export function isBrowserNavigation(req: GatewayRequest): boolean {
  return (req.method === 'GET' || req.method === 'HEAD') && wantsHtml(req);
}

const TITLES: Partial<Record<number, string>> = {
  400: 'Bad request',
  401: 'Sign-in required',
  403: 'Access denied',
  404: 'Not found',
  405: 'Method not allowed',
  429: 'Too many requests',
  502: 'Application unreachable',
  503: 'Temporarily unavailable',
  504: 'Application timeout',
};

export interface ErrorReply {
  code: ErrorCode;
  message?: string;
  /** Extra lines for the HTML page only (who you are, what to do). */
  details?: string[];
  headers?: Record<string, string | string[]>;
}

export function sendError(req: GatewayRequest, res: GatewayResponse, requestId: string, reply: ErrorReply): void {
  const status = errorCodes[reply.code].status;
  // A 5xx says what the registry says, never the detail (that is in the logs and the administrator's event).
  const message = status < 500 && reply.message ? reply.message : errorCodes[reply.code].message;
  if (res.headersSent) {
    res.destroy();
    return;
  }
  for (const [k, v] of Object.entries(reply.headers ?? {})) res.setHeader(k, v);
  res.setHeader('cache-control', 'no-store');
  if (wantsHtml(req)) {
    const title = TITLES[status] ?? 'Error';
    const details = (reply.details ?? []).map((d) => `<p>${escapeHtml(d)}</p>`).join('\n');
    const body = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${status} ${escapeHtml(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#222}h1{font-size:1.5rem}code{background:#f3f3f3;padding:.1rem .3rem}.meta{color:#777;font-size:.85rem}</style>
</head><body>
<h1>${status} — ${escapeHtml(title)}</h1>
<p id="message">${escapeHtml(message)}</p>
${details}
<p class="meta">Error code <code>${reply.code}</code> · request id <code>${escapeHtml(requestId)}</code></p>
</body></html>`;
    res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'" });
    res.end(req.method === 'HEAD' ? undefined : body);
    return;
  }
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(req.method === 'HEAD' ? undefined : JSON.stringify({ code: reply.code, message }));
}

export function redirect(res: GatewayResponse, location: string, headers: Record<string, string | string[]> = {}): void {
  res.writeHead(302, { ...headers, location, 'cache-control': 'no-store' });
  res.end();
}

/** `url?failure_message=authorization`, appended correctly whatever the URL already has. */
export function withFailureMessage(url: string, message: string): string {
  const u = new URL(url);
  // Appended as text: re-serialising through searchParams would rewrite the operator's query (`%20` → `+`, `flag` → `flag=`).
  const param = `failure_message=${encodeURIComponent(message)}`;
  u.search = u.search ? `${u.search}&${param}` : param;
  return u.href;
}
