// The gateway's request pipeline (SPEC §3): the stages in the order a request meets them, and the runner that
// carries one request through them inside its span. Each stage answers the request or passes it on; nothing
// is forwarded without an ALLOW decision from policy. A new feature is a new stage in this list.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { context, metrics, ROOT_CONTEXT, SpanKind, trace } from '@microseg/telemetry';
import type { GatewayRequestHandler } from '../exposed-server.ts';
import type { PipelineDeps, RequestContext, Stage } from './context.ts';
import { decide } from './decision.ts';
import { ownEndpoints } from './endpoints/index.ts';
import { forward } from './forward.ts';
import { rejectAmbiguousFraming } from './framing.ts';
import { refuse } from './outcome.ts';
import { findService } from './route.ts';
import { resolveSession } from './session.ts';
import { normaliseTarget } from './target.ts';
import { checkOrigin, checkUpgrade, responseOn } from './upgrade.ts';
import { webSocketProxy, type WebSocketDeps } from './websocket-proxy.ts';

export type { PipelineDeps } from './context.ts';

export const stages: readonly Stage[] = [
  rejectAmbiguousFraming, // 1. HTTP/1.0 or 1.1, one Host, not Content-Length with Transfer-Encoding: else 400
  findService, //            2. the service by listener port and exact Host: else 404
  normaliseTarget, //        3. the path normalised, the one matched and forwarded: else 400
  ownEndpoints, //           4. the login callback, logout, back-channel logout
  resolveSession, //         5. the user, from the session cookie or a bearer token
  decide, //                 6. policy: network policy, endpoint, scopes → forward, sign in, or refuse
  forward, //                7. to the application
];

/**
 * The stages of an upgrade (SPEC §8.6): a request's, authorised like a GET of its path, with the WebSocket
 * handshake checked (anything else refused) before the session, the Origin after it (so that a hijacking
 * attempt's flow names the user), and a socket proxy in place of forward.
 */
export function upgradeStages(ws: WebSocketDeps): readonly Stage[] {
  const { noteStart, proxyWebSocket } = webSocketProxy(ws);
  return [
    rejectAmbiguousFraming, // 1. as for a request
    findService, //            2.
    normaliseTarget, //        3.
    checkUpgrade, //           4. a WebSocket handshake, not on an own endpoint: else 400
    noteStart, //                 (what the socket registry knew before the session and the decision)
    resolveSession, //         5. as for a request
    checkOrigin, //               a page of the service's own origin (or no browser at all): else 403
    decide, //                 6. as for a GET of the path; no sign-in redirect (401)
    proxyWebSocket, //         7. the application's 101, then the two sockets joined and tracked
  ];
}

const tracer = trace.getTracer('microseg-gateway');

/** The handler of one listener's upgrades: the runner below, with a response written on the socket itself. */
export function createUpgradeHandler(
  deps: PipelineDeps,
  port: number,
  pipeline: readonly Stage[],
): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  const handle = createRequestHandler(deps, port, pipeline);
  return (req, socket, head) => {
    // Bytes after the handshake, read with it: they are the WebSocket's first frames (or never read at all).
    if (head.length > 0) socket.unshift(head);
    handle(req, responseOn(req, socket));
  };
}

/** The handler of one listener's requests. `pipeline` is for tests; the gateway runs `stages`. */
export function createRequestHandler(deps: PipelineDeps, port: number, pipeline: readonly Stage[] = stages): GatewayRequestHandler {
  const run = async (ctx: RequestContext) => {
    for (const stage of pipeline) {
      const done = stage(deps, ctx);
      if (done === true || (done !== false && (await done))) return;
    }
  };
  return (req, res) => {
    const client = deps.addresses.forRequest(req);
    const ctx: RequestContext = {
      req,
      res,
      port,
      requestId: randomUUID(),
      clientIp: client.address,
      forwardedFor: client.forwardedFor,
      route: undefined,
      host: undefined,
      // Until the target is normalised, flows show the path only as far as it is safe to log.
      path: '(unparsed)',
      query: '',
      session: undefined,
      sessionUnknown: false,
      verdict: undefined,
      outcome: undefined,
    };
    res.setHeader('x-request-id', ctx.requestId);
    const started = performance.now();
    // The request's server span: always a new trace — a client's traceparent is not taken (it could choose
    // our trace ids and, with its sampled flag, our sampling). It carries the decision, never a token.
    const span = tracer.startSpan(
      req.method ?? 'HTTP',
      { kind: SpanKind.SERVER, attributes: { 'http.request.method': req.method ?? '', 'server.port': port } },
      ROOT_CONTEXT,
    );
    res.once('finish', () => {
      metrics.gatewayRequestDuration().observe((performance.now() - started) / 1000);
      if (span.isRecording()) {
        span.setAttributes({
          'url.path': ctx.path,
          'http.response.status_code': res.statusCode,
          'microseg.request_id': ctx.requestId,
          'microseg.service': ctx.route?.name ?? '',
          'microseg.namespace': ctx.route?.namespace ?? '',
          'microseg.decision': ctx.outcome ? (ctx.outcome.accepted ? 'accept' : 'reject') : '',
          'microseg.drop_reason': ctx.outcome?.dropReason ?? '',
          'microseg.policy_id': ctx.outcome?.policyId ?? '',
        });
      }
      span.end();
      // The access log: built only when it is written (at LOG_LEVEL=warn it is not).
      if (deps.logger.isLevelEnabled('info')) {
        const spanContext = span.spanContext();
        deps.logger.info(
          {
            trace_id: spanContext.traceId,
            span_id: spanContext.spanId,
            requestId: ctx.requestId,
            method: req.method,
            path: ctx.path,
            status: res.statusCode,
            durationMs: Math.round((performance.now() - started) * 100) / 100,
            service: ctx.route?.name,
            user: ctx.session?.subject,
            decision: ctx.outcome ? (ctx.outcome.accepted ? 'accept' : 'reject') : undefined,
            dropReason: ctx.outcome?.dropReason || undefined,
            reason: ctx.verdict?.reason,
            clientIp: ctx.clientIp,
          },
          'request',
        );
      }
    });
    res.once('close', () => {
      // The client went away before the response was complete.
      if (!res.writableFinished) span.end();
    });
    context.with(trace.setSpan(ROOT_CONTEXT, span), run, undefined, ctx).catch((err: unknown) => {
      deps.logger.error({ err, requestId: ctx.requestId }, 'request failed');
      refuse(deps, ctx, { code: 'INTERNAL' }, 'unavailable');
    });
  };
}
