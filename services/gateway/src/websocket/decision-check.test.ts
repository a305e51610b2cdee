import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Decision } from '@microseg/proto/policy';
import { DecisionCache } from '../decision-cache.ts';
import { fakePolicy, unavailableError, verdict } from '../pipeline/testing/fakes.ts';
import { decisionCheck } from './decision-check.ts';

const question = { serviceId: 'svc-1', method: 'GET', path: '/ws', authenticated: true, tags: ['email=alice@example.com'], clientIp: '203.0.113.7' };
const key = DecisionCache.key(question);
const cache = () => new DecisionCache({ capacity: 10, graceMs: 30_000, maxAgeMs: 60_000 });

test('without a change: a decision the cache holds is used; a miss asks policy and keeps the answer', async () => {
  const decisions = cache();
  decisions.remember(key, verdict(Decision.DENY));
  const policy = fakePolicy();
  assert.equal(await decisionCheck({ policy, decisions })(question, key, undefined), 'deny');
  assert.equal(policy.calls.length, 0);

  const empty = cache();
  const asking = fakePolicy({ decide: async () => verdict(Decision.ALLOW) });
  assert.equal(await decisionCheck({ policy: asking, decisions: empty })(question, key, undefined), 'allow');
  assert.equal(asking.calls.length, 1);
  assert.equal(empty.get(key)?.decision, Decision.ALLOW);
});

test('after a change: policy is asked even with a cached decision, again while its answer is older than the change, then "unknown"', async () => {
  const decisions = cache();
  decisions.remember(key, verdict(Decision.ALLOW, { revision: 4n }));
  const answers = [verdict(Decision.ALLOW, { revision: 4n }), verdict(Decision.DENY, { revision: 5n })];
  const policy = fakePolicy({ decide: async () => answers.shift()! });
  assert.equal(await decisionCheck({ policy, decisions }, { attempts: 5, retryMs: 1 })(question, key, 5n), 'deny');
  assert.equal(policy.calls.length, 2, 'the lagging replica, then the one that applied the change');

  const lagging = fakePolicy({ decide: async () => verdict(Decision.ALLOW, { revision: 4n }) });
  assert.equal(await decisionCheck({ policy: lagging, decisions: cache() }, { attempts: 3, retryMs: 1 })(question, key, 5n), 'unknown');
  assert.equal(lagging.calls.length, 3);
});

test('policy away: the last good decision within the grace period, except after a change; an error answer is "unknown"', async () => {
  const decisions = cache();
  decisions.remember(key, verdict(Decision.ALLOW));
  const away = fakePolicy({ decide: () => Promise.reject(unavailableError('policy')) });
  // Not in the cache's fresh answers (asked for a change, 0n), yet its fallback within the grace period.
  const stale = new DecisionCache({ capacity: 10, graceMs: 30_000, maxAgeMs: 0 });
  stale.remember(key, verdict(Decision.ALLOW));
  assert.equal(await decisionCheck({ policy: away, decisions: stale })(question, key, undefined), 'allow');
  assert.equal(await decisionCheck({ policy: away, decisions })(question, key, 0n), 'unknown', 'a change is pending: nothing to fall back on');
  const refused = fakePolicy({ decide: () => Promise.reject(unavailableError('policy', true)) });
  assert.equal(await decisionCheck({ policy: refused, decisions: stale })(question, key, undefined), 'unknown');
  const broken = fakePolicy({ decide: () => Promise.reject(new Error('a bug')) });
  await assert.rejects(decisionCheck({ policy: broken, decisions: cache() })(question, key, undefined), /a bug/);
});
