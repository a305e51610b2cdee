// Unit (fakes): authn serves every request subject the contracts give its queue group, each once, and only
// once Redis has been reached.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';
import type { Bus } from '@microseg/bus';
import { queues, requests, type RequestContract } from '@microseg/contracts';
import { onceRedisReady, serveAuthn, type AuthnHandlerDeps } from './handlers.ts';

test("every subject of authn's queue group is served, and nothing else", () => {
  const served: string[] = [];
  const bus: Pick<Bus, 'serve'> = { serve: (contract: RequestContract) => void served.push(contract.subject) };
  serveAuthn(bus, {} as AuthnHandlerDeps);
  const expected = Object.values(requests)
    .filter((r) => r.queue === queues.authn)
    .map((r) => r.subject);
  assert.ok(expected.length >= 8);
  assert.deepEqual([...served].sort(), [...expected].sort());
});

/** A Redis client as far as readiness goes: a status, and 'ready' when it connects. */
function fakeRedis(status: string) {
  const redis = Object.assign(new EventEmitter(), { status });
  return { redis: redis as unknown as Pick<Redis, 'status' | 'once' | 'off'>, connect: () => ((redis.status = 'ready'), redis.emit('ready')) };
}

test('work that needs Redis runs once it is reached: at once when it is, at the first ready otherwise, never after a cancel', () => {
  const ready = fakeRedis('ready');
  let runs = 0;
  onceRedisReady(ready.redis, () => runs++);
  assert.equal(runs, 1, 'Redis already reached');

  const later = fakeRedis('connecting');
  runs = 0;
  onceRedisReady(later.redis, () => runs++);
  assert.equal(runs, 0, 'not before Redis is reached');
  later.connect();
  later.connect();
  assert.equal(runs, 1, 'once, not at every reconnect');

  const cancelled = fakeRedis('connecting');
  runs = 0;
  onceRedisReady(cancelled.redis, () => runs++)();
  cancelled.connect();
  assert.equal(runs, 0, 'closed before Redis was reached');
});
