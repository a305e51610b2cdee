// SPEC §8.4: `GET /.well-known/microseg/jwks.json` on every service host — the public keys of the identity
// assertions, as a JWK Set (RFC 7517 §5), for applications to verify them. Public: no session, no decision,
// no flow; the keys are the same on every host and every gateway replica.
import type { PipelineDeps, RequestContext } from '../context.ts';
import { refuse } from '../outcome.ts';

export function assertionKeys(deps: Pick<PipelineDeps, 'assertions' | 'flows'>, ctx: RequestContext): true {
  const method = ctx.req.method;
  if (method !== 'GET' && method !== 'HEAD') {
    return refuse(deps, ctx, { code: 'GATEWAY_BAD_REQUEST', message: 'The key set is read with GET.', headers: { allow: 'GET, HEAD' } }, 'invalid');
  }
  const body = deps.assertions.keys.jwks(Date.now());
  ctx.res.writeHead(200, {
    'content-type': 'application/jwk-set+json',
    // A new key is published long before it signs (POLICY_ASSERTION_KEY_PREPUBLISH_SECONDS): a copy this old is good.
    'cache-control': 'public, max-age=300',
    'x-content-type-options': 'nosniff',
    'content-length': Buffer.byteLength(body),
  });
  ctx.res.end(method === 'HEAD' ? undefined : body);
  return true;
}
