// Unit (fakes, through app.inject()): POST /secrets/reseal writes each object with compare-and-set on the
// revision it read; an object changed meanwhile is left as the other writer made it and
// reported, the others are re-sealed; audit events name the token and the key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import type { Bus } from '@microseg/bus';
import { eventCatalogue, type EventKind } from '@microseg/contracts';
import type { PolicyObject } from '@microseg/contracts';
import { SecretBox, keyIdOfSealed } from '../../secrets.ts';
import { StoreConflict, type ObjectStore } from '../../store.ts';
import { secretRoutes } from './secrets.ts';

const keyA = Buffer.alloc(32, 1);
const keyB = Buffer.alloc(32, 2);

function service(name: string, box: SecretBox): PolicyObject {
  const ID = `id-${name}`;
  return {
    kind: 'service',
    ID,
    name,
    namespace: `/ns-${name}`,
    OIDCClientSecret: box.seal(`${name}-secret`, { kind: 'service', id: ID, field: 'OIDCClientSecret' }),
  } as unknown as PolicyObject;
}

test('reseal: compare-and-set per object; a concurrent edit wins and is reported, the rest is re-sealed and audited', async () => {
  const old = new SecretBox([keyA]);
  const objects = [service('a', old), service('busy', old), service('c', old)];
  const writes: Array<{ object: PolicyObject; expected?: number }> = [];
  const store = {
    snapshot: { objects },
    entry: (_kind: string, id: string) => ({ object: objects.find((o) => o.ID === id)!, revision: 10 + objects.findIndex((o) => o.ID === id) }),
    async replace(object: PolicyObject, expected?: number) {
      if (object.ID === 'id-busy') throw new StoreConflict('stale');
      writes.push({ object, expected });
      return 99;
    },
  } as unknown as ObjectStore;
  const events: Array<{ title: string; content: string; namespace: string }> = [];
  const bus = {
    emitEvent: (kind: EventKind, e: { content: string; namespace: string }) =>
      events.push({ title: eventCatalogue[kind].title, content: e.content, namespace: e.namespace }),
  } as unknown as Bus;
  const secrets = new SecretBox([keyB, keyA]);

  const app = Fastify();
  app.addHook('onRequest', async (req) => {
    req.principal = { tokenID: 't1', name: 'root-admin', role: 'admin', namespace: '/' };
    req.namespace = '/';
  });
  await app.register(secretRoutes, { store, secrets, bus });
  const res = await app.inject({ method: 'POST', url: '/secrets/reseal' });
  assert.equal(res.statusCode, 200, res.body);
  const body = res.json();

  assert.deepEqual(
    writes.map((w) => [w.object.ID, w.expected]),
    [
      ['id-a', 10],
      ['id-c', 12],
    ],
    'each written against the revision it was read at',
  );
  for (const w of writes) assert.equal(keyIdOfSealed((w.object as unknown as { OIDCClientSecret: string }).OIDCClientSecret), secrets.currentKeyId);
  assert.deepEqual(
    body.resealed.map((r: { name: string; fields: string[] }) => [r.name, r.fields]),
    [
      ['a', ['OIDCClientSecret']],
      ['c', ['OIDCClientSecret']],
    ],
  );
  assert.deepEqual(
    body.conflicts.map((c: { name: string }) => c.name),
    ['busy'],
  );
  assert.deepEqual(
    events.map((e) => e.namespace),
    ['/ns-a', '/ns-c', '/'],
  );
  assert.ok(events.every((e) => e.title === 'Secrets re-sealed' && e.content.includes('root-admin') && e.content.includes(secrets.currentKeyId)));
  assert.match(events.at(-1)!.content, /2 object\(s\) re-sealed, 1 changed meanwhile \(run the re-seal again\)/);
  for (const e of events) assert.ok(!e.content.includes('-secret'), 'no secret in an event');
  await app.close();
});
