// Compact JWS built by hand, so that a test can produce any token a hostile
// issuer might send: any header (alg `none`, HS256, a `jwk`, `jku` or `x5u`
// of its choosing), any payload text (duplicate members) and any signature.
import { createHmac, KeyObject, sign } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';

/** An RSA signing key with its public JWK (`kid` = RFC 7638 thumbprint, `alg` RS256, `use` sig). */
export interface RsaSigningKey {
  kid: string;
  privateKey: KeyObject;
  publicJwk: JWK;
  /** The public key as SPKI PEM: the "secret" of the classic RS256 → HS256 confusion. */
  publicPem: string;
}

export async function generateRsaSigningKey(): Promise<RsaSigningKey> {
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(jwk);
  const publicObject = KeyObject.from(publicKey);
  return {
    kid,
    privateKey: KeyObject.from(privateKey),
    publicJwk: { ...jwk, kid, alg: 'RS256', use: 'sig' },
    publicPem: publicObject.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

export function base64url(input: string | Buffer): string {
  return Buffer.from(input).toString('base64url');
}

/** How the signature part is made. */
export type JwsSignature =
  | { kind: 'rs256'; key: KeyObject }
  | { kind: 'hs256'; secret: string | Buffer }
  | { kind: 'none' }
  /** A valid RS256 signature with some of its bits flipped. */
  | { kind: 'corrupt-rs256'; key: KeyObject };

/**
 * `header.payload.signature` from the exact header and payload texts given
 * (so that duplicate members or odd spacing survive).
 */
export function compactJws(headerText: string, payloadText: string, signature: JwsSignature): string {
  const input = `${base64url(headerText)}.${base64url(payloadText)}`;
  const data = Buffer.from(input);
  let sig: Buffer;
  switch (signature.kind) {
    case 'none':
      sig = Buffer.alloc(0);
      break;
    case 'hs256':
      sig = createHmac('sha256', signature.secret).update(data).digest();
      break;
    case 'rs256':
      sig = sign('sha256', data, signature.key);
      break;
    case 'corrupt-rs256':
      sig = sign('sha256', data, signature.key);
      sig[sig.length - 1]! ^= 0xff;
      sig[0]! ^= 0x01;
      break;
  }
  return `${input}.${base64url(sig)}`;
}

/** `base` with `changes` applied: a member set to `null` is removed, any other value replaces it. */
export function withChanges(base: Record<string, unknown>, changes: Record<string, unknown> | undefined): Record<string, unknown> {
  const result: Record<string, unknown> = { ...base };
  for (const [name, value] of Object.entries(changes ?? {})) {
    if (value === null) delete result[name];
    else result[name] = value;
  }
  return result;
}
