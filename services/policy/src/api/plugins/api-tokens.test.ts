// Unit (fakes, app.inject()): API tokens — admins only, within their subtree; the body checked with every bad
// attribute named before the role is; the secret shown once and the hash never.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { call, pluginApp } from '../../testing/api-fakes.ts';
import { FakeBus } from '../../testing/fake-bus.ts';
import { changeAudit } from '../change-audit.ts';
import type { Role, TokenRecord, TokenStore } from '../tokens.ts';
import { apiTokenRoutes } from './api-tokens.ts';

function memoryTokens(records: TokenRecord[] = []): Pick<TokenStore, 'list' | 'get' | 'create' | 'revoke'> {
  const byId = new Map(records.map((r) => [r.ID, r]));
  return {
    list: () => [...byId.values()],
    get: (idOrName) => byId.get(idOrName) ?? [...byId.values()].find((r) => r.name === idOrName),
    async create(name: string, role: Role, namespace: string) {
      const record = { ID: `id-${name}`, name, role, namespace, secretHash: 'hash', createTime: '2026-11-28T00:00:00.000Z' };
      byId.set(record.ID, record);
      return { record, token: `mst_token_of_${name}` };
    },
    async revoke(id: string) {
      byId.delete(id);
    },
  };
}

const record = (name: string, namespace: string): TokenRecord => ({
  ID: `id-${name}`,
  name,
  role: 'viewer',
  namespace,
  secretHash: 'hash',
  createTime: '2026-01-01T00:00:00.000Z',
});

async function setup() {
  const tokens = memoryTokens([record('inside', '/acme/dev'), record('outside', '/other')]);
  const bus = new FakeBus();
  const app = await pluginApp(apiTokenRoutes, { tokens, audit: changeAudit(bus) });
  return { app, tokens, bus };
}

test('create: 201 with the token shown once and no hash; in the request namespace by default; audited', async () => {
  const { app, bus } = await setup();
  const res = await call(app, 'POST', '/apitokens', { as: 'acmeAdmin', ns: '/acme/dev', body: { name: 'ci', role: 'editor' } });
  assert.equal(res.status, 201, res.text);
  assert.deepEqual(
    { ...res.body, createTime: undefined },
    { ID: 'id-ci', name: 'ci', role: 'editor', namespace: '/acme/dev', token: 'mst_token_of_ci', createTime: undefined },
  );
  assert.deepEqual(
    bus.events.map((e) => [e.kind, e.input.content]),
    [['objectCreated', 'apitoken ci was created in /acme/dev by token acme-admin.']],
  );
});

test('create: every bad attribute named at once (422), before the role is checked; a token above the subtree is 403', async () => {
  const { app } = await setup();
  const cases: Array<[unknown, string[]]> = [
    [{}, ['name', 'role']],
    ['"text"', ['name', 'role']],
    [
      [1, 2],
      ['name', 'role'],
    ],
    [{ name: '', role: 'superadmin', namespace: 'acme' }, ['name', 'role', 'namespace']],
    [{ name: 'x', role: ['admin'] }, ['role']],
    [{ name: 'x', role: 'Admin ' }, ['role']],
  ];
  for (const [body, attributes] of cases) {
    const res = await call(app, 'POST', '/apitokens', { as: 'acmeViewer', body, headers: { 'content-type': 'application/json' } });
    assert.equal(res.status, 422, JSON.stringify(body));
    assert.deepEqual(
      res.body.errors.map((e: { attribute: string }) => e.attribute),
      attributes,
      JSON.stringify(body),
    );
  }
  assert.match((await call(app, 'POST', '/apitokens', { as: 'acmeViewer', body: { name: 'x', role: 'admin' } })).body.message, /cannot manage tokens/);
  assert.equal((await call(app, 'POST', '/apitokens', { as: 'acmeAdmin', body: { name: 'x', role: 'admin', namespace: '/' } })).status, 403);
  assert.equal(
    (await call(app, 'POST', '/apitokens', { as: 'acmeAdmin', body: { name: 'x', role: 'admin', namespace: 7 } })).status,
    201,
    'a namespace that is no string is left out',
  );
});

test("list, read and revoke: the subtree's tokens only; any other is 404 like one that does not exist", async () => {
  const { app, tokens, bus } = await setup();
  const list = await call(app, 'GET', '/apitokens', { as: 'acmeAdmin' });
  assert.deepEqual(
    list.body.map((t: { name: string; secretHash?: string }) => [t.name, t.secretHash]),
    [['inside', undefined]],
  );
  assert.equal((await call(app, 'GET', '/apitokens/inside', { as: 'acmeAdmin' })).body.ID, 'id-inside');
  for (const method of ['GET', 'DELETE'] as const)
    assert.deepEqual((await call(app, method, '/apitokens/outside', { as: 'acmeAdmin' })).body.message, 'no such token');
  const revoked = await call(app, 'DELETE', '/apitokens/id-inside', { as: 'acmeAdmin' });
  assert.deepEqual([revoked.status, revoked.body.name, revoked.body.secretHash], [200, 'inside', undefined]);
  assert.equal(tokens.get('id-inside'), undefined);
  assert.equal(bus.events.at(-1)?.kind, 'objectDeleted');
  assert.equal((await call(app, 'GET', '/apitokens', { as: 'acmeEditor' })).status, 403);
});
