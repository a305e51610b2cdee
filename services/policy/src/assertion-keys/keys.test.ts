// Unit (a ring in memory): what a policy replica does with the assertion keys — the first key at the first
// look, what gateways receive (every published key, private halves opened; a key this replica cannot open
// published without it, and reported once), rotations by hand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { SecretBox } from '../secrets.ts';
import { AssertionKeys } from './keys.ts';
import type { Ring } from './ring.ts';

const T0 = Date.parse('2026-12-01T00:00:00Z');
const settings = { issuer: 'https://microseg.example.com', ttlSeconds: 60, prepublishSeconds: 600, rotationDays: 30 };

function memoryStore() {
  const store = {
    ring: undefined as Ring | undefined,
    writes: 0,
    async update(change: (ring: Ring | undefined) => Ring | undefined) {
      const next = change(store.ring && structuredClone(store.ring));
      if (next) {
        store.ring = next;
        store.writes++;
      }
      return store.ring;
    },
  };
  return store;
}

test('the first look makes the first key; gateways get it with its private half opened, and the settings', async () => {
  const store = memoryStore();
  let now = T0;
  const keys = new AssertionKeys({ store, secrets: new SecretBox([Buffer.alloc(32, 1)]), settings, now: () => now });
  assert.equal(await keys.maintain(), true);
  assert.equal(await keys.maintain(), false, 'a second look changes nothing');
  assert.equal(store.writes, 1);
  const sent = keys.forGateways();
  assert.equal(sent.issuer, settings.issuer);
  assert.equal(sent.ttlSeconds, 60);
  assert.equal(sent.keys?.length, 1);
  const key = sent.keys[0]!;
  assert.equal(key.activateAtMs, BigInt(T0));
  assert.equal(key.publishUntilMs, 0n);
  assert.equal(JSON.parse(key.publicJwk!).kid, key.kid);
  assert.equal(createPrivateKey(key.privateKeyPem!).asymmetricKeyType, 'ec');

  // A rotation: both keys go to gateways, with their times.
  now = T0 + 1000;
  const rotated = await keys.rotate(false);
  assert.equal(rotated.changed, true);
  const both = keys.forGateways().keys!;
  assert.equal(both.length, 2);
  assert.equal(both[1]!.activateAtMs, BigInt(T0 + 1000 + 600_000));
  assert.equal(both[0]!.publishUntilMs, BigInt(T0 + 1000 + 600_000 + 60_000 + 60_000));
  assert.deepEqual(
    keys.list().map((k) => k.state),
    ['signing', 'next'],
  );
  assert.ok(
    keys.list().every((k) => !('privateKey' in k)),
    'the API view has no private half',
  );

  // Once the old key is past its publication, it is no longer sent, even before maintenance drops it.
  now = T0 + 1000 + 600_000 + 120_000;
  assert.deepEqual(
    keys.forGateways().keys!.map((k) => k.kid),
    [both[1]!.kid],
  );
});

test('a key this replica cannot open is still published, without its private half, and reported once', async () => {
  const store = memoryStore();
  await new AssertionKeys({ store, secrets: new SecretBox([Buffer.alloc(32, 1)]), settings, now: () => T0 }).maintain();
  const reported: string[] = [];
  const stranger = new AssertionKeys({
    store,
    secrets: new SecretBox([Buffer.alloc(32, 2)]),
    settings,
    now: () => T0,
    onUnreadable: (kid, err) => reported.push(`${kid}: ${err.message}`),
  });
  for (let i = 0; i < 3; i++) {
    const [key] = stranger.forGateways().keys!;
    assert.equal(key!.privateKeyPem, '');
    assert.ok(key!.publicJwk);
  }
  assert.equal(reported.length, 1);
  assert.match(reported[0]!, /which this policy service does not have/);
});

test('a verifier (flowlog) gets the same published keys and the issuer, and never a private half', async () => {
  const store = memoryStore();
  let now = T0;
  const keys = new AssertionKeys({ store, secrets: new SecretBox([Buffer.alloc(32, 1)]), settings, now: () => now });
  await keys.maintain();
  now = T0 + 1000;
  await keys.rotate(false);
  const published = keys.publicKeys();
  assert.equal(published.issuer, settings.issuer);
  assert.deepEqual(
    published.keys!.map((k) => [k.kid, k.publicJwk, k.publishUntilMs]),
    keys.forGateways().keys!.map((k) => [k.kid, k.publicJwk, k.publishUntilMs]),
  );
  assert.doesNotMatch(
    JSON.stringify(published, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)),
    /PRIVATE|"d"|privateKey/,
  );
  now = T0 + 1000 + 600_000 + 120_000;
  assert.equal(keys.publicKeys().keys!.length, 1, 'a key past its publication is not sent');
});

test('an immediate rotation by hand: the new key signs at once, the others are no longer sent', async () => {
  const store = memoryStore();
  const keys = new AssertionKeys({ store, secrets: new SecretBox([Buffer.alloc(32, 1)]), settings, now: () => T0 });
  await keys.maintain();
  const old = keys.forGateways().keys![0]!.kid;
  const { changed } = await keys.rotate(true);
  assert.ok(changed);
  const sent = keys.forGateways().keys!;
  assert.equal(sent.length, 1);
  assert.notEqual(sent[0]!.kid, old);
  assert.equal(sent[0]!.activateAtMs, BigInt(T0));
});
