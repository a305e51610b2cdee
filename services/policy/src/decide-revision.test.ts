// Integration: decisions over the bus (svc.policy.v1.decide) carry the revision of the objects they were made
// from, so that a gateway keeps no decision older than a change it has been told of. A real nats-server
// (JetStream), private to this file; objects are written through the API (app.http.inject).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Bus } from '@microseg/bus';
import { requests } from '@microseg/contracts';
import { Decision } from '@microseg/proto/policy';
import { createLogger } from '@microseg/telemetry';
import { startNats, waitFor, type RunningServer } from '@microseg/testkit';
import { buildPolicyApp, type PolicyApp } from './app.ts';
import { policyConfigSchema } from './config.ts';
import { newToken } from './api/tokens.ts';

const NS = '/revision';
const ADMIN = newToken().token;
let dir: string;
let nats: RunningServer;
let app: PolicyApp;
let gateway: Bus;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'microseg-policy-revision-'));
  nats = await startNats({ isolated: true, dataDir: dir, defaultPort: 0 });
  app = await buildPolicyApp(
    policyConfigSchema.parse({ NATS_URL: nats.url, MICROSEG_DATA_DIR: dir, POLICY_ADMIN_TOKEN: ADMIN, LOG_LEVEL: 'silent' }),
    createLogger('policy', 'silent'),
  );
  gateway = await Bus.connect({ url: nats.url, name: 'test-gateway', logger: createLogger('gateway', 'silent') });
});

after(async () => {
  await gateway?.close(1_000);
  await app?.close(1_000);
  await nats?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function create(kind: string, body: Record<string, unknown>): Promise<string> {
  const res = await app.http.inject({ method: 'POST', url: `/${kind}`, headers: { authorization: `Bearer ${ADMIN}`, 'x-namespace': NS }, payload: body });
  assert.equal(res.statusCode, 201, res.body);
  return res.json<{ ID: string }>().ID;
}

const ask = (serviceId: string, clientIp = '') =>
  gateway.request(requests.policyDecide, { serviceId, method: 'GET', path: '/hello', authenticated: false, tags: [], clientIp }, 2_000);

test('a decision carries the revision of the objects it was made from, and a later change a later one', async () => {
  await create('httpresourcespecs', { name: 'hello', associatedTags: ['api=hello'], endpoints: [{ URI: '/hello', methods: ['GET'], public: true }] });
  const serviceId = await create('services', { name: 'hello', hosts: ['hello.example.com'], port: 3000, exposedPort: 8443, exposedAPIs: [['api=hello']] });
  const first = await ask(serviceId);
  assert.equal(first.decision, Decision.ALLOW, first.reason);
  assert.ok(first.revision > 0n, 'a revision is set');
  assert.equal(first.revision, BigInt(app.store.snapshot.revision));

  await create('httpresourcespecs', { name: 'other', associatedTags: ['api=other'], endpoints: [{ URI: '/other', methods: ['GET'], public: true }] });
  await waitFor('the change to be applied', async () => BigInt(app.store.snapshot.revision) > first.revision);
  const second = await ask(serviceId);
  assert.equal(second.revision, BigInt(app.store.snapshot.revision));
  assert.ok(second.revision > first.revision);
});

test('a denial by a network policy carries the revision too', async () => {
  await create('externalnetworks', { name: 'blocked', entries: ['203.0.113.0/24'], servicePorts: ['any'], associatedTags: ['ext:name=blocked'] });
  await create('networkaccesspolicies', {
    name: 'block',
    action: 'Reject',
    applyPolicyMode: 'IncomingTraffic',
    subject: [['ext:name=blocked']],
    object: [['$identity=processingunit']],
  });
  const serviceId = await create('services', { name: 'guarded', hosts: ['guarded.example.com'], port: 3000, exposedPort: 8443, exposedAPIs: [['api=hello']] });
  const denied = await ask(serviceId, '203.0.113.9');
  assert.equal(denied.decision, Decision.DENY);
  assert.equal(denied.reason, 'network-policy');
  assert.equal(denied.revision, BigInt(app.store.snapshot.revision));
});
