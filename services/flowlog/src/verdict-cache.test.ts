// Unit: the few-seconds cache of the policy service's answers — kept for the TTL then asked again, one
// question in flight per key, failures not remembered, bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hashKey, VerdictCache } from './verdict-cache.ts';

test('an answer is kept for the TTL, then asked again; concurrent callers share one question', async () => {
  let now = 0;
  let asked = 0;
  const cache = new VerdictCache<number>(3_000, () => now);
  const load = async () => {
    asked++;
    await new Promise((r) => setImmediate(r));
    return asked;
  };
  assert.deepEqual(await Promise.all([cache.get('k', load), cache.get('k', load), cache.get('k', load)]), [1, 1, 1]);
  now = 2_999;
  assert.equal(await cache.get('k', load), 1);
  now = 3_001;
  assert.equal(await cache.get('k', load), 2);
  assert.equal(await cache.get('other', load), 3);
});

test('a failure is not remembered', async () => {
  const cache = new VerdictCache<string>(3_000);
  await assert.rejects(cache.get('k', () => Promise.reject(new Error('away'))));
  assert.equal(await cache.get('k', async () => 'back'), 'back');
});

test('keys are hashes: the text asked about is not kept', () => {
  assert.equal(hashKey('mst_secret').length, 43);
  assert.doesNotMatch(hashKey('mst_secret'), /secret/);
});
