// Unit (fakes): policy serves every request subject the contracts give its queue group, each once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { queues, requests } from '@microseg/contracts';
import { SecretHealthReporter } from '../secret-health.ts';
import { SecretBox } from '../secrets.ts';
import { MemoryObjectStore } from '../testing/api-fakes.ts';
import { FakeBus } from '../testing/fake-bus.ts';
import { servePolicy } from './index.ts';

test("every subject of policy's queue group is served, and nothing else", () => {
  const bus = new FakeBus();
  const secrets = new SecretBox([Buffer.alloc(32, 1)]);
  servePolicy(bus, {
    store: new MemoryObjectStore(),
    tokens: { authenticate: () => undefined },
    secrets,
    secretHealth: new SecretHealthReporter(secrets, bus, () => undefined),
    assertionKeys: { forGateways: () => ({}), publicKeys: () => ({}) },
  });
  const expected = Object.values(requests)
    .filter((r) => r.queue === queues.policy)
    .map((r) => r.subject);
  assert.ok(expected.length >= 6);
  assert.deepEqual([...bus.served].sort(), [...expected].sort());
});
