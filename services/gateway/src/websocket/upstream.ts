// The application's side of a WebSocket upgrade: one new connection per socket (never a pooled one), the
// decided request sent with `Upgrade: websocket`, and the application's answer. Only a 101 that switches to
// `websocket` opens a tunnel; any other answer is relayed as an ordinary response and the connection closed,
// so that bytes the client sends after its handshake can never reach the application as another HTTP request
// (WebSocket smuggling through an upgrade the application refused).
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';

export type UpstreamAnswer =
  | { kind: 'upgraded'; response: IncomingMessage; socket: Socket; head: Buffer }
  | { kind: 'response'; response: IncomingMessage }
  | { kind: 'failed'; reason: 'unreachable' | 'timeout' };

export interface UpstreamUpgrade {
  answer: Promise<UpstreamAnswer>;
  /** Give up (the client went away): the connection is cut, and `answer` says 'failed'. */
  abort(): void;
}

export interface UpstreamTarget {
  tls: boolean;
  host: string;
  port: number;
  /** Path and query, as decided. */
  path: string;
  headers: Record<string, string | string[]>;
  /** Bound on the connection and the application's answer (headers). */
  timeoutMs: number;
}

export function openUpstream(target: UpstreamTarget): UpstreamUpgrade {
  const request = target.tls ? httpsRequest : httpRequest;
  const req = request({
    host: target.host,
    port: target.port,
    method: 'GET',
    path: target.path,
    headers: { ...target.headers, connection: 'Upgrade', upgrade: 'websocket' },
    // A connection of its own: an upgraded connection never returns to a pool. (An application that speaks
    // TLS is verified against the system's CAs, as for every forwarded request.)
    agent: false,
  });
  let settle: (answer: UpstreamAnswer) => void;
  let settled = false;
  const answer = new Promise<UpstreamAnswer>((resolve) => {
    settle = (a) => {
      if (settled) {
        if (a.kind === 'upgraded') a.socket.destroy();
        return;
      }
      settled = true;
      clearTimeout(timer);
      resolve(a);
    };
  });
  const timer = setTimeout(() => {
    settle({ kind: 'failed', reason: 'timeout' });
    req.destroy();
  }, target.timeoutMs);
  req.on('upgrade', (response: IncomingMessage, socket: Socket, head: Buffer) => {
    if (response.statusCode === 101 && String(response.headers.upgrade).toLowerCase() === 'websocket') {
      settle({ kind: 'upgraded', response, socket, head });
      return;
    }
    // Switched to something else than asked: nothing to carry.
    socket.destroy();
    settle({ kind: 'failed', reason: 'unreachable' });
  });
  req.on('response', (response: IncomingMessage) => {
    // Refused the upgrade: an answer for the client, then this connection is closed (never reused). Its body
    // may not pause for longer than the answer's bound.
    response.once('end', () => req.destroy());
    req.setTimeout(target.timeoutMs, () => req.destroy());
    settle({ kind: 'response', response });
  });
  req.on('error', () => settle({ kind: 'failed', reason: 'unreachable' }));
  req.end();
  return {
    answer,
    abort: () => {
      settle({ kind: 'failed', reason: 'unreachable' });
      req.destroy();
    },
  };
}
