// Unit: what microseg says about the user besides the mapped claims — the assertion when there is a user, and
// for a service with passAccessToken an Authorization header that only microseg sets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AssertionKeySet, Assertions } from './index.ts';
import { identityHeaders } from './identity-headers.ts';
import { settingsWith, testKey, verifiedBy } from './testing.ts';

const key = testKey('k1');
const keys = new AssertionKeySet();
keys.update(settingsWith([{ key, activateAtMs: 0 }]));
const deps = { assertions: new Assertions(keys) };
const plainRoute = { id: 's', namespace: '/acme', name: 'app', passAccessToken: false };
const passing = { ...plainRoute, passAccessToken: true };
const alice = { subject: 'alice@example.com', tags: ['email=alice@example.com'], accessToken: 'at-1' };

test('a user: the assertion, nothing else on a service that does not pass the access token', () => {
  const headers = identityHeaders(deps, { route: plainRoute, session: alice })!;
  assert.deepEqual(Object.keys(headers), ['x-microseg-jwt-assertion']);
  assert.equal(verifiedBy(headers['x-microseg-jwt-assertion']!, key).claims.email, 'alice@example.com');
});

test('no user on a service that does not pass the access token: nothing at all (the client headers go as they are)', () => {
  assert.equal(identityHeaders(deps, { route: plainRoute, session: undefined }), undefined);
});

test("passAccessToken: the session's access token as Bearer; without a user or a token, the client's Authorization is only removed", () => {
  assert.equal(identityHeaders(deps, { route: passing, session: alice })!.authorization, 'Bearer at-1');
  for (const session of [undefined, { subject: 'bob', tags: [] }]) {
    const headers = identityHeaders(deps, { route: passing, session })!;
    assert.ok(Object.hasOwn(headers, 'authorization'));
    assert.equal(headers.authorization, undefined);
  }
});
