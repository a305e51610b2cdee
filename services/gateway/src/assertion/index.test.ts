// Unit: the assertion for a request — its claims, kept per session lookup and reused until shortly before it
// expires, signed again when another key signs, when the settings change, for another service or another
// lookup (a refresh, new tags); none without a session or a key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Session } from '../pipeline/context.ts';
import { AssertionKeySet, Assertions, assertionFor } from './index.ts';
import { settingsWith, testKey, verifiedBy } from './testing.ts';

const T0 = 1_800_000_000_000;
const a = testKey('key-a');
const b = testKey('key-b');
const app = { id: 'svc-1', namespace: '/acme/team-b', name: 'app' };
const other = { id: 'svc-2', namespace: '/acme/team-b', name: 'other' };
const alice = (): Session => ({ subject: 'alice@example.com', tags: ['sub=u-123', 'email=alice@example.com', 'groups=admins'] });

function setup(ttlSeconds = 60) {
  let now = T0;
  const keys = new AssertionKeySet();
  keys.update(
    settingsWith(
      [
        { key: a, activateAtMs: T0, publishUntilMs: T0 + 100_000 + 120_000 },
        { key: b, activateAtMs: T0 + 100_000 },
      ],
      { ttlSeconds },
    ),
  );
  const assertions = new Assertions(keys, () => now);
  return { assertions, keys, at: (ms: number) => (now = ms) };
}

test('the claims: iss, aud = the service, sub from the sub claim, email, the tags, iat, exp = iat + ttl, a jti', () => {
  const { assertions } = setup();
  const token = assertions.for(app, alice())!;
  const { header, claims } = verifiedBy(token, a);
  assert.equal(header.kid, 'key-a');
  assert.deepEqual(
    { ...claims, jti: typeof claims.jti },
    {
      iss: 'microseg',
      aud: '/acme/team-b/app',
      sub: 'u-123',
      email: 'alice@example.com',
      tags: ['sub=u-123', 'email=alice@example.com', 'groups=admins'],
      iat: T0 / 1000,
      exp: T0 / 1000 + 60,
      jti: 'string',
    },
  );
  // No email claim: none in the assertion; no sub tag: the session's subject.
  const { claims: bare } = verifiedBy(assertions.for(app, { subject: 'svc-account', tags: [] })!, a);
  assert.equal(bare.sub, 'svc-account');
  assert.equal('email' in bare, false);
});

test('reused for the same session lookup and service until 15 s before it expires; then a new one with a new jti', () => {
  const { assertions, at } = setup();
  const session = alice();
  const first = assertions.for(app, session);
  at(T0 + 44_999);
  assert.equal(assertions.for(app, session), first);
  at(T0 + 45_000);
  const second = assertions.for(app, session)!;
  assert.notEqual(second, first);
  assert.notEqual(verifiedBy(second, a).claims.jti, verifiedBy(first!, a).claims.jti);
});

test('a short lifetime keeps half of it for the application', () => {
  const { assertions, at } = setup(10);
  const session = alice();
  const first = assertions.for(app, session);
  at(T0 + 4_999);
  assert.equal(assertions.for(app, session), first);
  at(T0 + 5_000);
  assert.notEqual(assertions.for(app, session), first);
});

test('signed again: for another service (aud), for another lookup of the session, and once the next key signs', () => {
  const { assertions, keys, at } = setup();
  const session = alice();
  const forApp = assertions.for(app, session)!;
  const forOther = assertions.for(other, session)!;
  assert.equal(verifiedBy(forOther, a).claims.aud, '/acme/team-b/other');
  assert.notEqual(assertions.for(app, session), forApp, 'the cache holds one service per lookup: app is signed again');
  assert.notEqual(assertions.for(app, alice()), assertions.for(app, alice()), 'each lookup object has its own');
  at(T0 + 100_000);
  const rotated = assertions.for(app, session)!;
  assert.equal(verifiedBy(rotated, b).header.kid, 'key-b');
  // New settings (another issuer): signed again at once.
  const before = assertions.for(app, session);
  keys.update(settingsWith([{ key: b, activateAtMs: T0 }], { issuer: 'https://sso.example.com' }));
  const after = assertions.for(app, session)!;
  assert.notEqual(after, before);
  assert.equal(verifiedBy(after, b).claims.iss, 'https://sso.example.com');
});

test('none without a session, without a route, or without a key that signs', () => {
  const { assertions } = setup();
  assert.equal(assertions.for(app, undefined), undefined);
  assert.equal(assertionFor({ assertions }, { route: undefined, session: alice() }), undefined);
  assert.ok(assertionFor({ assertions }, { route: app, session: alice() }));
  assert.equal(new Assertions(new AssertionKeySet()).for(app, alice()), undefined);
});

test('cost: a cached assertion is a lookup; a new one is one ES256 signature (printed for the record)', () => {
  const { assertions } = setup();
  const session = alice();
  assertions.for(app, session);
  const n = 2_000;
  // CPU time, not wall time: the machine may be busy with other work.
  const cpuUs = (run: () => void) => {
    const before = process.cpuUsage();
    for (let i = 0; i < n; i++) run();
    const used = process.cpuUsage(before);
    return (used.user + used.system) / n;
  };
  const hitUs = cpuUs(() => assertions.for(app, session));
  const signUs = cpuUs(() => assertions.for(app, alice()));
  console.log(`assertion: cached ${hitUs.toFixed(2)} µs, signed ${signUs.toFixed(1)} µs of CPU per request`);
  assert.ok(hitUs < signUs);
});
