// Integration: the field filters (filters.ts) applied by the store on a real redis-server — with the
// namespace selection (a filter only narrows it) and across cursor pages.
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { create } from '@bufbuild/protobuf';
import { FlowEventSchema, LogEventSchema } from '@microseg/proto/events';
import { startRedis, type RunningServer } from '@microseg/testkit';
import { eventFields, flowFields, parseFilter, type FieldFilter, type FieldTable } from './filters.ts';
import { FlowlogStore, type Cursor } from './store.ts';

const MINUTE = 60_000;
const minuteStart = Math.floor((Date.now() - 10 * MINUTE) / MINUTE) * MINUTE;

let server: RunningServer;
let redis: Redis;
let store: FlowlogStore;

const parsed = <T>(fields: FieldTable<T>, ...texts: string[]) => texts.map((t) => parseFilter(t, fields) as FieldFilter);

before(async () => {
  server = await startRedis({ isolated: true, dataDir: await mkdtemp(join(tmpdir(), 'microseg-flowlog-filters-')), defaultPort: 0 });
  redis = new Redis(server.url, { maxRetriesPerRequest: 1 });
  store = new FlowlogStore(redis, 1);
});

beforeEach(async () => {
  await redis.flushdb();
});

after(async () => {
  await redis?.quit();
  await server?.stop();
});

function flow(namespace: string, user: string, unit: string, minute: number) {
  return create(FlowEventSchema, {
    id: randomUUID(),
    timeMs: BigInt(minuteStart + minute * MINUTE + 1_000),
    namespace,
    source: { type: 'Claims', id: user, name: user, ip: '203.0.113.7' },
    destination: { type: 'ProcessingUnit', id: unit, name: unit, port: 3000, namespace },
    serviceId: 'svc-1',
    uri: 'GET /',
    action: user.startsWith('bob') ? 'Reject' : 'Accept',
    dropReason: user.startsWith('bob') ? 'api' : '',
    user,
  });
}

test('flows: filters keep and drop by field, inside the namespace selection only', async () => {
  for (const [ns, user, unit] of [
    ['/acme/team-b', 'alice@example.com', 'web'],
    ['/acme/team-b', 'bob@example.com', 'web'],
    ['/acme/team-b', 'alice@example.com', 'api'],
    ['/acme/team-c', 'alice@example.com', 'web'],
  ] as const)
    await store.recordFlow(flow(ns, user, unit, 0));
  const read = async (namespace: string, ...texts: string[]) =>
    (await store.flows({ namespace, recursive: true, limit: 100, filters: parsed(flowFields, ...texts) })).items.map(
      (f) => `${f.namespace} ${f.user} ${f.destination.name}`,
    );
  assert.deepEqual((await read('/acme/team-b', 'processingUnit=web')).sort(), ['/acme/team-b alice@example.com web', '/acme/team-b bob@example.com web']);
  assert.deepEqual(await read('/acme/team-b', 'processingUnit=web', 'user!=bob@example.com'), ['/acme/team-b alice@example.com web']);
  assert.deepEqual(await read('/acme/team-b', 'dropReason=api'), ['/acme/team-b bob@example.com web']);
  assert.deepEqual(await read('/acme/team-b', 'namespace=/acme/team-c'), [], 'a filter naming another namespace does not reach outside the selection');
  assert.deepEqual(await read('/acme/team-b', 'namespace!=/acme/team-b'), [], 'an exclusion does not widen it either');
});

test('flows: a filter holds across cursor pages, every matching aggregate once', async () => {
  for (let m = 0; m < 6; m++)
    for (const user of ['alice@example.com', 'bob@example.com', 'carol@example.com']) await store.recordFlow(flow('/acme', user, 'web', m));
  const seen: string[] = [];
  let cursor: Cursor | undefined;
  do {
    const page = await store.flows({ limit: 4, cursor, filters: parsed(flowFields, 'user!=bob@example.com') });
    seen.push(...page.items.map((f) => `${f.minute} ${f.user}`));
    cursor = page.next;
  } while (cursor);
  assert.equal(seen.length, 12);
  assert.equal(new Set(seen).size, 12);
  assert.ok(seen.every((s) => !s.includes('bob')));
});

test("events: a processing unit's events by target ID; level and namespace filters combine", async () => {
  const now = Date.now();
  const event = (title: string, targetId: string, level: string, namespace: string, ago: number) =>
    create(LogEventSchema, {
      id: randomUUID(),
      timeMs: BigInt(now - ago),
      level,
      title,
      targetIdentity: 'processingunit',
      targetId,
      namespace,
      origin: 'policy',
    });
  await store.recordEvent(event('registered web', 'pu-web', 'Info', '/acme/team-b', 3_000));
  await store.recordEvent(event('registered api', 'pu-api', 'Info', '/acme/team-b', 2_000));
  await store.recordEvent(event('web again', 'pu-web', 'Warning', '/acme/team-b', 1_000));
  await store.recordEvent(event('elsewhere', 'pu-web', 'Info', '/acme/team-c', 500));
  const titles = async (...texts: string[]) =>
    (await store.events({ namespace: '/acme/team-b', limit: 100, filters: parsed(eventFields, ...texts) })).items.map((e) => e.title);
  assert.deepEqual(await titles('targetID=pu-web'), ['web again', 'registered web']);
  assert.deepEqual(await titles('targetID=pu-web', 'level!=Warning'), ['registered web']);
  assert.deepEqual(await titles('targetID!=pu-web'), ['registered api']);
});
