// Unit: the token verdict cache — short-lived, keyed by hash, shared by concurrent callers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bearerOf, TokenVerifier } from './auth.ts';
import { tokenViewer } from './viewer.ts';

const viewer = tokenViewer('ops', 'viewer', '/acme');

function fakePolicy(valid: Set<string>) {
  const asked: string[] = [];
  return {
    asked,
    ask: async (token: string) => {
      asked.push(token);
      await new Promise((r) => setImmediate(r));
      return valid.has(token) ? viewer : undefined;
    },
  };
}

test('a verdict is remembered for the TTL, then asked again: a revocation bites after at most the TTL', async () => {
  let now = 1_000;
  const valid = new Set(['tok-1']);
  const policy = fakePolicy(valid);
  const verifier = new TokenVerifier(policy.ask, 3_000, () => now);
  assert.deepEqual(await verifier.verify('tok-1'), viewer);
  valid.delete('tok-1');
  now += 2_999;
  assert.deepEqual(await verifier.verify('tok-1'), viewer, 'still within the TTL');
  now += 2;
  assert.equal(await verifier.verify('tok-1'), undefined, 'asked again after the TTL: revoked');
  assert.equal(policy.asked.length, 2);
});

test('concurrent checks of one token ask once; unknown tokens are remembered as unknown too', async () => {
  const policy = fakePolicy(new Set(['tok-1']));
  const verifier = new TokenVerifier(policy.ask, 3_000);
  const answers = await Promise.all([
    verifier.verify('tok-1'),
    verifier.verify('tok-1'),
    verifier.verify('tok-1'),
    verifier.verify('bad'),
    verifier.verify('bad'),
  ]);
  assert.deepEqual(answers, [viewer, viewer, viewer, undefined, undefined]);
  assert.deepEqual(policy.asked.sort(), ['bad', 'tok-1']);
});

test('a token of a shape no token has is refused without asking', async () => {
  const policy = fakePolicy(new Set());
  const verifier = new TokenVerifier(policy.ask, 3_000);
  for (const token of ['', 'a b', 'x'.repeat(513), 'tok\n']) assert.equal(await verifier.verify(token), undefined);
  assert.deepEqual(policy.asked, []);
});

test('when the policy service cannot answer, the failure is not remembered', async () => {
  let fail = true;
  const verifier = new TokenVerifier(async () => {
    if (fail) throw new Error('no responders');
    return viewer;
  }, 3_000);
  await assert.rejects(verifier.verify('tok-1'));
  fail = false;
  assert.deepEqual(await verifier.verify('tok-1'), viewer);
});

test('bearerOf reads the Authorization header', () => {
  assert.equal(bearerOf('Bearer abc'), 'abc');
  assert.equal(bearerOf('bearer  abc'), 'abc');
  assert.equal(bearerOf('Basic abc'), undefined);
  assert.equal(bearerOf(undefined), undefined);
  assert.equal(bearerOf('Bearer a b'), undefined);
});
