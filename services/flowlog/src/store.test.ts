// Integration: flow aggregation and events on a real redis-server, private to this file.
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { FlowEventSchema, LogEventSchema } from '@microseg/proto/events';
import { startRedis, type RunningServer } from '@microseg/testkit';
import { FlowlogStore } from './store.ts';

const RETENTION_HOURS = 1;
const MINUTE = 60_000;
/** The start of a recent minute, so flows are inside the retention. */
const minuteStart = Math.floor((Date.now() - 10 * MINUTE) / MINUTE) * MINUTE;

let server: RunningServer;
let redis: Redis;
let store: FlowlogStore;

/** The fields these tests vary. */
type FlowOverrides = Partial<{ id: string; timeMs: bigint; namespace: string; uri: string; action: string; dropReason: string; user: string }>;

function flow(overrides: FlowOverrides = {}) {
  return create(FlowEventSchema, {
    id: randomUUID(),
    timeMs: BigInt(minuteStart + 5_000),
    namespace: '/acme/team-b',
    source: { type: 'Claims', id: 'alice', ip: '203.0.113.7' },
    destination: { type: 'ProcessingUnit', id: 'pu-1', name: 'app', port: 3000, namespace: '/acme/team-b' },
    serviceId: 'svc-1',
    uri: 'GET /',
    action: 'Accept',
    policyId: 'spec-1',
    policyName: 'api',
    user: 'alice@example.com',
    ...overrides,
  });
}

function logEvent(overrides: MessageInitShape<typeof LogEventSchema> = {}) {
  return create(LogEventSchema, { id: randomUUID(), timeMs: BigInt(Date.now()), level: 'Info', title: 'happened', namespace: '/acme', origin: 'authn', ...overrides });
}

const allFlows = () => store.flows({ limit: 100 });

before(async () => {
  server = await startRedis({ isolated: true, dataDir: await mkdtemp(join(tmpdir(), 'microseg-flowlog-store-')), defaultPort: 0 });
  redis = new Redis(server.url, { maxRetriesPerRequest: 1 });
  store = new FlowlogStore(redis, RETENTION_HOURS);
});

beforeEach(async () => {
  await redis.flushdb();
});

after(async () => {
  await redis?.quit();
  await server?.stop();
});

test('the same flow event recorded twice counts once', async () => {
  const event = flow();
  assert.equal(await store.recordFlow(event), true);
  assert.equal(await store.recordFlow(event), false, 'a redelivery is recognised');

  const flows = await allFlows();
  assert.equal(flows.length, 1);
  assert.equal(flows[0]!.count, 1);
});

test('two events of the same flow in the same minute aggregate', async () => {
  await store.recordFlow(flow({ timeMs: BigInt(minuteStart + 1_000) }));
  await store.recordFlow(flow({ timeMs: BigInt(minuteStart + 59_000) }));

  const flows = await allFlows();
  assert.equal(flows.length, 1);
  assert.deepEqual(
    { count: flows[0]!.count, firstSeen: flows[0]!.firstSeen, lastSeen: flows[0]!.lastSeen, minute: flows[0]!.minute },
    { count: 2, firstSeen: minuteStart + 1_000, lastSeen: minuteStart + 59_000, minute: minuteStart },
  );
  assert.deepEqual(
    { namespace: flows[0]!.namespace, URI: flows[0]!.URI, action: flows[0]!.action, policyID: flows[0]!.policyID, source: flows[0]!.source.type, user: flows[0]!.user },
    { namespace: '/acme/team-b', URI: 'GET /', action: 'Accept', policyID: 'spec-1', source: 'Claims', user: 'alice@example.com' },
  );
});

const separate: Array<{ name: string; second: FlowOverrides }> = [
  { name: 'the next minute', second: { timeMs: BigInt(minuteStart + MINUTE) } },
  { name: 'another action', second: { action: 'Reject', dropReason: 'scope-mismatch' } },
  { name: 'another URI', second: { uri: 'POST /' } },
  { name: 'another user', second: { user: 'bob@example.com' } },
];

for (const { name, second } of separate) {
  test(`flows differing by ${name} are separate aggregates`, async () => {
    await store.recordFlow(flow());
    await store.recordFlow(flow(second));

    const flows = await allFlows();
    assert.equal(flows.length, 2);
    assert.deepEqual(flows.map((f) => f.count), [1, 1]);
  });
}

test('flows are listed newest first', async () => {
  await store.recordFlow(flow({ uri: 'GET /old', timeMs: BigInt(minuteStart) }));
  await store.recordFlow(flow({ uri: 'GET /new', timeMs: BigInt(minuteStart + 3 * MINUTE) }));
  assert.deepEqual((await allFlows()).map((f) => f.URI), ['GET /new', 'GET /old']);
});

test('log events are stored once per id', async () => {
  const event = logEvent({ title: 'login failed', level: 'Warning' });
  assert.equal(await store.recordEvent(event), true);
  assert.equal(await store.recordEvent(event), false);
  assert.equal(await store.recordEvent(logEvent({ title: 'other' })), true);

  const events = await store.events({ limit: 100 });
  assert.deepEqual(events.map((e) => e.title).sort(), ['login failed', 'other']);
  assert.deepEqual(await store.events({ level: 'Warning', limit: 100 }).then((es) => es.map((e) => e.id)), [event.id]);
});

const namespaceFilters: Array<{ namespace?: string; recursive?: boolean; expected: string[] }> = [
  { expected: ['/', '/acme', '/acme/team-b', '/acme/team-b/dev', '/acme-other'] },
  { namespace: '/acme', recursive: false, expected: ['/acme'] },
  { namespace: '/acme', recursive: true, expected: ['/acme', '/acme/team-b', '/acme/team-b/dev'] },
  { namespace: '/acme/team-b', recursive: true, expected: ['/acme/team-b', '/acme/team-b/dev'] },
  { namespace: '/', recursive: false, expected: ['/'] },
  { namespace: '/', recursive: true, expected: ['/', '/acme', '/acme/team-b', '/acme/team-b/dev', '/acme-other'] },
  { namespace: '/nowhere', recursive: true, expected: [] },
];

for (const { namespace, recursive, expected } of namespaceFilters) {
  test(`flows filtered by namespace ${namespace ?? '(none)'}${recursive ? ' recursively' : ''}`, async () => {
    for (const ns of ['/', '/acme', '/acme/team-b', '/acme/team-b/dev', '/acme-other']) await store.recordFlow(flow({ namespace: ns }));

    const flows = await store.flows({ namespace, recursive, limit: 100 });
    assert.deepEqual(flows.map((f) => f.namespace).sort(), [...expected].sort());
  });
}

test('flows: limit bounds the answer', async () => {
  for (const uri of ['GET /a', 'GET /b', 'GET /c']) await store.recordFlow(flow({ uri }));
  assert.equal((await store.flows({ limit: 2 })).length, 2);
});

test('trim drops flows and events older than the retention', async () => {
  const old = Date.now() - (RETENTION_HOURS + 1) * 3_600_000;
  await store.recordFlow(flow({ uri: 'GET /old', timeMs: BigInt(old) }));
  await store.recordFlow(flow({ uri: 'GET /recent' }));
  await store.recordEvent(logEvent({ title: 'old', timeMs: BigInt(old) }));
  await store.recordEvent(logEvent({ title: 'recent' }));
  assert.equal((await allFlows()).length, 2, 'both are listed before the trim');
  assert.equal((await store.events({ limit: 100 })).length, 2);

  await store.trim();

  assert.deepEqual((await allFlows()).map((f) => f.URI), ['GET /recent']);
  assert.deepEqual((await store.events({ limit: 100 })).map((e) => e.title), ['recent']);
});
