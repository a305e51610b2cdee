// Changes through the API reach the gateway without a restart (issue: live
// updates): a new service is served on its exposedPort within one second, a
// changed endpoint applies to the next request, a removed service stops.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { insecureFetch, isListening, startCluster, waitFor, type Cluster, policyApi } from '@microseg/testkit';

const NS = '/acme/team-c/walkthrough';
let cluster: Cluster;

before(async () => {
  cluster = await startCluster({ dataDir: await mkdtemp(join(tmpdir(), 'microseg-live-')), isolated: true });
});

after(async () => {
  await cluster?.stop();
});

const api = policyApi(() => cluster, NS);

const get = (path: string) => insecureFetch(`https://localhost:${cluster.ports.walkthrough}${path}`, { headers: { accept: 'application/json' } });

test('a service created through the API is served within one second; endpoint changes apply to the next request; a deleted service stops', async () => {
  assert.equal(await isListening('127.0.0.1', cluster.ports.walkthrough), false);
  const spec = await api('POST', '/httpresourcespecs', {
    name: 'open-api',
    associatedTags: ['api=open'],
    endpoints: [{ URI: '/public/*', methods: ['GET'], public: true }],
  });
  assert.equal(spec.status, 201, JSON.stringify(spec.body));

  const started = performance.now();
  const created = await api('POST', '/services', {
    name: 'live',
    hosts: ['localhost'],
    port: cluster.ports.app,
    exposedPort: cluster.ports.walkthrough,
    selectors: [['type=walkthrough-app']],
    exposedAPIs: [['api=open']],
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  await waitFor('the new service to answer', async () => (await get('/public/hello')).status === 200, 3_000, 10);
  const servedAfterMs = performance.now() - started;
  console.log(`served ${Math.round(servedAfterMs)} ms after the API call`);
  assert.ok(servedAfterMs < 1_000, `served after ${servedAfterMs} ms`);

  // Not exposed yet: no endpoint matches → 403.
  assert.equal((await get('/_echo')).status, 403);
  const changed = await api('PATCH', '/httpresourcespecs/open-api', {
    endpoints: [
      { URI: '/public/*', methods: ['GET'], public: true },
      { URI: '/_echo', methods: ['GET'], public: true },
    ],
  });
  assert.equal(changed.status, 200, JSON.stringify(changed.body));
  assert.equal((await get('/_echo')).status, 200, 'the changed endpoint applies to the next request');

  // A change that fails validation leaves everything as it was.
  const rejected = await api('PATCH', '/httpresourcespecs/open-api', { endpoints: [{ URI: 'no-slash', methods: ['FETCH'] }] });
  assert.equal(rejected.status, 422);
  assert.equal((await get('/_echo')).status, 200);

  assert.equal((await api('DELETE', '/services/live')).status, 200);
  await waitFor('the listener to close', async () => !(await isListening('127.0.0.1', cluster.ports.walkthrough)), 3_000, 20);
});
