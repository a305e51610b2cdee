// Unit: flowlog's check of the identity assertion (SPEC §8.4, §9.6) with real ES256 keys — a valid one names
// the user; another service's (aud), an expired one, a forged signature, `alg: none`, HS256 keyed with the
// public key, a key carried in the header, another issuer, a missing claim are each refused with a reason; keys
// that cannot be had are an error, not a refusal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { SignJWT, UnsecuredJWT, type JWTPayload } from 'jose';
import { AssertionKeySource, type PublishedKeys } from './assertion-keys.ts';
import { AssertionVerifier } from './assertion.ts';

const AUD = '/microseg-console';
const NOW = Date.parse('2026-12-01T10:00:00Z');
const nowS = NOW / 1000;

function key(kid: string) {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = publicKey.export({ format: 'jwk' });
  return { kid, privateKey, publicJwk: JSON.stringify({ ...jwk, kid, alg: 'ES256', use: 'sig' }), jwk };
}
const k1 = key('k1');
const attacker = key('k1');

const claims = (extra: JWTPayload = {}): JWTPayload => ({
  iss: 'microseg',
  aud: AUD,
  sub: 'alice',
  email: 'alice@example.com',
  tags: ['sub=alice', 'email=alice@example.com', 'groups=admins'],
  iat: nowS - 10,
  exp: nowS + 50,
  jti: 'j-1',
  ...extra,
});

const sign = (payload: JWTPayload, signer: KeyObject = k1.privateKey, header: Record<string, unknown> = {}) =>
  new SignJWT(payload).setProtectedHeader({ alg: 'ES256', typ: 'JWT', kid: 'k1', ...header }).sign(signer);

function verifier(published: PublishedKeys = { issuer: 'microseg', keys: [{ kid: 'k1', publicJwk: k1.publicJwk, publishUntilMs: 0 }] }) {
  const keys = new AssertionKeySource(async () => published, { now: () => NOW });
  return new AssertionVerifier(keys, AUD, () => NOW);
}

test('a valid assertion names the user: subject, email, tags and until when', async () => {
  const result = await verifier().verify(await sign(claims()));
  assert.deepEqual(result, {
    ok: true,
    user: { subject: 'alice', email: 'alice@example.com', tags: ['sub=alice', 'email=alice@example.com', 'groups=admins'], expiresAtMs: (nowS + 50) * 1000 },
  });
});

test('refused, each with its reason: another service, expired, another issuer, missing claims, tags that are not tags', async () => {
  const v = verifier();
  const cases: Array<[string, JWTPayload, RegExp]> = [
    ['an assertion for another service (aud)', claims({ aud: '/acme/team-b/dev/private-app/private-app' }), /aud/],
    ['an audience list that holds the console', claims({ aud: [AUD, '/other'] }), /aud/],
    ['expired', claims({ iat: nowS - 120, exp: nowS - 60 }), /exp/],
    ['issued in the future', claims({ iat: nowS + 600, exp: nowS + 660 }), /iat/],
    ['too long a life', claims({ iat: nowS - 4000, exp: nowS + 60 }), /iat|age/i],
    ['another issuer', claims({ iss: 'https://evil.example' }), /iss/],
    ['no jti', { ...claims(), jti: undefined }, /jti/],
    ['no sub', { ...claims(), sub: undefined }, /sub/],
    ['tags not a list', claims({ tags: 'groups=admins' }), /tags/],
    ['a tag that is not a string', claims({ tags: ['a=b', 7] }), /tags/],
  ];
  for (const [name, payload, reason] of cases) {
    const result = await v.verify(await sign(payload));
    assert.equal(result.ok, false, name);
    assert.match((result as { reason: string }).reason, reason, name);
  }
});

test('forgeries: another key under a known kid, alg none, HS256 keyed with the public key, a key in the header, another typ', async () => {
  const v = verifier();
  const forged = [
    await sign(claims(), attacker.privateKey),
    new UnsecuredJWT(claims()).encode(),
    await new SignJWT(claims()).setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid: 'k1' }).sign(Buffer.from(k1.publicJwk)),
    await sign(claims(), attacker.privateKey, { jwk: { kty: 'EC', crv: 'P-256', x: attacker.jwk.x, y: attacker.jwk.y } }),
    await sign(claims(), attacker.privateKey, { kid: 'k-unknown', jku: 'https://evil.example/jwks.json' }),
    await sign(claims(), k1.privateKey, { typ: 'at+jwt' }),
    'not.a.jwt',
    '',
    `${(await sign(claims())).slice(0, -4)}AAAA`,
  ];
  for (const token of forged) assert.equal((await v.verify(token)).ok, false, token.slice(0, 40));
});

test('a key past its publication verifies nothing; unreadable keys in the set are skipped', async () => {
  const v = verifier({
    issuer: 'microseg',
    keys: [
      { kid: 'k1', publicJwk: k1.publicJwk, publishUntilMs: NOW - 1 },
      { kid: 'bad', publicJwk: '{not json', publishUntilMs: 0 },
    ],
  });
  assert.equal((await v.verify(await sign(claims()))).ok, false);
});

test('keys that cannot be had are an error the caller turns into 503, not a refusal', async () => {
  const keys = new AssertionKeySource(async () => Promise.reject(new Error('no responders')), { now: () => NOW });
  await assert.rejects(new AssertionVerifier(keys, AUD, () => NOW).verify(await sign(claims())), /no responders/);
});
