// Unit (fakes, app.inject()): the object routes on an in-memory store — status codes, ETags and If-Match,
// validation naming every attribute, write-only fields sealed and never shown, roles and subtrees, audit
// events and the change announced before the answer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PolicyObject, ServiceObject } from '@microseg/contracts';
import { SecretBox } from '../../secrets.ts';
import { StoreConflict } from '../../store.ts';
import { call, MemoryObjectStore, pluginApp } from '../../testing/api-fakes.ts';
import { FakeBus } from '../../testing/fake-bus.ts';
import { processingUnit, service } from '../../testing/objects.ts';
import { changeAudit } from '../change-audit.ts';
import { objectRoutes } from './objects.ts';

const secrets = new SecretBox([Buffer.alloc(32, 9)]);
const body = (name: string, fields: Record<string, unknown> = {}) => ({ name, hosts: [`${name}.example.com`], port: 3000, exposedPort: 443, ...fields });
const oidc = { authorizationType: 'OIDC', OIDCProviderURL: 'https://idp.example.com', OIDCClientID: 'shop' };

async function setup(objects: PolicyObject[] = [], store = new MemoryObjectStore(objects)) {
  const bus = new FakeBus();
  const announced: number[] = [];
  const app = await pluginApp(objectRoutes, {
    store,
    secrets,
    audit: changeAudit(bus),
    announce: async (revision) => void announced.push(revision),
    serviceStatus: (s) => (s.name === 'shown' ? { servingStatus: 'Served', servingProblems: [] } : undefined),
  });
  return { app, store, bus, announced };
}

test('create: 201 with the ETag, the secret sealed at rest and never shown, audited and announced', async () => {
  const { app, store, bus, announced } = await setup();
  const res = await call(app, 'POST', '/services', { as: 'acmeEditor', ns: '/acme/dev', body: body('shop', { ...oidc, OIDCClientSecret: 's3cret' }) });
  assert.equal(res.status, 201, res.text);
  const stored = store.entry('service', res.body.ID)!;
  assert.equal(res.headers.etag, `"${stored.revision}"`);
  assert.equal(res.body.namespace, '/acme/dev');
  assert.equal(res.body.OIDCClientSecret, undefined);
  assert.ok(!res.text.includes('s3cret'));
  assert.match((stored.object as ServiceObject).OIDCClientSecret!, /^enc:v2:/);
  assert.deepEqual(
    bus.events.map((e) => [e.kind, e.input.title, e.input.content]),
    [['objectCreated', 'service created', 'service shop was created in /acme/dev by token acme-editor.']],
  );
  assert.deepEqual(announced, [store.snapshot.revision]);
  const again = await call(app, 'POST', '/services', { as: 'acmeEditor', ns: '/acme/dev', body: body('shop') });
  assert.deepEqual([again.status, again.body.code], [409, 'CONFLICT']);
});

test('create: every bad attribute at once (a sealed secret among them), 422, nothing written', async () => {
  const { app, store, bus } = await setup();
  const res = await call(app, 'POST', '/services', {
    as: 'acmeEditor',
    ns: '/acme',
    body: { name: 'bad', exposedPort: 70000, ...oidc, OIDCClientSecret: 'enc:v2:stolen' },
  });
  assert.equal(res.status, 422);
  assert.equal(res.body.code, 'POLICY_VALIDATION_FAILED');
  const attributes = res.body.errors.map((e: { attribute: string }) => e.attribute);
  for (const a of ['OIDCClientSecret', 'exposedPort', 'hosts', 'port']) assert.ok(attributes.includes(a), `${a} in ${attributes}`);
  assert.deepEqual([store.writes, bus.events], [[], []]);
});

test("processing units are the gateways': no create or update, delete by admins only", async () => {
  const pu = processingUnit('web', '/acme');
  const { app, store } = await setup([pu]);
  assert.equal((await call(app, 'POST', '/processingunits', { as: 'acmeAdmin', ns: '/acme', body: { name: 'x' } })).status, 403);
  assert.equal((await call(app, 'PATCH', `/processingunits/${pu.ID}`, { as: 'acmeAdmin', ns: '/acme', body: { address: '1.2.3.4' } })).status, 403);
  assert.equal((await call(app, 'DELETE', '/processingunits/web', { as: 'acmeEditor', ns: '/acme' })).status, 403);
  assert.equal((await call(app, 'DELETE', '/processingunits/web', { as: 'acmeAdmin', ns: '/acme' })).status, 200);
  assert.equal(store.entry('processingunit', pu.ID), undefined);
});

test("a service's ports must be allowed by its unit's gateway: 422 naming the allowed ones", async () => {
  const { app } = await setup([processingUnit('shop', '/acme')]);
  const res = await call(app, 'POST', '/services', { as: 'acmeEditor', ns: '/acme', body: body('shop', { selectors: [['app=shop']], port: 22 }) });
  assert.equal(res.status, 422);
  assert.deepEqual(
    res.body.errors.map((e: { attribute: string }) => e.attribute),
    ['port'],
  );
  assert.match(res.body.message, /allowed: 3000/);
});

test('read: one namespace or its subtree, by ID or name, with the ETag and the serving status; kinds and objects unknown are 404', async () => {
  const web = service('web', '/acme');
  const { app, store } = await setup([web, service('shown', '/acme/dev'), service('other', '/other')]);
  assert.deepEqual(
    (await call(app, 'GET', '/services', { as: 'acmeViewer' })).body.map((s: { name: string }) => s.name),
    ['web'],
  );
  const recursive = await call(app, 'GET', '/services?recursive=true', { as: 'acmeViewer' });
  assert.deepEqual(
    recursive.body.map((s: { name: string; servingStatus?: string }) => [s.name, s.servingStatus]),
    [
      ['web', undefined],
      ['shown', 'Served'],
    ],
  );
  for (const id of [web.ID, 'web']) {
    const one = await call(app, 'GET', `/services/${id}`, { as: 'acmeViewer' });
    assert.deepEqual([one.status, one.body.ID, one.headers.etag], [200, web.ID, `"${store.entry('service', web.ID)!.revision}"`]);
  }
  assert.equal((await call(app, 'GET', '/services/other', { as: 'acmeViewer' })).status, 404);
  const kind = await call(app, 'GET', '/widgets', { as: 'acmeViewer' });
  assert.deepEqual([kind.status, kind.body.code], [404, 'NOT_FOUND']);
  assert.equal((await call(app, 'GET', '/services', { as: 'acmeViewer', ns: '/other' })).status, 403);
});

test('update: If-Match must name the current revision (412 otherwise, 400 when it is no ETag); the name cannot change; write-only fields left out are kept', async () => {
  const { app, store, bus, announced } = await setup();
  const created = await call(app, 'POST', '/services', { as: 'acmeEditor', ns: '/acme', body: body('shop', { ...oidc, OIDCClientSecret: 's3cret' }) });
  const stored = () => store.entry('service', created.body.ID)!;
  const sealedBefore = (stored().object as ServiceObject).OIDCClientSecret;
  const stale = await call(app, 'PUT', '/services/shop', { as: 'acmeEditor', ns: '/acme', body: body('shop', oidc), headers: { 'if-match': '"999"' } });
  assert.deepEqual([stale.status, stale.body.code], [412, 'PRECONDITION_FAILED']);
  assert.equal(
    (await call(app, 'PUT', '/services/shop', { as: 'acmeEditor', ns: '/acme', body: body('shop', oidc), headers: { 'if-match': 'latest' } })).status,
    400,
  );
  const renamed = await call(app, 'PATCH', '/services/shop', { as: 'acmeEditor', ns: '/acme', body: { name: 'other' } });
  assert.deepEqual([renamed.status, renamed.body.errors?.[0]?.attribute], [422, 'name']);
  const put = await call(app, 'PUT', '/services/shop', {
    as: 'acmeEditor',
    ns: '/acme',
    body: body('shop', { ...oidc, port: 4000 }),
    headers: { 'if-match': created.headers.etag as string },
  });
  assert.equal(put.status, 200, put.text);
  assert.equal(put.headers.etag, `"${stored().revision}"`);
  assert.equal((stored().object as ServiceObject).OIDCClientSecret, sealedBefore, 'the stored secret is kept as it was');
  const patched = await call(app, 'PATCH', '/services/shop', { as: 'acmeEditor', ns: '/acme', body: { description: 'edited' } });
  assert.deepEqual([patched.status, patched.body.port, patched.body.description], [200, 4000, 'edited']);
  assert.deepEqual(
    bus.events.map((e) => e.kind),
    ['objectCreated', 'objectUpdated', 'objectUpdated'],
  );
  assert.equal(announced.length, 3);
});

test('a write that loses a race with another writer is 412, not a lost update', async () => {
  const store = new MemoryObjectStore([service('web', '/acme')]);
  store.replace = async () => {
    throw new StoreConflict('stale');
  };
  const { app } = await setup([], store);
  const res = await call(app, 'PATCH', '/services/web', { as: 'acmeEditor', ns: '/acme', body: { description: 'x' } });
  assert.deepEqual([res.status, res.body.message], [412, 'the service changed while it was being updated; read it again and retry']);
});

test('delete: the object as it was, without write-only fields; If-Match honoured; a viewer may not', async () => {
  const { app, store, bus } = await setup();
  await call(app, 'POST', '/services', { as: 'acmeEditor', ns: '/acme', body: body('shop', { ...oidc, OIDCClientSecret: 's3cret' }) });
  assert.equal((await call(app, 'DELETE', '/services/shop', { as: 'acmeViewer', ns: '/acme' })).status, 403);
  assert.equal((await call(app, 'DELETE', '/services/shop', { as: 'acmeEditor', ns: '/acme', headers: { 'if-match': '"999"' } })).status, 412);
  const res = await call(app, 'DELETE', '/services/shop', { as: 'acmeEditor', ns: '/acme' });
  assert.deepEqual([res.status, res.body.name, res.body.OIDCClientSecret], [200, 'shop', undefined]);
  assert.equal(store.snapshot.services.size, 0);
  assert.equal(bus.events.at(-1)?.kind, 'objectDeleted');
  assert.equal((await call(app, 'DELETE', '/services/shop', { as: 'acmeEditor', ns: '/acme' })).status, 404);
});
