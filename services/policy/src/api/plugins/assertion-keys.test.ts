// Unit (a ring in memory, app.inject()): the assertion keys through the API — any role lists the public keys,
// only an admin of / rotates; a rotation is announced to gateways before the answer and audited.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AssertionKeys } from '../../assertion-keys/keys.ts';
import type { Ring } from '../../assertion-keys/ring.ts';
import { SecretBox } from '../../secrets.ts';
import { call, pluginApp } from '../../testing/api-fakes.ts';
import { FakeBus } from '../../testing/fake-bus.ts';
import { assertionKeyRoutes } from './assertion-keys.ts';

async function setup() {
  let ring: Ring | undefined;
  const store = {
    get ring() {
      return ring;
    },
    async update(change: (r: Ring | undefined) => Ring | undefined) {
      ring = change(ring) ?? ring;
      return ring;
    },
  };
  const assertionKeys = new AssertionKeys({
    store,
    secrets: new SecretBox([Buffer.alloc(32, 1)]),
    settings: { issuer: 'microseg', ttlSeconds: 60, prepublishSeconds: 600, rotationDays: 30 },
  });
  await assertionKeys.maintain();
  const bus = new FakeBus();
  let announced = 0;
  const app = await pluginApp(assertionKeyRoutes, { assertionKeys, bus, announce: async () => void announced++ });
  return { app, bus, announced: () => announced };
}

test('any role lists the keys: public halves, states and times, never a private half', async () => {
  const { app } = await setup();
  const res = await call(app, 'GET', '/assertionkeys', { as: 'acmeViewer' });
  assert.equal(res.status, 200);
  assert.equal(res.body.issuer, 'microseg');
  assert.equal(res.body.keys.length, 1);
  assert.equal(res.body.keys[0].state, 'signing');
  assert.equal(res.body.keys[0].publicJwk.alg, 'ES256');
  assert.doesNotMatch(res.text, /PRIVATE|enc:v/);
  assert.equal((await call(app, 'GET', '/assertionkeys')).status, 401);
});

test('only an admin of / rotates; a rotation is announced before the answer and audited; a second one waits for the first', async () => {
  const { app, bus, announced } = await setup();
  for (const as of ['acmeAdmin', 'acmeEditor'] as const) {
    const refused = await call(app, 'POST', '/assertionkeys/rotate', { as });
    assert.equal(refused.status, 403, as);
    assert.match(refused.body.message, /admin token of \//);
  }
  const res = await call(app, 'POST', '/assertionkeys/rotate', { as: 'rootAdmin' });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.rotated, true);
  assert.deepEqual(
    res.body.keys.map((k: { state: string }) => k.state),
    ['signing', 'next'],
  );
  assert.equal(announced(), 1);
  assert.equal(bus.events.length, 1);
  assert.equal(bus.events[0]!.kind, 'assertionKeysRotated');
  assert.match(bus.events[0]!.input.content, /root-admin/);

  const again = await call(app, 'POST', '/assertionkeys/rotate', { as: 'rootAdmin', body: {} });
  assert.equal(again.body.rotated, false);
  assert.equal(announced(), 1);
});

test('an immediate rotation leaves one key, signing; a body that is not {immediate: boolean} is a 400', async () => {
  const { app } = await setup();
  const res = await call(app, 'POST', '/assertionkeys/rotate', { as: 'rootAdmin', body: { immediate: true } });
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(
    res.body.keys.filter((k: { publishedUntil: string | null }) => k.publishedUntil === null).map((k: { state: string }) => k.state),
    ['signing'],
  );
  assert.equal((await call(app, 'POST', '/assertionkeys/rotate', { as: 'rootAdmin', body: { immediate: 'yes' } })).status, 400);
  assert.equal((await call(app, 'POST', '/assertionkeys/rotate', { as: 'rootAdmin', body: { now: true } })).status, 400);
});
