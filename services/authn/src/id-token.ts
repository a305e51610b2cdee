// What microseg checks in an ID token beyond openid-client (SPEC §4, §10).
// openid-client validates the claims (iss, aud, azp, exp, nonce, sub) but,
// as OIDC Core §3.1.3.7 allows for a token received from the token endpoint
// over TLS, not the signature: any `alg` the discovery document lists,
// `none` included, passes. An IdP whose TLS or network path is not what it
// seems, or a tenant's misconfigured IdP, could then mint any identity. So:
// - the signature must verify with a key of the IdP's JWKS, asymmetric
//   algorithms only (never `none`, never HS* keyed with a secret or a public
//   key), and the key is chosen by `kid` from the JWKS alone — `jwk`, `jku`
//   and `x5u` headers are never followed;
// - no header or payload member may appear twice (RFC 7515 §5.2, RFC 7519
//   §4: a parser differential between IdP and relying party is an attack);
// - `iat` may not lie in the future beyond the clock tolerance.
import { compactVerify, errors } from 'jose';
import { idpUnavailable, type OidcClient } from './oidc-clients.ts';
import { keySetOf } from './jwks.ts';

export const ASYMMETRIC_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'] as const;

/** Seconds an `iat` may run ahead of this clock. */
export const CLOCK_TOLERANCE_SECONDS = 60;

export class IdTokenRejected extends Error {
  override name = 'IdTokenRejected';
}

/** The algorithms the IdP announces that microseg accepts for its signatures (RS256 when it announces none). */
export function acceptedAlgorithms(announced: readonly string[] | undefined): string[] {
  const accepted = new Set<string>(ASYMMETRIC_ALGORITHMS);
  return (announced ?? ['RS256']).filter((alg) => accepted.has(alg));
}

/**
 * The first object member name that appears twice in the same object, at any
 * depth, of a JSON text JSON.parse accepts (names compared after unescaping,
 * so `"email"` and `"\u0065mail"` are the same member); undefined when none.
 */
export function duplicateMember(json: string): string | undefined {
  const stack: Array<{ names: Set<string>; expectName: boolean } | undefined> = [];
  for (let i = 0; i < json.length; i++) {
    const c = json[i];
    if (c === '{') stack.push({ names: new Set(), expectName: true });
    else if (c === '[') stack.push(undefined);
    else if (c === '}' || c === ']') stack.pop();
    else if (c === ',') {
      const top = stack.at(-1);
      if (top) top.expectName = true;
    } else if (c === '"') {
      let end = i + 1;
      while (end < json.length && json[end] !== '"') end += json[end] === '\\' ? 2 : 1;
      const top = stack.at(-1);
      if (top?.expectName) {
        const name = JSON.parse(json.slice(i, end + 1)) as string;
        if (top.names.has(name)) return name;
        top.names.add(name);
        top.expectName = false;
      }
      i = end;
    }
  }
  return undefined;
}

function segmentText(segment: string | undefined): string {
  return Buffer.from(segment ?? '', 'base64url').toString('utf8');
}

/** Throws IdTokenRejected when the ID token fails a check of this module. */
export async function checkIdToken(oidc: OidcClient, idToken: string, claims: { iat: number }, nowMs = Date.now()): Promise<void> {
  const [header, payload] = idToken.split('.');
  for (const [part, text] of [
    ['header', segmentText(header)],
    ['payload', segmentText(payload)],
  ] as const) {
    const twice = duplicateMember(text);
    if (twice !== undefined) throw new IdTokenRejected(`the ID token's ${part} has the member ${JSON.stringify(twice.slice(0, 40))} twice`);
  }
  if (claims.iat > nowMs / 1000 + CLOCK_TOLERANCE_SECONDS) throw new IdTokenRejected('the ID token was issued in the future (iat)');

  const algorithms = acceptedAlgorithms(oidc.config.serverMetadata().id_token_signing_alg_values_supported);
  const keys = keySetOf(oidc);
  const loadedBefore = keys.jwks() !== undefined;
  try {
    await compactVerify(idToken, keys, { algorithms });
  } catch (err) {
    // The token came from the IdP itself: a key it has just rotated in is worth one refetch, even within the cool-down.
    if (err instanceof errors.JWKSNoMatchingKey && loadedBefore && keys.coolingDown) {
      await keys.reload().catch(() => undefined);
      try {
        await compactVerify(idToken, keys, { algorithms });
        return;
      } catch (again) {
        throw rejection(again);
      }
    }
    throw rejection(err);
  }
}

function rejection(err: unknown): IdTokenRejected {
  const unavailable = idpUnavailable(err);
  if (unavailable) return new IdTokenRejected(`the ID token could not be checked: ${unavailable}`, { cause: err });
  const why =
    err instanceof errors.JOSEAlgNotAllowed
      ? 'is signed with an algorithm microseg does not accept'
      : err instanceof errors.JWKSNoMatchingKey
        ? "names no key of the identity provider's JWKS"
        : err instanceof errors.JWKSMultipleMatchingKeys
          ? 'names no kid and the JWKS has several keys'
          : err instanceof errors.JWSSignatureVerificationFailed
            ? 'has an invalid signature'
            : err instanceof errors.JWKSInvalid || err instanceof errors.JWKSTimeout
              ? "could not be checked: the identity provider's JWKS is unusable"
              : `failed signature verification (${err instanceof Error ? err.message.slice(0, 120) : 'unknown error'})`;
  return new IdTokenRejected(`the ID token ${why}`, { cause: err });
}
