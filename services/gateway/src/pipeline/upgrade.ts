// SPEC §8.6, what an upgrade must be before it is decided: a WebSocket handshake (RFC 6455 §4.1) and nothing
// else — no h2c, no other protocol, no body — never on the gateway's own endpoints (checkUpgrade, before the
// session), from a page of the service's own origin (checkOrigin, after it). The rest of the upgrade's path is
// a request's: session, decision, then the socket proxy (websocket-proxy.ts). `responseOn` gives the stages
// the response they answer with, on the socket.
import { ServerResponse, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { paths } from '@microseg/contracts';
import type { Stage } from './context.ts';
import { badRequest, refuse } from './outcome.ts';

const OWN_PATHS: ReadonlySet<string> = new Set(Object.values(paths));

/** Why an upgrade request is not a WebSocket handshake the gateway carries; undefined when it is one. */
export function handshakeProblem(req: IncomingMessage): string | undefined {
  const upgrade = req.headers.upgrade ?? '';
  // One protocol, `websocket` (any case): `h2c`, `TLS/1.0`, a list of several, or `websocket/13` are refused.
  if (upgrade.trim().toLowerCase() !== 'websocket') return 'Only WebSocket upgrades are carried (Upgrade: websocket).';
  if (req.method !== 'GET') return 'A WebSocket upgrade is a GET.';
  if (req.httpVersion !== '1.1') return 'A WebSocket upgrade needs HTTP/1.1.';
  if (req.headers['sec-websocket-version'] !== '13') return 'Only WebSocket version 13 is carried (Sec-WebSocket-Version: 13).';
  // A 16-byte nonce, base64 (RFC 6455 §4.1, item 7).
  if (!/^[A-Za-z0-9+/]{22}==$/.test(req.headers['sec-websocket-key'] ?? '')) return 'The Sec-WebSocket-Key header is missing or malformed.';
  // Whatever follows the handshake is frames: a body would be read as frames by one side and as a body by another.
  if (req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] ?? '0') !== '0') return 'A WebSocket upgrade has no body.';
  return undefined;
}

/**
 * Whether a browser page of another origin opened this socket (Cross-Site WebSocket Hijacking: WebSockets are
 * not bound by the same-origin policy, and the browser sends the user's cookie with them). A browser always
 * sends `Origin` with a WebSocket handshake; it must be `https://<Host>` exactly (another host of the same
 * service, another port of the same host or `null` are other origins). A client that sends no `Origin` is not a
 * browser acting for a page, and must hold the credential itself: it is let through. `Sec-Fetch-Site`, when
 * sent, must say the same.
 */
export function isForeignOrigin(headers: IncomingHttpHeaders, hostHeader: string): boolean {
  const site = headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin') return true;
  const origin = headers.origin;
  if (origin === undefined) return false;
  let sent: URL;
  try {
    sent = new URL(origin);
  } catch {
    return true;
  }
  return !(sent.origin === origin && sent.protocol === 'https:' && sent.host === hostHeader.toLowerCase().replace(/:443$/, ''));
}

/** After the route and the target: an upgrade the gateway does not carry is refused before anything is asked. */
export const checkUpgrade: Stage = (deps, ctx) => {
  // Upgrades come only from HTTP/1.1 connections (the 'upgrade' event): the request is an IncomingMessage.
  const problem = handshakeProblem(ctx.req as IncomingMessage);
  if (problem) return badRequest(deps, ctx, problem);
  if (OWN_PATHS.has(ctx.path)) return badRequest(deps, ctx, "The gateway's own endpoints do not upgrade.");
  return false;
};

/**
 * After the session, before the decision: a socket opened by another origin's page is refused — with or
 * without a session, on a public path too — and its flow and log line name the user whose cookie the page
 * tried to use.
 */
export const checkOrigin: Stage = (deps, ctx) => {
  if (!isForeignOrigin(ctx.req.headers, ctx.host!)) return false;
  return refuse(deps, ctx, { code: 'GATEWAY_CROSS_ORIGIN_REQUEST', message: 'A WebSocket may be opened only by a page of this application.' }, 'invalid');
};

/**
 * A response written on an upgrade's socket, for the stages that answer with one: any answer but a 101 is the
 * last thing on the connection (`Connection: close`, then the socket ends: bytes the client sent after its
 * handshake are never read as a request); after a 101 the socket is the WebSocket's.
 */
export function responseOn(req: IncomingMessage, socket: Duplex): ServerResponse {
  const res = new ServerResponse(req);
  res.shouldKeepAlive = false;
  res.assignSocket(socket as Socket);
  res.once('finish', () => {
    res.detachSocket(socket as Socket);
    if (res.statusCode !== 101) (socket as Socket).destroySoon();
  });
  return res;
}
