// Unit: where flowlog's assertion keys come from — asked once and kept, asked again when old, when an unknown
// kid shows up (at most once per interval, whatever a forger sends), served from what it knew while policy is
// briefly away, an error when it never knew or knew too long ago; concurrent callers share one question.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { AssertionKeySource, type PublishedKeys } from './assertion-keys.ts';

const jwkOf = (kid: string) => {
  const jwk = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });
  return JSON.stringify({ ...jwk, kid, alg: 'ES256', use: 'sig' });
};
const a = jwkOf('a');
const b = jwkOf('b');

function setup(initial: PublishedKeys['keys']) {
  let now = 1_000_000;
  let published: PublishedKeys = { issuer: 'microseg', keys: initial };
  let down = false;
  let asked = 0;
  const source = new AssertionKeySource(
    async () => {
      asked++;
      await new Promise((r) => setImmediate(r));
      if (down) throw new Error('no responders');
      return published;
    },
    { maxAgeMs: 60_000, minRefreshMs: 5_000, now: () => now },
  );
  return {
    source,
    asked: () => asked,
    at: (ms: number) => (now += ms),
    publish: (keys: PublishedKeys['keys'], issuer = 'microseg') => (published = { issuer, keys }),
    down: (value: boolean) => (down = value),
  };
}

test('asked once, kept for maxAge, then asked again; concurrent callers share the question', async () => {
  const s = setup([{ kid: 'a', publicJwk: a, publishUntilMs: 0 }]);
  const [one, two] = await Promise.all([s.source.key('a'), s.source.key('a')]);
  assert.ok(one.key && two.key);
  assert.equal(one.issuer, 'microseg');
  assert.equal(s.asked(), 1);
  s.at(59_999);
  await s.source.key('a');
  assert.equal(s.asked(), 1);
  s.publish([{ kid: 'a', publicJwk: a, publishUntilMs: 0 }], 'https://sso.example.com');
  s.at(1);
  assert.equal((await s.source.key('a')).issuer, 'https://sso.example.com');
  assert.equal(s.asked(), 2);
});

test('an unknown kid asks again (a new key), but at most once per interval: random kids cost one question', async () => {
  const s = setup([{ kid: 'a', publicJwk: a, publishUntilMs: 0 }]);
  await s.source.key('a');
  s.at(5_000);
  s.publish([
    { kid: 'a', publicJwk: a, publishUntilMs: 0 },
    { kid: 'b', publicJwk: b, publishUntilMs: 0 },
  ]);
  assert.ok((await s.source.key('b')).key, 'the new key, fetched on sight');
  assert.equal(s.asked(), 2);
  for (let i = 0; i < 50; i++) assert.equal((await s.source.key(`forged-${i}`)).key, undefined);
  assert.equal(s.asked(), 2, 'within the interval: not asked again');
  s.at(5_000);
  await s.source.key('forged-x');
  assert.equal(s.asked(), 3);
});

test('a key withdrawn (immediate rotation) is gone at the next answer; one past its publication is not used', async () => {
  const s = setup([{ kid: 'a', publicJwk: a, publishUntilMs: 1_000_000 + 10_000 }]);
  assert.ok((await s.source.key('a')).key);
  s.at(10_000);
  assert.equal((await s.source.key('a')).key, undefined, 'past its publication');
  s.publish([{ kid: 'b', publicJwk: b, publishUntilMs: 0 }]);
  s.at(60_000);
  assert.equal((await s.source.key('a')).key, undefined);
  assert.ok((await s.source.key('b')).key);
});

test('policy away: what was known serves up to twice its age; never known, or known too long ago, is an error', async () => {
  const s = setup([{ kid: 'a', publicJwk: a, publishUntilMs: 0 }]);
  s.down(true);
  await assert.rejects(s.source.key('a'), /no responders/);
  s.down(false);
  await s.source.key('a');
  s.down(true);
  s.at(60_000);
  assert.ok((await s.source.key('a')).key, 'stale but recent: kept');
  s.at(60_000);
  await assert.rejects(s.source.key('a'), /no responders/);
});

test('only EC P-256 public keys are taken from the set, from their coordinates alone', async () => {
  const rsa = JSON.stringify(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' }));
  const s = setup([
    { kid: 'rsa', publicJwk: rsa, publishUntilMs: 0 },
    { kid: 'junk', publicJwk: '{"kty":"EC","crv":"P-256","x":1}', publishUntilMs: 0 },
    { kid: 'a', publicJwk: a, publishUntilMs: 0 },
  ]);
  assert.equal((await s.source.key('rsa')).key, undefined);
  assert.equal((await s.source.key('junk')).key, undefined);
  assert.equal((await s.source.key('a')).key?.asymmetricKeyType, 'ec');
});
