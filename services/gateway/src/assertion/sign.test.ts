// Unit: an assertion as the gateway signs it — ES256 over the compact serialisation, verified with the public
// key alone; the header names only the algorithm, the type and the key; `aud` is the service's namespace and name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import { audienceOf, newJti, p1363OfDer, signAssertion } from './sign.ts';
import { testKey, verifiedBy } from './testing.ts';

test('a signed assertion verifies with the public key and carries the claims as given', () => {
  const key = testKey('k1');
  const claims = { iss: 'microseg', aud: '/acme/app', sub: 'alice', email: 'alice@example.com', tags: ['email=alice@example.com'], iat: 1, exp: 61, jti: 'j' };
  const token = signAssertion({ kid: 'k1', key: createPrivateKey(key.privateKeyPem) }, claims);
  const { header, claims: decoded } = verifiedBy(token, key);
  assert.deepEqual(header, { alg: 'ES256', typ: 'JWT', kid: 'k1' });
  assert.deepEqual(decoded, claims);
  // The signature is r || s (64 bytes), as JWS wants, not DER.
  assert.equal(Buffer.from(token.split('.')[2]!, 'base64url').length, 64);
  assert.throws(() => verifiedBy(token, testKey('k1')), /not signed/);
});

test('aud: the namespace and the name, so two services never share one; jti: 128 random bits each time', () => {
  assert.equal(audienceOf({ namespace: '/acme/team-b/dev/private-app', name: 'private-app' }), '/acme/team-b/dev/private-app/private-app');
  assert.equal(audienceOf({ namespace: '/', name: 'root-app' }), '/root-app');
  assert.notEqual(audienceOf({ namespace: '/acme', name: 'a' }), audienceOf({ namespace: '/acme/a', name: 'a' }));
  const jtis = new Set(Array.from({ length: 1000 }, newJti));
  assert.equal(jtis.size, 1000);
  assert.match([...jtis][0]!, /^[A-Za-z0-9_-]{22}$/);
});

test('DER to r || s: every signature converts to the form node:crypto verifies as ieee-p1363 (short and padded integers too)', () => {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const publicKey = createPublicKey(privateKey);
  let short = 0;
  for (let i = 0; i < 2_000; i++) {
    const data = Buffer.from(`message ${i}`);
    const der = sign('sha256', data, privateKey);
    // r or s below 2^248 is encoded in fewer than 32 bytes.
    if (der[3]! < 32 || der[der[3]! + 5]! < 32) short++;
    const raw = p1363OfDer(der);
    assert.equal(raw.length, 64);
    assert.ok(verify('sha256', data, { key: publicKey, dsaEncoding: 'ieee-p1363' }, raw), `signature ${i}`);
  }
  assert.ok(short > 0, 'some integers were short');
  assert.throws(() => p1363OfDer(Buffer.from([0x31, 0])), /not a P-256/);
});
