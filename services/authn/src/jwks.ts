// One remote key set per IdP (jose): cached, with bounded, single-flight
// refetch when an unknown `kid` appears; fetched through the network-policy
// guard like every other call to the IdP.
import { createRemoteJWKSet, customFetch, type RemoteJWKSet } from 'jose';
import type { OidcClient } from './oidc-clients.ts';

const sets = new Map<string, RemoteJWKSet>();

export function keySetOf(oidc: OidcClient): RemoteJWKSet {
  const uri = oidc.config.serverMetadata().jwks_uri;
  if (!uri) throw new Error('the identity provider publishes no jwks_uri');
  const key = `${oidc.settings.serviceId}\0${uri}`;
  let set = sets.get(key);
  if (!set) {
    set = createRemoteJWKSet(new URL(uri), {
      // At most one refetch per 30 s when a token names an unknown key; keys kept for 10 minutes.
      cooldownDuration: 30_000,
      cacheMaxAge: 600_000,
      timeoutDuration: 5_000,
      [customFetch]: (url: string, options: RequestInit) => oidc.fetch(url, options as never),
    });
    sets.set(key, set);
  }
  return set;
}
