// SPEC §8.6: the last stage of an upgrade, in place of forward. The decided handshake goes to the application
// with the headers a request gets (headers.ts: identity set by the gateway alone) and `Upgrade: websocket`; on
// its 101 the client gets the 101, the two sockets are joined (websocket/tunnel.ts) and the socket is tracked
// (websocket/sockets.ts) so that the end of the session or of the access closes it. Any other answer of the
// application is relayed and the connection closed. One flow, like the GET it was decided as.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { cookies } from '@microseg/contracts';
import { context, metrics, propagation } from '@microseg/telemetry';
import { Unavailable } from '../clients/unavailable.ts';
import { DecisionCache } from '../decision-cache.ts';
import { CLIENT_CLOSED } from '../forward.ts';
import { SessionCache } from '../session-cache.ts';
import type { CredentialSpec, SocketRegistry } from '../websocket/sockets.ts';
import { Tunnel } from '../websocket/tunnel.ts';
import { openUpstream } from '../websocket/upstream.ts';
import type { PipelineDeps, RequestContext, Stage } from './context.ts';
import { singleCookie } from './cookies.ts';
import { questionOf } from './decision.ts';
import { upstreamHeadersFor } from './forward.ts';
import { downstreamResponseHeaders } from './headers.ts';
import { recordFlow, refuse, unavailable } from './outcome.ts';
import { bearerToken, credentialKey, lookupTicket, ticketKey, verifyBearer } from './session.ts';

export interface WebSocketDeps {
  sockets: Pick<SocketRegistry, 'reserve' | 'epoch'>;
  /** Bound on the application's answer to the handshake (UPSTREAM_TIMEOUT_MS). */
  upstreamTimeoutMs: number;
}

/** The credential the socket was opened with, and how to ask again whether its session still holds. */
async function credentialOf(deps: Pick<PipelineDeps, 'authn' | 'sessions'>, ctx: RequestContext): Promise<CredentialSpec | undefined> {
  const route = ctx.route!;
  const ticket = singleCookie(ctx.req.headers.cookie, cookies.session);
  const bearer = !ticket && route.acceptBearerTokens ? bearerToken(ctx.req.headers.authorization) : '';
  if (!ticket && !bearer) return undefined;
  // The keys the session stage used: the same cache entries.
  const credential = ticket ? ticketKey(route, ticket) : credentialKey(route.id, `bearer ${bearer}`);
  const authn = deps.authn;
  const revalidate = () => deps.sessions.get(credential, () => (ticket ? lookupTicket(authn, route, ticket) : verifyBearer(authn, route, bearer)));
  // Answered from the cache: the session stage has just resolved it.
  const session = await revalidate();
  if (!session) return undefined;
  // The registry groups by a hash of the credential, as the session cache keys it: no ticket in its maps.
  return {
    key: SessionCache.key(credential),
    sessionId: session.sessionId,
    expiresAtMs: session.expiresAtMs > 0 ? session.expiresAtMs : Infinity,
    tags: session.tags,
    revalidate,
  };
}

/** The 101 for the client: the application's (its Sec-WebSocket-Accept, -Protocol, -Extensions), minus what never passes. */
function switchingHeaders(response: IncomingMessage): Record<string, string | string[]> {
  return { ...downstreamResponseHeaders(response.headers), connection: 'Upgrade', upgrade: 'websocket' };
}

/**
 * The proxy stage, and `noteStart`, which runs before the session and the decision are resolved: what the
 * registry knew then (its epoch) tells whether the socket must be checked again once open.
 */
export function webSocketProxy(ws: WebSocketDeps): { noteStart: Stage; proxyWebSocket: Stage } {
  // The registry's epoch when the upgrade started: anything that happened since is checked again once it is open.
  const started = new WeakMap<RequestContext, number>();

  const noteStart: Stage = (_deps, ctx) => {
    started.set(ctx, ws.sockets.epoch);
    return false;
  };

  const proxyWebSocket: Stage = async (deps, ctx) => {
    const route = ctx.route!;
    const since = started.get(ctx) ?? -1;
    let credential: CredentialSpec | undefined;
    try {
      credential = ctx.session ? await credentialOf(deps, ctx) : undefined;
    } catch (err) {
      if (!(err instanceof Unavailable)) throw err;
      return unavailable(deps, ctx);
    }
    // A session that ended between the session stage and now.
    if (ctx.session && !credential) return refuse(deps, ctx, { code: 'GATEWAY_UNAUTHENTICATED' }, 'missingtoken');
    const reservation = ws.sockets.reserve(credential?.key);
    if (reservation === 'credential-limit') return refuse(deps, ctx, { code: 'GATEWAY_WEBSOCKETS_PER_SESSION' }, 'invalid');
    if (reservation === 'gateway-limit') return refuse(deps, ctx, { code: 'GATEWAY_WEBSOCKETS_FULL', headers: { 'retry-after': '5' } }, 'unavailable');

    const headers = upstreamHeadersFor(deps, ctx);
    propagation.inject(context.active(), headers);
    ctx.outcome = { accepted: true, dropReason: '', policyId: ctx.verdict?.policyId ?? '' };
    const startedAt = performance.now();
    const upstream = openUpstream({
      tls: route.exposedServiceIsTls,
      host: route.upstreamAddress,
      port: route.port,
      path: ctx.query ? `${ctx.path}?${ctx.query}` : ctx.path,
      headers,
      timeoutMs: ws.upstreamTimeoutMs,
    });
    const client = ctx.req.socket;
    const clientGone = () => upstream.abort();
    client.once('close', clientGone);
    const answer = await upstream.answer;
    client.off('close', clientGone);
    const user = ctx.session?.subject;

    if (client.destroyed) {
      reservation.release();
      if (answer.kind === 'upgraded') answer.socket.destroy();
      recordFlow(deps, ctx, true, '', CLIENT_CLOSED, user);
      return true;
    }
    if (answer.kind === 'failed') {
      reservation.release();
      metrics.gatewayUpstreamErrors().inc({ kind: answer.reason });
      return refuse(
        deps,
        ctx,
        { code: answer.reason === 'timeout' ? 'GATEWAY_UPSTREAM_TIMEOUT' : 'GATEWAY_UPSTREAM_UNREACHABLE' },
        answer.reason === 'timeout' ? 'timeout' : 'dial',
      );
    }
    metrics.gatewayUpstreamDuration().observe((performance.now() - startedAt) / 1000);
    if (answer.kind === 'response') {
      // The application did not switch (a 404, a 426, a 403 of its own): its answer, and the connection ends.
      reservation.release();
      const response = answer.response;
      ctx.res.writeHead(response.statusCode ?? 502, downstreamResponseHeaders(response.headers));
      response.once('aborted', () => ctx.res.destroy());
      response.once('error', () => ctx.res.destroy());
      // An upgrade's response is the one written on its socket (upgrade.ts responseOn): an HTTP/1.1 ServerResponse.
      response.pipe(ctx.res as ServerResponse);
      recordFlow(deps, ctx, true, '', response.statusCode ?? 502, user);
      return true;
    }

    ctx.res.writeHead(101, switchingHeaders(answer.response));
    ctx.res.end();
    const tunnel = new Tunnel(client, answer.socket, answer.head);
    const question = questionOf(ctx);
    const tracked = reservation.open({ routeId: route.id, credential, question, decisionKey: DecisionCache.key(question), socket: tunnel }, since);
    const openedAt = performance.now();
    metrics.gatewayWebSockets().inc();
    void tunnel.ended.then((end) => {
      tracked.remove();
      metrics.gatewayWebSockets().dec();
      deps.logger.info(
        {
          requestId: ctx.requestId,
          service: route.name,
          user,
          path: ctx.path,
          durationMs: Math.round(performance.now() - openedAt),
          closedBy: end.reason ?? 'a side',
          bytesIn: end.bytesIn,
          bytesOut: end.bytesOut,
        },
        'websocket closed',
      );
    });
    recordFlow(deps, ctx, true, '', 101, user);
    return true;
  };

  return { noteStart, proxyWebSocket };
}
