// OIDC Back-Channel Logout 1.0 §2.6: validate a logout token before acting on it.
import { jwtVerify } from 'jose';
import type { Redis } from 'ioredis';
import { redisKeys } from '@microseg/contracts';
import type { OidcClient } from './oidc-clients.ts';
import { acceptedAlgorithms } from './id-token.ts';
import { keySetOf } from './jwks.ts';

const EVENT = 'http://schemas.openid.net/event/backchannel-logout';
const MAX_AGE_SECONDS = 120;

export interface LogoutClaims {
  iss: string;
  sub?: string;
  sid?: string;
}

export async function verifyLogoutToken(redis: Redis, oidc: OidcClient, token: string): Promise<LogoutClaims> {
  const metadata = oidc.config.serverMetadata();
  const { payload } = await jwtVerify(token, keySetOf(oidc), {
    issuer: metadata.issuer,
    audience: oidc.settings.clientId,
    maxTokenAge: MAX_AGE_SECONDS,
    clockTolerance: 5,
    // The ID tokens' rule (asymmetric only, of those announced): HMAC is refused by us, not only by jose.
    algorithms: acceptedAlgorithms(metadata.id_token_signing_alg_values_supported),
    requiredClaims: ['iat', 'jti', 'events'],
  });
  const events = payload.events as Record<string, unknown> | undefined;
  if (!events || typeof events !== 'object' || !(EVENT in events) || typeof events[EVENT] !== 'object')
    throw new Error('the events claim lacks the back-channel logout event');
  if ('nonce' in payload) throw new Error('a logout token must not carry a nonce');
  const sub = typeof payload.sub === 'string' ? payload.sub : undefined;
  const sid = typeof payload.sid === 'string' ? payload.sid : undefined;
  if (!sub && !sid) throw new Error('a logout token names a sub, a sid or both');
  // Each token acts once.
  const fresh = await redis.set(redisKeys.logoutTokenSeen(String(payload.jti).slice(0, 200)), '1', 'EX', MAX_AGE_SECONDS * 2, 'NX');
  if (!fresh) throw new Error('this logout token was used already');
  return { iss: payload.iss!, sub, sid };
}
