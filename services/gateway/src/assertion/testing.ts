// For tests: a ring of real ES256 keys as policy would send it, and a verifier of what the gateway signed.
import { createPublicKey, generateKeyPairSync, verify } from 'node:crypto';
import { create } from '@bufbuild/protobuf';
import { AssertionSettingsSchema, type AssertionSettings } from '@microseg/proto/policy';

export interface TestKey {
  kid: string;
  publicJwk: Record<string, string>;
  privateKeyPem: string;
}

export function testKey(kid: string): TestKey {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = publicKey.export({ format: 'jwk' }) as Record<string, string>;
  return {
    kid,
    publicJwk: { kty: 'EC', crv: 'P-256', x: jwk.x!, y: jwk.y!, kid, alg: 'ES256', use: 'sig' },
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

/** Settings as a sync reply carries them: each key with when it signs and until when it is published (0: open). */
export function settingsWith(
  keys: Array<{ key: TestKey; activateAtMs: number; publishUntilMs?: number; withoutPrivateHalf?: boolean }>,
  extra: { issuer?: string; ttlSeconds?: number } = {},
): AssertionSettings {
  return create(AssertionSettingsSchema, {
    issuer: 'microseg',
    ttlSeconds: 60,
    ...extra,
    keys: keys.map(({ key, activateAtMs, publishUntilMs, withoutPrivateHalf }) => ({
      kid: key.kid,
      publicJwk: JSON.stringify(key.publicJwk),
      privateKeyPem: withoutPrivateHalf ? '' : key.privateKeyPem,
      activateAtMs: BigInt(activateAtMs),
      publishUntilMs: BigInt(publishUntilMs ?? 0),
    })),
  });
}

/** The header and claims of a compact ES256 JWS whose signature `key` verifies; throws otherwise. */
export function verifiedBy(token: string, key: TestKey): { header: Record<string, unknown>; claims: Record<string, unknown> } {
  const [h, p, sig] = token.split('.') as [string, string, string];
  const ok = verify(
    'sha256',
    Buffer.from(`${h}.${p}`),
    { key: createPublicKey({ key: key.publicJwk, format: 'jwk' }), dsaEncoding: 'ieee-p1363' },
    Buffer.from(sig, 'base64url'),
  );
  if (!ok) throw new Error(`not signed by ${key.kid}`);
  return {
    header: JSON.parse(Buffer.from(h, 'base64url').toString()) as Record<string, unknown>,
    claims: JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>,
  };
}
