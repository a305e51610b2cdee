// The live stream of GET /api/v1/stream, as Server-Sent Events: `event: flow` and `event: event` with the
// record as JSON, a comment every 15 s to keep proxies from closing the stream, and the token checked again
// every `recheckMs`: once revoked (or moved out of the namespace), `event: expired` and the stream ends.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { withinSubtree } from '@microseg/contracts';
import type { TokenVerifier } from './auth.ts';
import type { LiveHub, LiveMessage } from './live.ts';
import { inNamespace } from './records.ts';

const HEARTBEAT_MS = 15_000;

export interface StreamDeps {
  live: Pick<LiveHub, 'add'>;
  verifier: Pick<TokenVerifier, 'verify'>;
  /** How often a live stream checks its token again (a revoked token's stream ends within this). */
  recheckMs: number;
}

export function streamTo(
  deps: StreamDeps,
  req: FastifyRequest,
  reply: FastifyReply,
  token: string,
  selection: { namespace: string; recursive: boolean },
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
  const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
  const recheck = setInterval(() => {
    deps.verifier.verify(token).then(
      (viewer) => {
        if (viewer && withinSubtree(selection.namespace, viewer.namespace)) return;
        res.write('event: expired\ndata: {"message":"The token is no longer valid."}\n\n');
        res.end();
      },
      () => undefined, // policy away: keep streaming; the next check decides
    );
  }, deps.recheckMs);
  const close = () => {
    clearInterval(heartbeat);
    clearInterval(recheck);
    remove();
  };
  res.once('close', close);
  req.raw.once('close', () => res.end());
}
