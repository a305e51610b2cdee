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
import { FlowlogStore, type Cursor, type EventQuery, type FlowQuery } from './store.ts';

const RETENTION_HOURS = 1;
const MINUTE = 60_000;
/** The start of a recent minute, so flows are inside the retention. */
const minuteStart = Math.floor((Date.now() - 10 * MINUTE) / MINUTE) * MINUTE;

let server: RunningServer;
let redis: Redis;
let store: FlowlogStore;

/** The fields these tests vary. */
type FlowOverrides = Partial<{
  id: string;
  timeMs: bigint;
  namespace: string;
  uri: string;
  action: string;
  dropReason: string;
  user: string;
  byDefault: boolean;
}>;

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
  return create(LogEventSchema, {
    id: randomUUID(),
    timeMs: BigInt(Date.now()),
    level: 'Info',
    title: 'happened',
    namespace: '/acme',
    origin: 'authn',
    ...overrides,
  });
}

const allFlows = async () => (await store.flows({ limit: 100 })).items;
const allEvents = async (query: Partial<EventQuery> = {}) => (await store.events({ limit: 100, ...query })).items;

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
    {
      namespace: flows[0]!.namespace,
      URI: flows[0]!.URI,
      action: flows[0]!.action,
      policyID: flows[0]!.policyID,
      source: flows[0]!.source.type,
      user: flows[0]!.user,
    },
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
    assert.deepEqual(
      flows.map((f) => f.count),
      [1, 1],
    );
  });
}

test('flows are listed newest first', async () => {
  await store.recordFlow(flow({ uri: 'GET /old', timeMs: BigInt(minuteStart) }));
  await store.recordFlow(flow({ uri: 'GET /new', timeMs: BigInt(minuteStart + 3 * MINUTE) }));
  assert.deepEqual(
    (await allFlows()).map((f) => f.URI),
    ['GET /new', 'GET /old'],
  );
});

test('log events are stored once per id', async () => {
  const event = logEvent({ title: 'login failed', level: 'Warning' });
  assert.equal(await store.recordEvent(event), true);
  assert.equal(await store.recordEvent(event), false);
  assert.equal(await store.recordEvent(logEvent({ title: 'other' })), true);

  const events = await allEvents();
  assert.deepEqual(events.map((e) => e.title).sort(), ['login failed', 'other']);
  assert.deepEqual(
    (await allEvents({ levels: ['Warning'] })).map((e) => e.id),
    [event.id],
  );
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

    const flows = (await store.flows({ namespace, recursive, limit: 100 })).items;
    assert.deepEqual(flows.map((f) => f.namespace).sort(), [...expected].sort());
  });
}

test('flows: limit bounds the answer', async () => {
  for (const uri of ['GET /a', 'GET /b', 'GET /c']) await store.recordFlow(flow({ uri }));
  assert.equal((await store.flows({ limit: 2 })).items.length, 2);
});

test('trim drops flows and events older than the retention', async () => {
  const old = Date.now() - (RETENTION_HOURS + 1) * 3_600_000;
  await store.recordFlow(flow({ uri: 'GET /old', timeMs: BigInt(old) }));
  await store.recordFlow(flow({ uri: 'GET /recent' }));
  await store.recordEvent(logEvent({ title: 'old', timeMs: BigInt(old) }));
  await store.recordEvent(logEvent({ title: 'recent' }));
  assert.equal((await allFlows()).length, 2, 'both are listed before the trim');
  assert.equal((await allEvents()).length, 2);

  await store.trim();

  assert.deepEqual(
    (await allFlows()).map((f) => f.URI),
    ['GET /recent'],
  );
  assert.deepEqual(
    (await allEvents()).map((e) => e.title),
    ['recent'],
  );
});

test('flows page newest minute first with a cursor: every aggregate once, none skipped, while new ones arrive', async () => {
  for (let m = 0; m < 7; m++) for (const uri of ['GET /a', 'GET /b', 'GET /c']) await store.recordFlow(flow({ uri, timeMs: BigInt(minuteStart + m * MINUTE) }));
  const seen: string[] = [];
  let cursor: Cursor | undefined;
  let pages = 0;
  do {
    const page = await store.flows({ limit: 4, cursor });
    seen.push(...page.items.map((f) => `${f.minute}${f.URI}`));
    cursor = page.next;
    // A newer flow arriving between pages does not disturb the pages after it.
    if (pages++ === 0) await store.recordFlow(flow({ uri: 'GET /late', timeMs: BigInt(minuteStart + 8 * MINUTE) }));
  } while (cursor);
  assert.equal(seen.length, 21);
  assert.equal(new Set(seen).size, 21, 'no aggregate twice');
  const minutes = seen.map((s) => Number(s.slice(0, 13)));
  assert.deepEqual(
    minutes,
    [...minutes].sort((a, b) => b - a),
    'newest minute first',
  );
  assert.equal(pages, 6);
});

test('events page newest first, exactly, even when many share one millisecond', async () => {
  const time = BigInt(Date.now() - 1_000);
  for (let i = 0; i < 1_203; i++) await store.recordEvent(logEvent({ title: `e${i}`, timeMs: i < 1_100 ? time : time - BigInt(i) }));
  const titles: string[] = [];
  let cursor: Cursor | undefined;
  do {
    const page = await store.events({ limit: 250, cursor });
    titles.push(...page.items.map((e) => e.title));
    cursor = page.next;
    if (cursor) assert.ok(JSON.stringify(cursor).length < 120, 'the cursor stays short');
  } while (cursor);
  assert.equal(titles.length, 1_203);
  assert.equal(new Set(titles).size, 1_203);
});

test('events: filters by level, category, text, namespace and time combine', async () => {
  const now = Date.now();
  const events = [
    logEvent({
      title: 'Login failed',
      level: 'Warning',
      category: 'authn',
      content: 'bob@example.com: state unknown',
      namespace: '/acme/app',
      timeMs: BigInt(now - 5_000),
    }),
    logEvent({
      title: 'Login succeeded',
      level: 'Info',
      category: 'authn',
      content: 'alice@example.com logged in',
      namespace: '/acme/app',
      timeMs: BigInt(now - 4_000),
    }),
    logEvent({ title: 'service created', level: 'Info', category: 'crud', content: 'by token ops', namespace: '/acme', timeMs: BigInt(now - 3_000) }),
    logEvent({
      title: 'Identity provider discovery failed',
      level: 'Error',
      category: 'authn',
      namespace: '/other',
      timeMs: BigInt(now - 2 * 3_600_000 + 60_000),
    }),
  ];
  for (const e of events) await store.recordEvent(e);
  const titles = async (query: Partial<EventQuery>) => (await allEvents(query)).map((e) => e.title);
  assert.deepEqual(await titles({ levels: ['warning', 'Error'] }), ['Login failed', 'Identity provider discovery failed']);
  assert.deepEqual(await titles({ categories: ['crud'] }), ['service created']);
  assert.deepEqual(await titles({ q: 'ALICE' }), ['Login succeeded']);
  assert.deepEqual(await titles({ namespace: '/acme', recursive: true, categories: ['authn'] }), ['Login succeeded', 'Login failed']);
  assert.deepEqual(await titles({ from: now - 4_500, to: now - 3_500 }), ['Login succeeded']);
  assert.deepEqual(await titles({ namespace: '/acme', recursive: false }), ['service created']);
});

test('flows: filters by action, text and time window; by_default is kept apart', async () => {
  await store.recordFlow(flow({ uri: 'GET /ok' }));
  await store.recordFlow(flow({ uri: 'GET /', action: 'Reject', dropReason: 'api', user: 'bob@example.com' }));
  await store.recordFlow(flow({ uri: 'tcp/9400 token', action: 'Reject', dropReason: 'policy', byDefault: true, timeMs: BigInt(minuteStart + 5 * MINUTE) }));
  await store.recordFlow(
    flow({ uri: 'tcp/9400 token', action: 'Reject', dropReason: 'policy', byDefault: false, timeMs: BigInt(minuteStart + 5 * MINUTE + 1) }),
  );
  const uris = async (query: Partial<FlowQuery>) =>
    (await store.flows({ limit: 100, ...query })).items.map((f) => `${f.URI}${f.byDefault ? ' (default)' : ''}`);
  assert.deepEqual((await uris({ action: 'Reject' })).sort(), ['GET /', 'tcp/9400 token', 'tcp/9400 token (default)']);
  assert.deepEqual(await uris({ q: 'bob@' }), ['GET /']);
  assert.deepEqual((await uris({ from: minuteStart + 5 * MINUTE })).sort(), ['tcp/9400 token', 'tcp/9400 token (default)']);
  assert.deepEqual((await uris({ to: minuteStart + MINUTE - 1 })).sort(), ['GET /', 'GET /ok']);
});

test('secrets that slip into an event or a flow URI are redacted before they are stored', async () => {
  const token = `mst_${'a'.repeat(16)}_${'B'.repeat(43)}`;
  const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXZhbHVl';
  await store.recordEvent(logEvent({ title: `token ${token}`, content: `Authorization: Bearer ${jwt} cookie __Host-microseg=abc.def code=xyz&state=s1` }));
  await store.recordFlow(flow({ uri: `GET /cb?code=secret-code&x=1` }));
  const [event] = await allEvents();
  const stored = JSON.stringify(event) + JSON.stringify(await allFlows());
  for (const secret of [token, jwt, 'abc.def', 'xyz', 's1', 'secret-code']) assert.ok(!stored.includes(secret), `${secret} was stored`);
  assert.match(event!.content, /Bearer \[redacted/);
  assert.match(event!.content, /__Host-microseg=\[redacted\]/);
});
