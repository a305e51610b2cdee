// What microseg itself says to the application about the user, beside the mapped claim headers: the signed
// assertion (SPEC §8.4) and, for a service with passAccessToken, the user's access token (SPEC §8.5). Each
// replaces whatever the client sent under that name; a name with no value is only removed.
import type { ServiceRoute } from '@microseg/proto/policy';
import { headers as own } from '@microseg/contracts';
import type { PipelineDeps, RequestContext } from '../pipeline/context.ts';
import { assertionFor } from './index.ts';

/** Header name (lower case) → the value microseg sets, or undefined: the client's copy removed, nothing set. */
export type IdentityHeaders = Readonly<Record<string, string | undefined>>;

export function identityHeaders(
  deps: Pick<PipelineDeps, 'assertions'>,
  ctx: Pick<RequestContext, 'session'> & { route: Pick<ServiceRoute, 'id' | 'namespace' | 'name' | 'passAccessToken'> | undefined },
): IdentityHeaders | undefined {
  const assertion = assertionFor(deps, ctx);
  const passAccessToken = ctx.route?.passAccessToken === true;
  if (assertion === undefined && !passAccessToken) return undefined;
  const out: Record<string, string | undefined> = {};
  if (assertion !== undefined) out[own.assertion] = assertion;
  // On such a service the application must be able to trust Authorization: it holds the user's access token
  // (a session's, or the bearer token the request came with), or nothing at all.
  if (passAccessToken) out.authorization = ctx.session?.accessToken ? `Bearer ${ctx.session.accessToken}` : undefined;
  return out;
}
