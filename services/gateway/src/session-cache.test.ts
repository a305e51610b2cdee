// The gateway's session cache: hits, one lookup per credential at a time,
// renewal ahead of expiry in the background, invalidation that wins over a
// lookup in flight. `load` stands for the NATS lookup to authn.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SessionCache, type CachedSession } from './session-cache.ts';

const alice: CachedSession = { sessionId: 's1', subject: 'alice@example.com', tags: ['email=alice@example.com'], expiresAtMs: Date.now() + 3_600_000 };

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

test('a cached session is answered without a lookup; concurrent misses share one lookup', async () => {
  const cache = new SessionCache();
  let loads = 0;
  const pending = deferred<{ value: CachedSession | undefined; until: number }>();
  const load = () => (loads++, pending.promise);
  const both = Promise.all([cache.get('cookie', load), cache.get('cookie', load)]);
  pending.resolve({ value: alice, until: Date.now() + 10_000 });
  assert.deepEqual(await both, [alice, alice]);
  assert.equal(loads, 1);
  assert.equal(await cache.get('cookie', load), alice);
  assert.equal(loads, 1, 'the third request was answered from the cache');
});

test('in the last quarter of its life an entry is still answered, and renewed once in the background', async () => {
  const cache = new SessionCache();
  const start = Date.now();
  await cache.get('cookie', async () => ({ value: alice, until: start + 10_000 }));
  let loads = 0;
  const renewal = deferred<{ value: CachedSession | undefined; until: number }>();
  const load = () => (loads++, renewal.promise);
  assert.equal(await cache.get('cookie', load, start + 5_000), alice);
  assert.equal(loads, 0, 'not yet: three quarters of its life are left');
  // Answered at once although the renewal has not answered.
  assert.equal(await cache.get('cookie', load, start + 8_000), alice);
  assert.equal(await cache.get('cookie', load, start + 8_100), alice);
  assert.equal(loads, 1, 'one renewal in flight');
  const renewed = { ...alice, tags: ['email=alice@example.com', 'groups=new'] };
  renewal.resolve({ value: renewed, until: Date.now() + 10_000 });
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(await cache.get('cookie', load, Date.now()), renewed, 'the renewal replaced the entry');
});

test('a failed renewal leaves the entry until its end; after the end the lookup is in line again', async () => {
  const cache = new SessionCache();
  const start = Date.now();
  await cache.get('cookie', async () => ({ value: alice, until: start + 1_000 }));
  assert.equal(await cache.get('cookie', () => Promise.reject(new Error('authn away')), start + 900), alice);
  await new Promise((r) => setImmediate(r));
  await assert.rejects(
    cache.get('cookie', () => Promise.reject(new Error('authn away')), start + 1_001),
    /authn away/,
    'expired: the failure reaches the request',
  );
});

test('an invalidation wins over a renewal that was in flight', async () => {
  const cache = new SessionCache();
  const start = Date.now();
  await cache.get('cookie', async () => ({ value: alice, until: start + 10_000 }));
  const renewal = deferred<{ value: CachedSession | undefined; until: number }>();
  assert.equal(await cache.get('cookie', () => renewal.promise, start + 9_000), alice);
  cache.invalidate('s1');
  renewal.resolve({ value: alice, until: Date.now() + 10_000 });
  await new Promise((r) => setImmediate(r));
  let looked = false;
  assert.equal(await cache.get('cookie', async () => ((looked = true), { value: undefined, until: Date.now() + 10_000 })), undefined);
  assert.ok(looked, 'the revoked session was looked up again, not answered from the cache');
});

test('a renewal that finds no session evicts the entry at once: the next request is looked up, not answered from the cache', async () => {
  const cache = new SessionCache();
  const start = Date.now();
  await cache.get('cookie', async () => ({ value: alice, until: start + 10_000 }));
  // Past three quarters of its life: answered, and renewed in the background; authn says the session is gone.
  assert.equal(await cache.get('cookie', async () => ({ value: undefined, until: 0 }), start + 8_000), alice);
  await new Promise((r) => setImmediate(r));
  let looked = 0;
  assert.equal(await cache.get('cookie', async () => (looked++, { value: undefined, until: 0 }), start + 8_100), undefined, 'not the stale session');
  assert.equal(looked, 1);
  assert.equal(cache.size, 0);
});

test('clear forgets every entry and the answer of a lookup that was in flight', async () => {
  const cache = new SessionCache();
  await cache.get('cookie', async () => ({ value: alice, until: Date.now() + 10_000 }));
  const pending = deferred<{ value: CachedSession | undefined; until: number }>();
  const inFlight = cache.get('other', () => pending.promise);
  cache.clear(Date.now() + 1);
  pending.resolve({ value: { ...alice, sessionId: 's2' }, until: Date.now() + 10_000 });
  await inFlight;
  assert.equal(cache.size, 0, 'neither the old entry nor the answer that was in flight is kept');
  let looked = false;
  await cache.get('cookie', async () => ((looked = true), { value: alice, until: Date.now() + 10_000 }));
  assert.ok(looked);
});
