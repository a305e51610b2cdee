// Unit (fake IdP, mocked clock): one remote key set per service and JWKS URI, fetched through the service's
// guarded fetch; kept for 10 minutes; a token naming an unknown key refetches at most once per 30 s; concurrent
// first uses share one fetch; a failed fetch is not cached.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { compactVerify, errors } from 'jose';
import { keySetOf } from './jwks.ts';
import { FakeIdp, sign, signingKey } from './testing/fake-idp.ts';

const claims = () => ({ iss: 'https://idp.example.com', sub: 'alice', iat: Math.floor(Date.now() / 1000) });

/** Whether the key set verifies a token signed by `key`. */
async function verifies(set: ReturnType<typeof keySetOf>, token: string): Promise<boolean> {
  try {
    await compactVerify(token, set, { algorithms: ['RS256'] });
    return true;
  } catch (err) {
    if (err instanceof errors.JWKSNoMatchingKey) return false;
    throw err;
  }
}

/** Date under the test's control (timers stay real: jose's fetch timeout is not faked). */
const mockClock = (t: TestContext) => t.mock.timers.enable({ apis: ['Date'], now: Date.now() });

test('an IdP that publishes no jwks_uri: refused, nothing fetched', async () => {
  const idp = new FakeIdp([await signingKey()], { jwks_uri: undefined });
  assert.throws(() => keySetOf(idp.client()), { message: 'the identity provider publishes no jwks_uri' });
  assert.deepEqual(idp.fetched, []);
});

test("one key set per service and JWKS URI: reused for the service, never shared with another service's", async () => {
  const idp = new FakeIdp([await signingKey()]);
  const oidc = idp.client();
  const set = keySetOf(oidc);
  assert.equal(keySetOf({ ...oidc }), set, 'the same service and URI');
  assert.notEqual(keySetOf(idp.client()), set, 'another service of the same IdP has its own');
  const moved = new FakeIdp(idp.published, { jwks_uri: 'https://idp.example.com/other-jwks' }).client({ serviceId: oidc.settings.serviceId });
  assert.notEqual(keySetOf(moved), set, 'a new JWKS URI gets a new set');
});

test("the keys are fetched through the service's own fetch (the network-policy guard), once, then kept", async () => {
  const key = await signingKey();
  const idp = new FakeIdp([key]);
  const set = keySetOf(idp.client());
  const token = await sign(key, claims());
  assert.equal(await verifies(set, token), true);
  assert.equal(await verifies(set, token), true);
  assert.deepEqual(idp.fetched, ['https://idp.example.com/jwks']);
});

test('first uses at the same time share one fetch', async () => {
  const key = await signingKey();
  const idp = new FakeIdp([key]);
  const set = keySetOf(idp.client());
  const token = await sign(key, claims());
  assert.deepEqual(await Promise.all([verifies(set, token), verifies(set, token), verifies(set, token)]), [true, true, true]);
  assert.equal(idp.jwksFetches(), 1);
});

test('a token naming an unknown key: no refetch within 30 s of the last one, one refetch after (key rotation)', async (t) => {
  mockClock(t);
  const old = await signingKey();
  const rotated = await signingKey();
  const idp = new FakeIdp([old]);
  const set = keySetOf(idp.client());
  assert.equal(await verifies(set, await sign(old, claims())), true);
  idp.published = [rotated, old];
  const fresh = await sign(rotated, claims());

  t.mock.timers.tick(29_000);
  assert.equal(await verifies(set, fresh), false, 'within the cool-down the set is not fetched again');
  assert.equal(await verifies(set, await sign(await signingKey(), claims())), false);
  assert.equal(idp.jwksFetches(), 1, 'a flood of unknown kids costs no fetch');

  t.mock.timers.tick(1_001);
  assert.equal(await verifies(set, fresh), true, 'after it, the rotated key is fetched');
  assert.equal(idp.jwksFetches(), 2);
  assert.equal(await verifies(set, await sign(await signingKey(), claims())), false);
  assert.equal(idp.jwksFetches(), 2, 'and the cool-down starts again');
});

test('the keys are kept 10 minutes: then the next use fetches them again, and a removed key stops verifying', async (t) => {
  mockClock(t);
  const key = await signingKey();
  const idp = new FakeIdp([key]);
  const set = keySetOf(idp.client());
  const token = await sign(key, claims());
  assert.equal(await verifies(set, token), true);
  t.mock.timers.tick(599_000);
  assert.equal(await verifies(set, token), true);
  assert.equal(idp.jwksFetches(), 1);
  idp.published = [await signingKey()];
  t.mock.timers.tick(1_001);
  assert.equal(await verifies(set, token), false, 'the key the IdP withdrew is gone');
  assert.equal(idp.jwksFetches(), 2);
});

test('a failed JWKS fetch fails the check and is not remembered: the next use fetches again', async () => {
  const key = await signingKey();
  const idp = new FakeIdp([key]);
  const set = keySetOf(idp.client());
  const token = await sign(key, claims());
  idp.jwksStatus = 500;
  await assert.rejects(compactVerify(token, set), /Expected 200 OK/);
  idp.jwksStatus = 200;
  assert.equal(await verifies(set, token), true);
  assert.equal(idp.jwksFetches(), 2);
});
