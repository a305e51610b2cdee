// Integration: the object store on a real nats-server (JetStream KV), private
// to this file. Tests run in order and share the bucket; each uses its own objects.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { Kvm } from '@nats-io/kv';
import { buckets, type ProcessingUnitObject, type ServiceObject } from '@microseg/contracts';
import { startNats, waitFor, type RunningServer } from '@microseg/testkit';
import { stableObjectId } from './objects/import-file.ts';
import { ObjectStore } from './store.ts';
import type { Snapshot } from './snapshot.ts';

let nats: RunningServer;
const connections: NatsConnection[] = [];

async function openStore(): Promise<ObjectStore> {
  const nc = await connect({ servers: nats.url });
  connections.push(nc);
  return ObjectStore.open(nc);
}

function service(name: string, overrides: Partial<ServiceObject> = {}): ServiceObject {
  return {
    kind: 'service',
    ID: stableObjectId('service', '/acme', name),
    name,
    namespace: '/acme',
    associatedTags: [],
    propagate: false,
    type: 'HTTP',
    authorizationType: 'None',
    OIDCProviderProfile: 'auto',
    OIDCAllowedTenants: [],
    acceptBearerTokens: false,
    forwardAuth: false,
    passAccessToken: false,
    sessionIdleTimeoutSeconds: 7200,
    sessionMaxLifetimeSeconds: 43200,
    OIDCScopes: [],
    hosts: [`${name}.example.com`],
    port: 3000,
    exposedPort: 443,
    exposedServiceIsTLS: false,
    applicationProtocol: 'HTTP/1.1',
    selectors: [['app=' + name]],
    exposedAPIs: [['app=' + name]],
    claimsToHTTPHeaderMappings: [],
    disabled: false,
    ...overrides,
  };
}

function processingUnit(name: string, overrides: Partial<ProcessingUnitObject> = {}): ProcessingUnitObject {
  return {
    kind: 'processingunit',
    ID: stableObjectId('processingunit', '/acme', name),
    name,
    namespace: '/acme',
    associatedTags: ['type=web'],
    propagate: false,
    address: '127.0.0.1',
    status: 'Running',
    lastSeen: '2030-01-01T00:00:00.000Z',
    gatewayID: 'gw-1',
    ...overrides,
  };
}

const puIn = (snapshot: Snapshot, id: string) => snapshot.processingUnits.find((p) => p.ID === id);

before(async () => {
  nats = await startNats({ isolated: true, dataDir: await mkdtemp(join(tmpdir(), 'microseg-policy-store-')), defaultPort: 0 });
});

after(async () => {
  for (const nc of connections) await nc.close();
  await nats?.stop();
});

// First: the bucket does not exist yet.
test('open on an empty bucket is ready with an empty snapshot', async () => {
  const store = await openStore();
  assert.equal(store.ready, true);
  assert.equal(store.snapshot.revision, 0);
  assert.equal(store.snapshot.services.size, 0);
  assert.equal(store.snapshot.processingUnits.length, 0);
});

test("put makes the object visible in another store's snapshot", async () => {
  const writer = await openStore();
  const reader = await openStore();
  const object = service('visible');

  assert.equal(await writer.put(object), 'created');

  await waitFor('the reader to see the service', async () => reader.snapshot.services.has(object.ID));
  assert.deepEqual(reader.snapshot.services.get(object.ID), object);
  assert.ok(reader.snapshot.revision > 0);
});

test('open on a bucket with objects is ready with them already loaded', async () => {
  const writer = await openStore();
  const object = service('preloaded');
  await writer.put(object);
  await waitFor('the writer to see its own write', async () => writer.snapshot.services.has(object.ID));

  const late = await openStore();
  assert.equal(late.ready, true);
  assert.deepEqual(late.snapshot.services.get(object.ID), object);
  assert.ok(late.snapshot.services.has(service('visible').ID), 'earlier objects too');
});

test('put of identical content is unchanged; a change is an update', async () => {
  const store = await openStore();
  const object = service('identical');
  assert.equal(await store.put(object), 'created');
  await waitFor('the store to see the service', async () => store.snapshot.services.has(object.ID));

  assert.equal(await store.put({ ...object }), 'unchanged');
  assert.equal(await store.put({ ...object, updateTime: '2030-01-01T00:00:00.000Z' }), 'unchanged', 'timestamps alone are no change');
  assert.equal(await store.put({ ...object, hosts: ['other.example.com'] }), 'updated');
  await waitFor('the change to arrive', async () => store.snapshot.services.get(object.ID)?.hosts[0] === 'other.example.com');
});

test('onChange: a processing unit whose only change is lastSeen does not change routing', async () => {
  const store = await openStore();
  const pu = processingUnit('heartbeat');
  await store.put(pu);
  await waitFor('the store to see the processing unit', async () => puIn(store.snapshot, pu.ID) !== undefined);

  const changes: Array<{ lastSeen?: string; address?: string; routingChanged: boolean }> = [];
  store.onChange((snapshot, routingChanged) => {
    const seen = puIn(snapshot, pu.ID);
    changes.push({ lastSeen: seen?.lastSeen, address: seen?.address, routingChanged });
  });

  // `put` never writes a lastSeen-only change, so write it as any other writer of the bucket would.
  const kv = await new Kvm(connections.at(-1)!).open(buckets.objects);
  const key = `processingunit.${pu.ID}`;
  await kv.put(key, JSON.stringify({ ...pu, lastSeen: '2030-01-01T00:01:00.000Z' }));
  await waitFor('the heartbeat to arrive', async () => changes.some((c) => c.lastSeen === '2030-01-01T00:01:00.000Z'));

  await kv.put(key, JSON.stringify({ ...pu, lastSeen: '2030-01-01T00:02:00.000Z', address: '127.0.0.2' }));
  await waitFor('the move to arrive', async () => changes.some((c) => c.address === '127.0.0.2'));

  assert.deepEqual(changes, [
    { lastSeen: '2030-01-01T00:01:00.000Z', address: '127.0.0.1', routingChanged: false },
    { lastSeen: '2030-01-01T00:02:00.000Z', address: '127.0.0.2', routingChanged: true },
  ]);
});

test('onChange: a new or deleted object changes routing', async () => {
  const store = await openStore();
  const changes: Array<{ present: boolean; routingChanged: boolean }> = [];
  const object = service('short-lived');
  store.onChange((snapshot, routingChanged) => changes.push({ present: snapshot.services.has(object.ID), routingChanged }));

  await store.put(object);
  await waitFor('the service to arrive', async () => changes.some((c) => c.present));
  const kv = await new Kvm(connections.at(-1)!).open(buckets.objects);
  await kv.delete(`service.${object.ID}`);
  await waitFor('the delete to arrive', async () => changes.at(-1)?.present === false);

  assert.deepEqual(changes, [
    { present: true, routingChanged: true },
    { present: false, routingChanged: true },
  ]);
});

// Last: the newest entry of the bucket is now a delete marker.
test('open when the last write was a delete is ready without the deleted object', async () => {
  const store = await openStore();
  assert.equal(store.ready, true);
  assert.equal(store.snapshot.services.has(service('short-lived').ID), false);
  assert.ok(store.snapshot.services.has(service('visible').ID));
});

test('a processing unit heartbeat is written at most once a minute and is no routing change', async () => {
  const store = await openStore();
  const pu: ProcessingUnitObject = {
    kind: 'processingunit',
    ID: 'pu-heartbeat',
    name: 'pu-heartbeat',
    namespace: '/hb',
    associatedTags: ['type=x'],
    propagate: false,
    address: '127.0.0.1',
    status: 'Running',
    lastSeen: '2030-01-01T00:00:00.000Z',
  };
  assert.equal(await store.put(pu), 'created');
  await waitFor('the unit to be visible', async () => store.snapshot.processingUnits.some((p) => p.ID === pu.ID));
  assert.equal(await store.put({ ...pu, lastSeen: '2030-01-01T00:00:30.000Z' }), 'unchanged', 'within a minute');
  assert.equal(await store.put({ ...pu, lastSeen: '2030-01-01T00:01:00.000Z' }), 'heartbeat');
  await waitFor('the heartbeat to arrive', async () => store.snapshot.processingUnits.find((p) => p.ID === pu.ID)?.lastSeen === '2030-01-01T00:01:00.000Z');
});
