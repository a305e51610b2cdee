// The forward-auth pipeline (docs/forward-auth.md, SPEC §3.9): the gateway's own stages on the request an
// ingress asks about, except that the service is found among those served through forward-auth, the path must
// already be in its normal form, and an allowed request is answered 200 instead of forwarded. A request here is
// a view of the original one (handler.ts): its method, target, Host and client address are the ingress's
// account of them.
import { assertionFor } from '../assertion/index.ts';
import { paths } from '@microseg/contracts';
import type { ServiceRoute } from '@microseg/proto/policy';
import { decide } from '../pipeline/decision.ts';
import type { PipelineDeps, RequestContext, Stage } from '../pipeline/context.ts';
import { rejectAmbiguousFraming } from '../pipeline/framing.ts';
import { badRequest, recordFlow, refuse } from '../pipeline/outcome.ts';
import { resolveSession } from '../pipeline/session.ts';
import { normaliseTarget } from '../pipeline/target.ts';
import { hostnameOf, type RoutingState } from '../state.ts';
import { allowHeaders } from './allow.ts';
import { type ForwardAuthMode } from './request.ts';

export interface ForwardAuthDeps extends PipelineDeps {
  state: () => Pick<RoutingState, 'find' | 'routes'>;
}

/** The mode of each request view (handler.ts): what the 200 carries depends on the ingress. */
export const modes = new WeakMap<object, ForwardAuthMode>();

/** The services served through forward-auth, by host name: the older wins a host two of them claim (routes come older first). */
const indexes = new WeakMap<readonly ServiceRoute[], Map<string, ServiceRoute>>();
export function forwardAuthRoute(routes: readonly ServiceRoute[], hostname: string): ServiceRoute | undefined {
  let index = indexes.get(routes);
  if (!index) {
    index = new Map();
    for (const route of routes) {
      if (!route.forwardAuth) continue;
      for (const host of route.hosts) if (!index.has(host.toLowerCase())) index.set(host.toLowerCase(), route);
    }
    indexes.set(routes, index);
  }
  return index.get(hostname);
}

/** The service whose `hosts` has the original request's host and that is served through forward-auth; else 404. */
export const findForwardAuthService: Stage = (deps, ctx) => {
  const host = hostnameOf(ctx.req.headers.host);
  const route = host ? forwardAuthRoute((deps as ForwardAuthDeps).state().routes, host) : undefined;
  if (!route) return refuse(deps, ctx, { code: 'GATEWAY_UNKNOWN_HOST', message: 'No service is served through forward-auth at this host.' }, 'unknownhost');
  ctx.route = route;
  ctx.host = ctx.req.headers.host!;
  return false;
};

/**
 * The ingress forwards the path as the client sent it, not as the gateway normalised it: a decision about
 * `/public/x/../../admin` spelt `/admin` could let an application that resolves it otherwise serve another path
 * than the one decided on. So here the path must already be normal (no dot segments, `//`, decoded unreserved
 * or lower-case escapes): what is decided on is then exactly what the application receives. Browsers send
 * normal paths.
 */
export const requireNormalForm: Stage = (deps, ctx) => {
  const sent = (ctx.req.url ?? '').split('?', 1)[0];
  if (sent === ctx.path) return false;
  return badRequest(
    deps,
    ctx,
    'The path is not in its normal form (dot segments, //, or escapes to write otherwise); send the path as the application should read it.',
  );
};

const OWN_PATHS: ReadonlySet<string> = new Set(Object.values(paths));

/** The gateway's own endpoints are served by the gateway itself: the ingress must route them to its service port. */
export const refuseOwnEndpoints: Stage = (deps, ctx) => {
  if (!OWN_PATHS.has(ctx.path)) return false;
  deps.logger.warn({ path: ctx.path, service: ctx.route?.name }, 'forward-auth asked about an endpoint of the gateway: route /aporeto/oidc/ to the gateway');
  return badRequest(deps, ctx, `${ctx.path} belongs to the gateway: the ingress must send it to the gateway's service port, not ask about it.`);
};

/** Allowed: 200 with what the ingress copies to the application's request (allow.ts). */
export const allowForwardAuth: Stage = (deps, ctx) => {
  const headers = allowHeaders({
    mode: modes.get(ctx.req) ?? 'nginx',
    route: ctx.route!,
    session: ctx.session,
    cookie: ctx.req.headers.cookie,
    assertion: assertionFor(deps, ctx),
  });
  ctx.res.writeHead(200, { ...headers, 'cache-control': 'no-store', 'content-length': '0' });
  ctx.res.end();
  recordFlow(deps, ctx, true, '', 200, ctx.session?.subject);
  return true;
};

export const forwardAuthStages: readonly Stage[] = [
  rejectAmbiguousFraming, // the forward-auth request itself: HTTP/1.x, one Host, not Content-Length with Transfer-Encoding
  findForwardAuthService, // the service served through forward-auth at the original host: else 404
  normaliseTarget, //        the original path through the one normaliser: else 400
  requireNormalForm, //      …and already in that form, since the ingress forwards it as sent: else 400
  refuseOwnEndpoints, //     the callback and logout go to the gateway, not through a decision: 400
  resolveSession, //         the user, from the session cookie or a bearer token
  decide, //                 policy: network policy, endpoint, scopes → 200, sign in, or refuse
  allowForwardAuth, //       200 with the identity headers
];

/** Refused before anything is read: the peer is not a trusted ingress (trust.ts). */
export const refuseUntrustedPeer: Stage = (deps, ctx: RequestContext) => {
  deps.logger.warn({ peer: ctx.clientIp }, 'forward-auth request from an address that is not a trusted ingress: refused');
  return refuse(deps, ctx, { code: 'GATEWAY_FORWARD_AUTH_UNTRUSTED' }, 'invalid');
};
