// Unit (fakes, app.inject()): import is all or nothing — every object checked (validation, sealed input,
// subtree, processing units) before the first is written — and keeps stored write-only fields; export answers
// a document import takes back, without IDs, times or secrets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ServiceObject } from '@microseg/contracts';
import { SecretBox, sealObject } from '../../secrets.ts';
import { call, MemoryObjectStore, pluginApp } from '../../testing/api-fakes.ts';
import { FakeBus } from '../../testing/fake-bus.ts';
import { oidcService, resourceSpec } from '../../testing/objects.ts';
import { changeAudit } from '../change-audit.ts';
import { importExportRoutes } from './import-export.ts';

const secrets = new SecretBox([Buffer.alloc(32, 6)]);

async function setup() {
  const store = new MemoryObjectStore([sealObject(secrets, oidcService('shop', '/acme')), resourceSpec('api', '/acme/dev', [])]);
  const bus = new FakeBus();
  const announced: number[] = [];
  const app = await pluginApp(importExportRoutes, { store, secrets, audit: changeAudit(bus), announce: async (r) => void announced.push(r) });
  return { app, store, bus, announced };
}

test('export: the objects of a namespace (or subtree) by plural, without IDs, times or write-only fields', async () => {
  const { app } = await setup();
  const flat = await call(app, 'GET', '/export', { as: 'acmeViewer' });
  assert.deepEqual(Object.keys(flat.body.data), ['services']);
  assert.equal(flat.body.label, 'export of /acme');
  const [shop] = flat.body.data.services;
  for (const field of ['ID', 'kind', 'createTime', 'updateTime', 'OIDCClientSecret']) assert.equal(shop[field], undefined, field);
  assert.deepEqual(Object.keys((await call(app, 'GET', '/export?recursive=true', { as: 'acmeViewer' })).body.data), ['services', 'httpresourcespecs']);
  assert.equal((await call(app, 'GET', '/export', { as: 'acmeViewer', ns: '/other' })).status, 403);
});

test('an export imported back: everything updated, the stored client secret kept', async () => {
  const { app, store, bus, announced } = await setup();
  const exported = (await call(app, 'GET', '/export', { as: 'acmeEditor' })).body;
  const sealedBefore = (store.snapshot.objects.find((o) => o.name === 'shop') as ServiceObject).OIDCClientSecret;
  const res = await call(app, 'POST', '/import', { as: 'acmeEditor', body: exported });
  assert.deepEqual([res.status, res.body], [200, { created: 0, updated: 1 }]);
  assert.equal((store.snapshot.objects.find((o) => o.name === 'shop') as ServiceObject).OIDCClientSecret, sealedBefore);
  assert.deepEqual(
    bus.events.map((e) => e.kind),
    ['objectUpdated'],
  );
  assert.deepEqual(announced, [store.snapshot.revision]);
});

test('all or nothing: one object outside the subtree, one processing unit, or one sealed secret refuses the whole import', async () => {
  const cases: Array<[string, unknown, number, string[]?]> = [
    [
      'another namespace',
      {
        data: {
          httpresourcespecs: [
            { name: 'mine', endpoints: [] },
            { name: 'theirs', namespace: '/other', endpoints: [] },
          ],
        },
      },
      403,
    ],
    ['a processing unit', { data: { httpresourcespecs: [{ name: 'mine', endpoints: [] }], processingunits: [{ name: 'pu', address: '10.0.0.1' }] } }, 403],
    [
      'a sealed secret',
      {
        data: {
          httpresourcespecs: [{ name: 'mine', endpoints: [] }],
          services: [{ name: 'x', hosts: ['x.example.com'], port: 1, exposedPort: 443, OIDCClientSecret: 'enc:v2:x' }],
        },
      },
      422,
      ['data.services[0].OIDCClientSecret'],
    ],
    [
      'an invalid object',
      {
        data: {
          httpresourcespecs: [
            { name: 'mine', endpoints: [] },
            { name: 'bad', endpoints: 'no' },
          ],
        },
      },
      422,
    ],
  ];
  for (const [what, doc, status, attributes] of cases) {
    const { app, store } = await setup();
    const res = await call(app, 'POST', '/import', { as: 'acmeEditor', body: doc });
    assert.equal(res.status, status, `${what}: ${res.text}`);
    if (attributes)
      for (const a of attributes)
        assert.ok(
          res.body.errors.some((e: { attribute: string }) => e.attribute === a),
          `${what}: ${res.text}`,
        );
    assert.deepEqual(store.writes, [], `${what}: nothing written`);
  }
});

test('a viewer may not import', async () => {
  const { app } = await setup();
  assert.equal((await call(app, 'POST', '/import', { as: 'acmeViewer', body: { data: {} } })).status, 403);
});
