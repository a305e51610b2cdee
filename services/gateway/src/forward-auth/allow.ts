// What the 200 of a forward-auth decision carries: the headers the ingress copies onto the request it sends to
// the application (docs/forward-auth.md). This is the one place they are made.
import { cookies, headers as own } from '@microseg/contracts';
import type { ServiceRoute } from '@microseg/proto/policy';
import type { Session } from '../pipeline/context.ts';
import { withoutCookies } from '../pipeline/cookies.ts';
import { claimHeaderValues } from '../pipeline/headers.ts';
import type { ForwardAuthMode } from './request.ts';

/** Envoy's ext_authz (HTTP service) removes the request headers this lists from the request it forwards. */
export const ENVOY_HEADERS_TO_REMOVE = 'x-envoy-auth-headers-to-remove';

export interface AllowInput {
  mode: ForwardAuthMode;
  route: Pick<ServiceRoute, 'claimsToHttpHeaderMappings'>;
  session: Session | undefined;
  /** The Cookie header of the original request, as the ingress passed it on. */
  cookie: string | undefined;
  /** The signed identity assertion for this user and service (assertion/index.ts), when there is a user. */
  assertion: string | undefined;
}

/**
 * The headers of a 200 answer, lower-case:
 * - every mapped claim header the session has a value for (`x-user-email: alice@example.com`);
 * - `cookie`: the original Cookie header without microseg's cookies, when anything is left — the application
 *   never receives the session ticket (SPEC §8.1);
 * - for Envoy, `x-envoy-auth-headers-to-remove`: the mapped headers without a value and, when no cookie is left,
 *   `cookie`. nginx (`proxy_set_header`) and Traefik (`authResponseHeaders`) replace or drop each header they
 *   copy whether or not the answer has it; Envoy only sets those the answer has, so a client's own copy of a
 *   header the session has no value for must be removed by name.
 *
 * - `x-microseg-jwt-assertion`: the signed identity assertion (SPEC §8.4), when there is a user; an ingress
 *   copies it like the claim headers (for Envoy, removed by name when there is none).
 */
export function allowHeaders(input: AllowInput): Record<string, string> {
  const out: Record<string, string> = {};
  const claims = input.session ? claimHeaderValues(input.session.tags, input.route.claimsToHttpHeaderMappings) : undefined;
  const unset: string[] = [];
  for (const { targetHttpHeader } of input.route.claimsToHttpHeaderMappings) {
    const name = targetHttpHeader.toLowerCase();
    // As when forwarding (pipeline/headers.ts): a value with a control character is never sent.
    const values = (claims?.get(targetHttpHeader) ?? []).filter((v) => !/[\u0000-\u001f\u007f]/.test(v));
    if (values.length > 0) out[name] = values.join(', ');
    else unset.push(name);
  }
  if (input.assertion !== undefined) out[own.assertion] = input.assertion;
  else unset.push(own.assertion);
  const kept = withoutCookies(input.cookie, [cookies.session, cookies.loginBinding]);
  if (kept) out.cookie = kept;
  else unset.push('cookie');
  if (input.mode === 'envoy' && unset.length > 0) out[ENVOY_HEADERS_TO_REMOVE] = unset.join(', ');
  return out;
}
