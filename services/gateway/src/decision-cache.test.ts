import { test } from 'node:test';
import assert from 'node:assert/strict';
import { create } from '@bufbuild/protobuf';
import { Decision, DecideResponseSchema } from '@microseg/proto/policy';
import { DecisionCache } from './decision-cache.ts';

const allow = create(DecideResponseSchema, { decision: Decision.ALLOW, reason: 'scope' });
const key = DecisionCache.key({ serviceId: 's', method: 'GET', path: '/', authenticated: true, tags: ['b=2', 'a=1'], clientIp: '127.0.0.1' });

test('the key ignores tag order and distinguishes everything else', () => {
  assert.equal(key, DecisionCache.key({ serviceId: 's', method: 'GET', path: '/', authenticated: true, tags: ['a=1', 'b=2'], clientIp: '127.0.0.1' }));
  for (const other of [
    { serviceId: 't', method: 'GET', path: '/', authenticated: true, tags: ['a=1', 'b=2'], clientIp: '127.0.0.1' },
    { serviceId: 's', method: 'HEAD', path: '/', authenticated: true, tags: ['a=1', 'b=2'], clientIp: '127.0.0.1' },
    { serviceId: 's', method: 'GET', path: '/x', authenticated: true, tags: ['a=1', 'b=2'], clientIp: '127.0.0.1' },
    { serviceId: 's', method: 'GET', path: '/', authenticated: false, tags: ['a=1', 'b=2'], clientIp: '127.0.0.1' },
    { serviceId: 's', method: 'GET', path: '/', authenticated: true, tags: ['a=1'], clientIp: '127.0.0.1' },
    { serviceId: 's', method: 'GET', path: '/', authenticated: true, tags: ['a=1', 'b=2'], clientIp: '10.0.0.1' },
  ])
    assert.notEqual(DecisionCache.key(other), key);
});

test('the last good decision stands within the grace period after the last contact, then not', () => {
  const cache = new DecisionCache({ capacity: 10, graceMs: 1_000 });
  cache.remember(key, allow, 10_000);
  assert.equal(cache.fallback(key, 10_500), allow);
  assert.equal(cache.fallback(key, 11_000), allow);
  assert.equal(cache.fallback(key, 11_001), undefined, 'fails closed after the grace period');
  assert.equal(cache.fallback('other', 10_500), undefined, 'never a decision for another request');
});

test('a grace period of 0 fails closed at once', () => {
  const cache = new DecisionCache({ capacity: 10, graceMs: 0 });
  cache.remember(key, allow, 10_000);
  assert.equal(cache.fallback(key, 10_001), undefined);
});

test('clear forgets every decision (objects changed)', () => {
  const cache = new DecisionCache({ capacity: 10, graceMs: 1_000 });
  cache.remember(key, allow, 10_000);
  cache.clear();
  assert.equal(cache.fallback(key, 10_001), undefined);
});

test('bounded: the least recently decided entry goes first', () => {
  const cache = new DecisionCache({ capacity: 2, graceMs: 1_000 });
  cache.remember('a', allow, 1);
  cache.remember('b', allow, 2);
  cache.remember('a', allow, 3);
  cache.remember('c', allow, 4);
  assert.equal(cache.size, 2);
  assert.equal(cache.fallback('b', 5), undefined);
  assert.equal(cache.fallback('a', 5), allow);
  assert.equal(cache.fallback('c', 5), allow);
});

test('a known decision is used without asking, until objects change, it ages out, or the policy service is not heard from', () => {
  const cache = new DecisionCache({ capacity: 10, graceMs: 1_000, maxAgeMs: 5_000 });
  cache.remember(key, allow, 10_000);
  assert.equal(cache.get(key, 10_500), allow);
  assert.equal(cache.get(key, 11_001), undefined, 'not heard from for the grace period: ask again');
  cache.remember(key, allow, 12_000);
  cache.remember('other', allow, 16_900);
  assert.equal(cache.get(key, 17_001), undefined, 'older than maxAge');
  assert.equal(cache.get('other', 17_001), allow);
  cache.clear(17_500);
  assert.equal(cache.get('other', 17_600), undefined, 'cleared when objects change');
});

test('an answer asked for before the last change is not kept', () => {
  const cache = new DecisionCache({ capacity: 10, graceMs: 1_000 });
  cache.clear(10_000);
  cache.remember(key, allow, 10_050, 9_990);
  assert.equal(cache.get(key, 10_060), undefined);
  cache.remember(key, allow, 10_070, 10_001);
  assert.equal(cache.get(key, 10_080), allow);
});

test('a decision past half its age, or half the grace period without contact, is renewed in the background, one question per key', () => {
  const cache = new DecisionCache({ capacity: 10, graceMs: 30_000, maxAgeMs: 60_000 });
  cache.remember(key, allow, 100_000);
  assert.equal(cache.shouldRefresh(key, 110_000), false, 'young, and policy heard from recently');
  assert.equal(cache.get(key, 116_000), allow, 'still answered from the cache');
  assert.equal(cache.shouldRefresh(key, 116_000), true, 'no contact for more than half the grace period');
  assert.equal(cache.shouldRefresh(key, 116_001), false, 'already asked');
  cache.remember(key, allow, 116_050, 116_000);
  cache.refreshed(key);
  assert.equal(cache.shouldRefresh(key, 117_000), false, 'renewed');
  assert.equal(cache.shouldRefresh('unknown', 117_000), false, 'nothing to renew');
  // Past half the age of the entry itself (other keys keep the contact fresh).
  const other = DecisionCache.key({ serviceId: 's', method: 'GET', path: '/other', authenticated: true, tags: [], clientIp: '127.0.0.1' });
  cache.remember(other, allow, 150_000);
  assert.equal(cache.shouldRefresh(key, 150_000), true, 'older than half of 60 s');
});

const at = (revision: bigint) => create(DecideResponseSchema, { decision: Decision.ALLOW, reason: 'scope', revision });

test('the race: asked at revision 10, the change to 11 announced, the answer for 10 arrives: used, not kept', () => {
  const cache = new DecisionCache({ capacity: 10, graceMs: 1_000 });
  cache.observeRevision(10n);
  // The question leaves at 10_000; the broadcast of revision 11 arrives (it clears, and says 11) …
  cache.clear(10_010);
  cache.observeRevision(11n);
  // … then the answer, made from revision 10.
  cache.remember(key, at(10n), 10_020, 10_000);
  assert.equal(cache.get(key, 10_030), undefined, 'not kept');
  cache.remember(key, at(11n), 10_040, 10_035);
  assert.equal(cache.get(key, 10_050)?.revision, 11n, 'the answer made from revision 11 is kept');
});

test('an answer from a policy replica that has not applied the announced change yet is not kept, even asked after it', () => {
  const cache = new DecisionCache({ capacity: 10, graceMs: 1_000 });
  cache.clear(10_000);
  cache.observeRevision(11n);
  // Asked after the broadcast (the time check lets it through); answered by a replica still at 10.
  cache.remember(key, at(10n), 10_060, 10_050);
  assert.equal(cache.get(key, 10_070), undefined);
});

test('the newest revision told wins: broadcasts, sync replies and decisions; an older one never lowers it', () => {
  const cache = new DecisionCache({ capacity: 10, graceMs: 1_000 });
  cache.observeRevision(5n);
  cache.remember(key, at(7n), 1_000);
  assert.equal(cache.revision, 7n, 'a decision tells of a newer revision');
  cache.observeRevision(6n);
  assert.equal(cache.revision, 7n);
  assert.equal(cache.get(key, 1_001)?.revision, 7n);
  cache.remember('other', at(6n), 1_002);
  assert.equal(cache.get('other', 1_003), undefined, 'older than revision 7: not kept');
});
