import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AuthFailureLimiter } from './auth-failures.ts';

function clock(start = 1_000_000) {
  const c = { now: start, advance: (ms: number) => (c.now += ms) };
  return c;
}

test('a burst of failures, then perMinute; each address has its own bucket', () => {
  const t = clock();
  const limiter = new AuthFailureLimiter({ burst: 3, perMinute: 6 }, () => t.now);
  for (let i = 0; i < 3; i++) {
    assert.equal(limiter.blockedForMs('10.0.0.1'), 0, `attempt ${i + 1}`);
    limiter.failed('10.0.0.1');
  }
  // 6 a minute: one every 10 s.
  assert.equal(limiter.blockedForMs('10.0.0.1'), 10_000);
  assert.equal(limiter.blockedForMs('10.0.0.2'), 0, 'another address is not limited');
  t.advance(4_000);
  assert.equal(limiter.blockedForMs('10.0.0.1'), 6_000);
  t.advance(6_000);
  assert.equal(limiter.blockedForMs('10.0.0.1'), 0, 'one more try after 10 s');
  limiter.failed('10.0.0.1');
  assert.equal(limiter.blockedForMs('10.0.0.1'), 10_000);
  t.advance(60_000);
  assert.equal(limiter.blockedForMs('10.0.0.1'), 0);
});

test('refusals are reported at the first one, then at most once a minute with the count', () => {
  const t = clock();
  const limiter = new AuthFailureLimiter({ burst: 1, perMinute: 1 }, () => t.now);
  limiter.failed('a');
  assert.equal(limiter.refused('a'), 1);
  assert.equal(limiter.refused('a'), undefined);
  assert.equal(limiter.refused('a'), undefined);
  t.advance(59_000);
  assert.equal(limiter.refused('a'), undefined);
  t.advance(1_000);
  assert.equal(limiter.refused('a'), 4);
});

test('memory is bounded: the addresses that failed longest ago are forgotten first', () => {
  const t = clock();
  const limiter = new AuthFailureLimiter({ burst: 1, perMinute: 1, maxClients: 2 }, () => t.now);
  limiter.failed('a');
  limiter.failed('b');
  limiter.failed('c');
  assert.equal(limiter.blockedForMs('a'), 0, 'forgotten');
  assert.ok(limiter.blockedForMs('b') > 0);
  assert.ok(limiter.blockedForMs('c') > 0);
});
