// Unit: the key set endpoint — the JWK Set of the gateway's keys for GET and HEAD, without a session or a
// decision, cacheable; any other method is refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AssertionKeySet, Assertions } from '../../assertion/index.ts';
import { settingsWith, testKey } from '../../assertion/testing.ts';
import { contextFor, FakeResponse, fakeDeps, fakeRequest } from '../testing/fakes.ts';
import { assertionKeys } from './assertion-keys.ts';

const PATH = '/.well-known/microseg/jwks.json';

function setup() {
  const keys = new AssertionKeySet();
  const key = testKey('k1');
  keys.update(settingsWith([{ key, activateAtMs: 0 }]));
  return { deps: fakeDeps({ assertions: new Assertions(keys) }), key };
}

test('GET: the JWK Set, as application/jwk-set+json, cacheable; nobody was asked', () => {
  const { deps, key } = setup();
  const res = new FakeResponse();
  assert.equal(assertionKeys(deps, contextFor(fakeRequest({ url: PATH }), res, { path: PATH })), true);
  assert.equal(res.statusCode, 200);
  assert.equal(res.getHeader('content-type'), 'application/jwk-set+json');
  assert.match(String(res.getHeader('cache-control')), /^public, max-age=\d+$/);
  assert.deepEqual(JSON.parse(res.body), { keys: [key.publicJwk] });
  assert.deepEqual(deps.authn.calls, []);
  assert.deepEqual(deps.policy.calls, []);
});

test('HEAD: the head alone; POST: 400, nothing published', () => {
  const { deps } = setup();
  const head = new FakeResponse();
  assertionKeys(deps, contextFor(fakeRequest({ url: PATH, method: 'HEAD' }), head, { path: PATH }));
  assert.equal(head.statusCode, 200);
  assert.equal(head.body, '');
  const post = new FakeResponse();
  assertionKeys(deps, contextFor(fakeRequest({ url: PATH, method: 'POST' }), post, { path: PATH }));
  assert.equal(post.statusCode, 400);
  assert.doesNotMatch(post.body, /"kty"/);
});
