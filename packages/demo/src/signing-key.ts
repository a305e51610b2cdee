import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import type { JWK } from 'oidc-provider';

/** A fresh RS256 private signing key as a JWK; a new one each start, none read from disk. */
export function generateRs256SigningJwk(): JWK {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  return { ...jwk, kid: randomUUID(), alg: 'RS256', use: 'sig' };
}

/** Random keys for signing oidc-provider's cookies, new each start. */
export function generateCookieKeys(): string[] {
  return [randomBytes(32).toString('base64url')];
}
