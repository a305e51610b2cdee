// One identity assertion: a compact JWS (RFC 7515) signed with ES256 (ECDSA P-256, SHA-256, the signature as
// r || s, RFC 7518 §3.4), made with node:crypto alone. The header names the key (`kid`) and nothing that
// would let a verifier fetch one (`jku`, `x5u`, `jwk`): applications take keys from the published set only.
import { randomBytes, sign } from 'node:crypto';
import type { SigningKey } from './key-set.ts';

export interface AssertionClaims {
  iss: string;
  /** The service: `<namespace>/<name>`. */
  aud: string;
  sub: string;
  email?: string;
  /** The user's tags, as rules see them (`email=alice@example.com`, `groups=admins`). */
  tags: readonly string[];
  iat: number;
  exp: number;
  jti: string;
}

/** `aud` of a service's assertions: its namespace and name, which no other service has. */
export const audienceOf = (route: { namespace: string; name: string }): string => `${route.namespace === '/' ? '' : route.namespace}/${route.name}`;

/** A unique id per assertion (128 random bits). */
export const newJti = (): string => randomBytes(16).toString('base64url');

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** The header of every assertion signed with `kid`, encoded once per key. */
const headers = new Map<string, string>();
function headerOf(kid: string): string {
  let header = headers.get(kid);
  if (!header) {
    if (headers.size > 16) headers.clear();
    header = b64({ alg: 'ES256', typ: 'JWT', kid });
    headers.set(kid, header);
  }
  return header;
}

export function signAssertion(key: SigningKey, claims: AssertionClaims): string {
  const input = `${headerOf(key.kid)}.${b64(claims)}`;
  // DER, then r || s by hand: asking node:crypto for `ieee-p1363` (an options object) costs twice the CPU.
  const signature = p1363OfDer(sign('sha256', Buffer.from(input), key.key));
  return `${input}.${signature.toString('base64url')}`;
}

/** An ECDSA P-256 signature `SEQUENCE { INTEGER r, INTEGER s }` (DER) as the 64 bytes r || s. */
export function p1363OfDer(der: Buffer): Buffer {
  // The sequence's length fits one byte for P-256 (at most 2 + 33 + 2 + 33).
  if (der[0] !== 0x30 || der[1]! & 0x80) throw new Error('not a P-256 ECDSA signature');
  const out = Buffer.alloc(64);
  let at = 2;
  for (const offset of [0, 32]) {
    if (der[at] !== 0x02) throw new Error('not a P-256 ECDSA signature');
    const length = der[at + 1]!;
    let value = der.subarray(at + 2, at + 2 + length);
    // A leading zero keeps a DER integer positive; shorter integers are left-padded.
    if (value.length > 32) value = value.subarray(value.length - 32);
    value.copy(out, offset + 32 - value.length);
    at += 2 + length;
  }
  return out;
}
