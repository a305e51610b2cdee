// The live stream of GET /api/v1/stream, as Server-Sent Events: `event: flow` and `event: event` with the
// record as JSON, a comment every `heartbeatMs` (15 s) to keep proxies — the gateway's forwarder among them,
// which ends a response idle for UPSTREAM_TIMEOUT_MS — from closing the stream, and the caller checked again
// every `recheckMs`: a token revoked, or a user's last grant on the namespace removed, gets `event: expired` and
// the stream ends. A user signed in through the gateway gets `event: renew` when her assertion expires, and the
// stream ends: the page reconnects at once through the gateway, which checks her session again.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Caller } from './authenticate.ts';
import type { LiveHub, LiveMessage } from './live.ts';
import { inNamespace } from './records.ts';
import { grantFor } from './viewer.ts';

const HEARTBEAT_MS = 15_000;

export interface StreamDeps {
  live: Pick<LiveHub, 'add'>;
  /** How often a live stream checks its caller again (a revoked token's stream ends within this). */
  recheckMs: number;
  heartbeatMs?: number;
}

export function streamTo(
  deps: StreamDeps,
  req: FastifyRequest,
  reply: FastifyReply,
  caller: Pick<Caller, 'recheck' | 'endsAtMs'>,
  selection: { namespace: string; recursive: boolean },
  now: () => number = Date.now,
): void {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    'x-accel-buffering': 'no',
    'x-content-type-options': 'nosniff',
    connection: 'keep-alive',
  });
  res.write(`retry: 2000\nevent: ready\ndata: ${JSON.stringify({ namespace: selection.namespace, recursive: selection.recursive })}\n\n`);
  const write = (message: LiveMessage) => res.write(`event: ${message.type}\ndata: ${JSON.stringify(message.data)}\n\n`);
  const remove = deps.live.add({ wants: (namespace) => inNamespace(namespace, selection.namespace, selection.recursive), send: write, end: () => res.end() });
  const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), deps.heartbeatMs ?? HEARTBEAT_MS);
  const recheck = setInterval(() => {
    caller.recheck().then(
      (viewer) => {
        if (viewer && grantFor(viewer, selection.namespace, selection.recursive)) return;
        res.write('event: expired\ndata: {"message":"Your access to this namespace ended."}\n\n');
        res.end();
      },
      () => undefined, // policy away: keep streaming; the next check decides
    );
  }, deps.recheckMs);
  const renew =
    caller.endsAtMs === undefined
      ? undefined
      : setTimeout(
          () => {
            res.write('event: renew\ndata: {"message":"Sign-in to be checked again: reconnect."}\n\n');
            res.end();
          },
          Math.max(0, caller.endsAtMs - now()),
        );
  const close = () => {
    clearInterval(heartbeat);
    clearInterval(recheck);
    clearTimeout(renew);
    remove();
  };
  res.once('close', close);
  req.raw.once('close', () => res.end());
}
