// Integration (real nats-server): entries written into the policy buckets by hand
// that are not JSON, have the wrong shape or sit under a key their content does not
// name. The policy service starts anyway, serves everything else, and reports each
// one (an Error event in / and a log line, naming the key, never the value); an
// entry like that arriving later does not stop the watch either.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fromBinary } from '@bufbuild/protobuf';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { Kvm, type KV } from '@nats-io/kv';
import { buckets, requests, subjects } from '@microseg/contracts';
import { LogEventSchema, type LogEvent } from '@microseg/proto/events';

import { createLogger } from '@microseg/telemetry';
import { startNats, waitFor, type RunningServer } from '@microseg/testkit';
import { buildPolicyApp, type PolicyApp } from './app.ts';
import { policyConfigSchema } from './config.ts';
import { stableObjectId } from './objects/import-file.ts';
import { newToken } from './api/tokens.ts';

const SECRET = 'a-value-that-must-never-be-repeated';
let dir: string;
let nats: RunningServer;
let nc: NatsConnection;
let objectsKv: KV;
let tokensKv: KV;
let app: PolicyApp | undefined;
const events: LogEvent[] = [];
const logLines: Array<Record<string, unknown>> = [];

const serviceId = stableObjectId('service', '/acme', 'web');
const goodService = {
  kind: 'service',
  ID: serviceId,
  name: 'web',
  namespace: '/acme',
  hosts: ['web.example.com'],
  port: 3000,
  exposedPort: 443,
  associatedTags: [],
  propagate: false,
  authorizationType: 'None',
  selectors: [['app=web']],
  exposedAPIs: [['app=web']],
};
const editor = newToken();
const editorRecord = {
  ID: editor.id,
  name: 'hand-made',
  role: 'editor',
  namespace: '/acme',
  secretHash: createHash('sha256').update(editor.secret).digest('hex'),
  createTime: '2030-01-01T00:00:00.000Z',
};

/** Written before the policy service ever starts. */
const badObjects: Record<string, string> = {
  'service.not-json': `{"name": "${SECRET}"`,
  'namespace.wrong-shape': JSON.stringify({ kind: 'namespace', ID: 'wrong-shape', name: 42, namespace: SECRET }),
  'service.another-id': JSON.stringify({ ...goodService, ID: 'someone-else' }),
};
const badTokens: Record<string, string> = {
  '0123456789abcdef': SECRET,
  fedcba9876543210: JSON.stringify({ ...editorRecord, ID: 'fedcba9876543210', role: 'root' }),
};

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'microseg-policy-malformed-'));
  nats = await startNats({ isolated: true, dataDir: dir, defaultPort: 0 });
  nc = await connect({ servers: nats.url });
  objectsKv = await new Kvm(nc).create(buckets.objects, { history: 5 });
  tokensKv = await new Kvm(nc).create(buckets.apiTokens, { history: 1 });
  for (const [key, value] of Object.entries(badObjects)) await objectsKv.put(key, value);
  await objectsKv.put(`service.${serviceId}`, JSON.stringify(goodService));
  for (const [key, value] of Object.entries(badTokens)) await tokensKv.put(key, value);
  await tokensKv.put(editor.id, JSON.stringify(editorRecord));
  // The last entry of the objects bucket is a bad one: the initial load must still complete.
  await objectsKv.put('externalnetwork.last', 'garbage');
  const sub = nc.subscribe(subjects.logEvent('policy'));
  void (async () => {
    for await (const m of sub) events.push(fromBinary(LogEventSchema, m.data));
  })();
});

after(async () => {
  await app?.close(1_000);
  await nc?.close();
  await nats?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function api(path: string, token: string) {
  const res = await app!.http.inject({ method: 'GET', url: path, headers: { authorization: `Bearer ${token}`, 'x-namespace': '/acme' } });
  return { status: res.statusCode, body: res.json<unknown>() };
}

const skipped = (key: string) => events.filter((e) => e.title === 'Malformed entry skipped' && e.content.includes(JSON.stringify(key)));

test('the policy service starts on buckets holding malformed entries and serves the rest', async () => {
  const capture = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) logLines.push(JSON.parse(line));
      done();
    },
  });
  const config = policyConfigSchema.parse({ NATS_URL: nats.url, MICROSEG_DATA_DIR: dir, POLICY_ADMIN_TOKEN: newToken().token, LOG_LEVEL: 'info' });
  app = await buildPolicyApp(config, createLogger('policy', 'info', capture));
  assert.equal(app.store.ready, true);

  const decision = await app.bus.request(requests.policyDecide, { serviceId, method: 'GET', path: '/', authenticated: false, tags: [] }, 5_000);
  assert.equal(decision.error, undefined, 'the good service is known and decided');
  const listed = await api('/services', editor.token);
  assert.equal(listed.status, 200, 'the good token authenticates');
  assert.deepEqual(
    (listed.body as Array<{ name: string }>).map((s) => s.name),
    ['web'],
    'only the good object is served',
  );
  assert.equal(app.store.snapshot.objects.length, 1);
});

test('each skipped entry is an Error event in / and a log line naming bucket and key, never the value', async () => {
  const expected = [
    ...Object.keys(badObjects).map((k) => [buckets.objects, k]),
    [buckets.objects, 'externalnetwork.last'],
    ...Object.keys(badTokens).map((k) => [buckets.apiTokens, k]),
  ];
  await waitFor('an event for every malformed entry', async () => expected.every(([, key]) => skipped(key!).length === 1));
  for (const [bucket, key] of expected) {
    const [event] = skipped(key!);
    assert.equal(event?.level, 'Error');
    assert.equal(event?.namespace, '/');
    assert.ok(event?.content.includes(bucket!), `${key}: names the bucket`);
    assert.ok(
      logLines.some((l) => l.msg === 'skipped a malformed bucket entry' && l.key === key && l.bucket === bucket && l.level === 'error'),
      `${key}: a log line`,
    );
  }
  assert.match(skipped('service.not-json')[0]!.content, /is not JSON/);
  assert.match(skipped('namespace.wrong-shape')[0]!.content, /wrong shape: .*name/);
  assert.match(skipped('service.another-id')[0]!.content, /key does not match/);
  assert.match(skipped('fedcba9876543210')[0]!.content, /wrong shape: role/);
  for (const e of events) assert.ok(!e.content.includes(SECRET), `an event repeats a value: ${e.title}`);
  for (const l of logLines) assert.ok(!JSON.stringify(l).includes(SECRET), 'a log line repeats a value');
});

test('a malformed entry written while the service runs neither stops the watch nor keeps the object it replaced', async () => {
  await objectsKv.put('service.live-garbage', '{{{');
  await tokensKv.put('00000000000000aa', '[1,2');
  const later = { ...goodService, name: 'later', ID: stableObjectId('service', '/acme', 'later'), hosts: ['later.example.com'] };
  await objectsKv.put(`service.${later.ID}`, JSON.stringify(later));
  await waitFor('the object written after the garbage to be served', async () => app!.store.snapshot.services.has(later.ID));
  const viewer = newToken();
  await tokensKv.put(
    viewer.id,
    JSON.stringify({ ...editorRecord, ID: viewer.id, role: 'viewer', secretHash: createHash('sha256').update(viewer.secret).digest('hex') }),
  );
  await waitFor('the token written after the garbage to authenticate', async () => (await api('/services', viewer.token)).status === 200);
  await waitFor('both reported', async () => skipped('service.live-garbage').length === 1 && skipped('00000000000000aa').length === 1);

  // The good service overwritten with garbage: gone, on this replica as on any that starts now.
  await objectsKv.put(`service.${serviceId}`, 'null');
  await waitFor('the overwritten service to be gone', async () => !app!.store.snapshot.services.has(serviceId));
  await assert.rejects(app!.bus.request(requests.policyDecide, { serviceId, method: 'GET', path: '/', authenticated: false, tags: [] }, 5_000), {
    code: 'POLICY_SERVICE_UNKNOWN',
  });
});
