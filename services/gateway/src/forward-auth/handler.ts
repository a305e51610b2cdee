// The forward-auth port's handler (docs/forward-auth.md): a trusted ingress asks about a request it received,
// and gets 200 with the identity headers, a sign-in, or a refusal — the gateway's own decision, made by its own
// stages (stages.ts) through its own runner (access log, span, flow), without forwarding anything.
//
// The stages read the request they decide on from `ctx.req`; here that is a view of the forward-auth request
// (its headers: Cookie, Authorization, Accept, Sec-Fetch-*, as the ingress passed them on) with the original
// method, target and Host and, as its peer, the client address the ingress saw. Nothing else of the
// forward-auth request is read; its body never is.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NetworkSet } from '@microseg/config';
import { createRequestHandler } from '../pipeline/index.ts';
import { badRequest } from '../pipeline/outcome.ts';
import { rejectAmbiguousFraming } from '../pipeline/framing.ts';
import type { Stage } from '../pipeline/context.ts';
import { parseForwardAuthRequest, type OriginalRequest } from './request.ts';
import { forwardAuthStages, modes, refuseUntrustedPeer, type ForwardAuthDeps } from './stages.ts';
import { isTrustedPeer } from './trust.ts';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** The original request as the stages read it: the forward-auth request with the ingress's account of the rest. */
export function originalRequestView(req: IncomingMessage, original: OriginalRequest): IncomingMessage {
  const view: IncomingMessage = Object.create(req, {
    method: { value: original.method, enumerable: true },
    url: { value: original.target, enumerable: true },
    headers: { value: { ...req.headers, host: original.host }, enumerable: true },
    // The runner takes the client's address from the peer (pipeline/index.ts): here, the one the ingress saw.
    socket: { value: Object.create(req.socket, { remoteAddress: { value: original.clientIp } }), enumerable: true },
  });
  modes.set(view, original.mode);
  return view;
}

/**
 * nginx's auth_request acts on 2xx, 401 and 403 only; anything else is an error, which nginx answers with 500.
 * So for nginx a redirect the gateway would send (to the IdP, to `redirectURLOnAuthorizationFailure`) becomes a
 * 401 with the same Location and Set-Cookie, which the documented configuration turns back into the redirect;
 * and a malformed or ambiguous request (400: the client's fault, not the server's) becomes a 403. A 404 (no
 * forward-auth service at that host: a configuration error) and a 503 (authn or policy away) stay errors.
 */
function asNginxExpects(res: ServerResponse): void {
  const writeHead = res.writeHead.bind(res) as (status: number, ...rest: unknown[]) => ServerResponse;
  res.writeHead = (status: number, ...rest: unknown[]) => writeHead(NGINX_STATUS[status] ?? status, ...rest);
}

const NGINX_STATUS: Partial<Record<number, number>> = { 302: 401, 400: 403 };

export function createForwardAuthHandler(deps: ForwardAuthDeps, options: { port: number; trusted: NetworkSet }): Handler {
  const untrusted = createRequestHandler(deps, options.port, [refuseUntrustedPeer]);
  const decide = createRequestHandler(deps, options.port, forwardAuthStages);
  return (req, res) => {
    if (!isTrustedPeer(options.trusted, req.socket.remoteAddress)) return untrusted(req, res);
    const parsed = parseForwardAuthRequest(req);
    if (!parsed.ok) {
      const refuseMalformed: Stage = (d, ctx) => badRequest(d, ctx, parsed.message);
      return createRequestHandler(deps, options.port, [rejectAmbiguousFraming, refuseMalformed])(req, res);
    }
    if (parsed.request.mode === 'nginx') asNginxExpects(res);
    decide(originalRequestView(req, parsed.request), res);
  };
}
