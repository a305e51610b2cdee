import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { assertionVerifier, type AssertionCheck, type AssertionResult } from './assertion.ts';
import { escapeHtml, PAGE_CONTENT_SECURITY_POLICY, renderPage } from './html.ts';
import { readRequestBody, RequestBodyTooLargeError } from './request-body.ts';
import { closeServer, httpUrl, listen } from './server-lifecycle.ts';
import { serveWebSocketEcho } from './ws-echo.ts';

export type DemoAppOptions = {
  /** Port to listen on; 0 picks a free one. */
  port: number;
  /** Listen address, default 127.0.0.1. */
  host?: string;
  /** Header naming the signed-in user, set by the proxy; default `x-user-email`. */
  userHeader?: string;
  /** Verify microseg's identity assertion (X-Microseg-Jwt-Assertion) and show the result; absent: not looked at. */
  assertion?: AssertionCheck;
};

type Verify = (token: string | undefined) => Promise<AssertionResult>;

/** The header microseg's gateway puts its signed assertion in. */
export const ASSERTION_HEADER = 'x-microseg-jwt-assertion';

export type DemoApp = {
  url: string;
  close(): Promise<void>;
};

export type EchoResponse = {
  method: string;
  path: string;
  headers: Record<string, string | string[]>;
  body: string;
  /** What the application made of the identity assertion (when it verifies them). */
  assertion?: AssertionResult;
};

const ECHO_BODY_LIMIT_BYTES = 10 * 1024 * 1024;

/** The application's pages may open its WebSocket (`/ws`, same origin) and nothing else. */
const APP_CONTENT_SECURITY_POLICY = `${PAGE_CONTENT_SECURITY_POLICY}; connect-src 'self'`;

function sendHtml(response: ServerResponse, status: number, html: string): void {
  response.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'content-security-policy': APP_CONTENT_SECURITY_POLICY,
    'x-content-type-options': 'nosniff',
  });
  response.end(html);
}

function sendJson(response: ServerResponse, status: number, value: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  response.end(JSON.stringify(value));
}

function headerValue(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

function renderWelcomePage(user: string | undefined, assertion: AssertionResult | undefined): string {
  const who = user ? escapeHtml(user) : 'anonymous visitor';
  return renderPage('microseg demo app', `<h1>Welcome, ${who}</h1>\n<p>This is the protected demo application.</p>${assertionParagraph(assertion)}`);
}

/** What the page says of the identity assertion: who it names and for which service, or why it was refused. */
function assertionParagraph(assertion: AssertionResult | undefined): string {
  if (!assertion) return '';
  if (!assertion.present) return '\n<p id="assertion">No identity assertion came with this request.</p>';
  if (!assertion.verified) return `\n<p id="assertion">The identity assertion was refused: ${escapeHtml(assertion.error)}</p>`;
  const { claims, kid } = assertion;
  const who = escapeHtml(String(claims.email ?? claims.sub));
  return `\n<p id="assertion">Verified assertion for ${who}, aud ${escapeHtml(String(claims.aud))}, signed by key ${escapeHtml(kid)}.</p>`;
}

function renderPublicPage(): string {
  return renderPage('microseg demo app — public', '<h1>Hello from the public part</h1>\n<p>No sign-in needed here.</p>');
}

function renderNotFoundPage(): string {
  return renderPage('Not found', '<h1>Not found</h1>\n<p>There is no such page.</p>');
}

/** The request as received: raw path, lower-case header names, body as UTF-8 text. */
async function echoOf(request: IncomingMessage): Promise<EchoResponse> {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(request.headersDistinct)) {
    if (value === undefined) continue;
    headers[name] = value.length === 1 ? (value[0] ?? '') : value;
  }
  const body = await readRequestBody(request, ECHO_BODY_LIMIT_BYTES);
  return { method: request.method ?? '', path: request.url ?? '', headers, body: body.toString('utf8') };
}

function isEchoPath(pathname: string): boolean {
  return pathname === '/_echo' || pathname.startsWith('/_echo/');
}

async function discardBody(request: IncomingMessage): Promise<void> {
  for await (const _chunk of request) {
    // drained so keep-alive connections stay usable
  }
}

async function handleRequest(request: IncomingMessage, response: ServerResponse, userHeader: string, verify: Verify | undefined): Promise<void> {
  const pathname = new URL(request.url ?? '/', 'http://app.invalid').pathname;
  const method = request.method ?? 'GET';
  const assertion = verify ? await verify(headerValue(request, ASSERTION_HEADER)) : undefined;
  if (isEchoPath(pathname)) {
    sendJson(response, 200, { ...(await echoOf(request)), ...(assertion ? { assertion } : {}) });
    return;
  }
  await discardBody(request);
  const isRead = method === 'GET' || method === 'HEAD';
  if (pathname === '/' && isRead) {
    sendHtml(response, 200, renderWelcomePage(headerValue(request, userHeader), assertion));
  } else if (pathname === '/public/hello' && isRead) {
    sendHtml(response, 200, renderPublicPage());
  } else {
    sendHtml(response, 404, renderNotFoundPage());
  }
}

/** The protected demo application that sits behind the proxy (plain node:http), with a WebSocket echo at `/ws`. */
export async function startDemoApp(options: DemoAppOptions): Promise<DemoApp> {
  const host = options.host ?? '127.0.0.1';
  const userHeader = (options.userHeader ?? 'x-user-email').toLowerCase();
  const verify = options.assertion ? assertionVerifier(options.assertion) : undefined;
  const server = createServer((request, response) => {
    handleRequest(request, response, userHeader, verify).catch((error: unknown) => {
      const tooLarge = error instanceof RequestBodyTooLargeError;
      if (!tooLarge) {
        console.error(JSON.stringify({ level: 'error', msg: 'demo app request failed', error: (error as Error).message }));
      }
      if (response.headersSent) {
        response.destroy();
        return;
      }
      response.setHeader('connection', 'close');
      sendJson(response, tooLarge ? 413 : 500, { error: tooLarge ? 'request body too large' : 'internal error' });
    });
  });
  const sockets = serveWebSocketEcho(server, userHeader);
  const port = await listen(server, options.port, host);
  return {
    url: httpUrl(host, port),
    close: () => {
      sockets.closeAll();
      return closeServer(server);
    },
  };
}
