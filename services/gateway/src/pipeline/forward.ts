// SPEC §3.8, §8: the decided request goes to the service's processing unit (the Forwarder streams it both
// ways), with what the application may trust set by the gateway alone (headers.ts): the mapped claims, the
// signed identity assertion and, where asked for, the access token (assertion/identity-headers.ts). Upstream down: 502; too
// slow: 504.
import type { ServiceRoute } from '@microseg/proto/policy';
import { identityHeaders } from '../assertion/identity-headers.ts';
import type { UpstreamOptions } from '../forward.ts';
import type { PipelineDeps, RequestContext, Stage } from './context.ts';
import { claimHeaderValues, upstreamRequestHeaders } from './headers.ts';
import { recordFlow, refuse } from './outcome.ts';

const NO_CLAIMS: ReadonlyMap<string, string[]> = new Map();

const mappedNames = new WeakMap<object, string[]>();
/** The service's mapped header names, made once per version of its mappings. */
function mappedHeaderNamesOf(route: ServiceRoute): string[] {
  let names = mappedNames.get(route.claimsToHttpHeaderMappings);
  if (!names) {
    names = route.claimsToHttpHeaderMappings.map((m) => m.targetHttpHeader);
    mappedNames.set(route.claimsToHttpHeaderMappings, names);
  }
  return names;
}

const HTTP1: UpstreamOptions = {};

/** How the application is spoken to: HTTP/2 (h2c, or h2 over TLS) and the CA its certificate must chain to. */
export function upstreamOptionsOf(route: ServiceRoute): UpstreamOptions {
  const http2 = route.applicationProtocol === 'HTTP/2';
  const ca = route.exposedServiceIsTls && route.applicationCa ? route.applicationCa : undefined;
  return http2 || ca ? { http2, ca } : HTTP1;
}

/** The headers the application receives with a decided request (SPEC §8.1); WebSocket upgrades get the same. */
export function upstreamHeadersFor(deps: Pick<PipelineDeps, 'assertions'>, ctx: RequestContext): Record<string, string | string[]> {
  const route = ctx.route!;
  return upstreamRequestHeaders({
    incoming: ctx.req.headers,
    host: ctx.host!,
    forwardedFor: ctx.forwardedFor,
    requestId: ctx.requestId,
    claimHeaders: ctx.session ? claimHeaderValues(ctx.session.tags, route.claimsToHttpHeaderMappings) : NO_CLAIMS,
    mappedHeaderNames: mappedHeaderNamesOf(route),
    // The signed assertion and, where the service asks for it, the access token (SPEC §8.4, §8.5).
    identity: identityHeaders(deps, ctx),
  });
}

export const forward: Stage = async (deps, ctx) => {
  const route = ctx.route!;
  const headers = upstreamHeadersFor(deps, ctx);
  // Decided: the response may finish (and the access log be written) before the flow is recorded below.
  ctx.outcome = { accepted: true, dropReason: '', policyId: ctx.verdict?.policyId ?? '' };
  const scheme = route.exposedServiceIsTls ? 'https' : 'http';
  const address = route.upstreamAddress.includes(':') ? `[${route.upstreamAddress}]` : route.upstreamAddress;
  const result = await deps.forwarder.forward(
    ctx.req,
    ctx.res,
    `${scheme}://${address}:${route.port}`,
    ctx.query ? `${ctx.path}?${ctx.query}` : ctx.path,
    headers,
    upstreamOptionsOf(route),
  );
  if (!result.ok) {
    return refuse(
      deps,
      ctx,
      { code: result.kind === 'timeout' ? 'GATEWAY_UPSTREAM_TIMEOUT' : 'GATEWAY_UPSTREAM_UNREACHABLE' },
      result.kind === 'timeout' ? 'timeout' : 'dial',
    );
  }
  recordFlow(deps, ctx, true, '', result.status, ctx.session?.subject);
  return true;
};
