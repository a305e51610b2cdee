// Integration: the assertion key ring in its KV bucket on a real nats-server — two replicas writing at once
// converge on one ring (compare-and-set), each replica's watch sees the other's change, and an entry that is
// not a ring is reported and replaced by the next write.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { Kvm } from '@nats-io/kv';
import { buckets } from '@microseg/contracts';
import { startNats, waitFor, type RunningServer } from '@microseg/testkit';
import { SecretBox } from '../secrets.ts';
import type { SkippedEntry } from '../store.ts';
import { AssertionKeys } from './keys.ts';
import { AssertionKeyStore, parseRing } from './store.ts';

let nats: RunningServer;
const connections: NatsConnection[] = [];
const secrets = new SecretBox([Buffer.alloc(32, 9)]);
const settings = { issuer: 'microseg', ttlSeconds: 60, prepublishSeconds: 600, rotationDays: 30 };

async function openStore(onSkipped?: (s: SkippedEntry) => void): Promise<AssertionKeyStore> {
  const nc = await connect({ servers: nats.url });
  connections.push(nc);
  return AssertionKeyStore.open(nc, onSkipped);
}

before(async () => {
  nats = await startNats({ isolated: true, dataDir: await mkdtemp(join(tmpdir(), 'microseg-assertion-keys-')), defaultPort: 0 });
});

after(async () => {
  for (const nc of connections) await nc.close();
  await nats?.stop();
});

test('two replicas making the first key at once agree on one ring, and a rotation by one is seen by the other', async () => {
  const a = await openStore();
  const b = await openStore();
  const keysA = new AssertionKeys({ store: a, secrets, settings });
  const keysB = new AssertionKeys({ store: b, secrets, settings });
  const made = await Promise.all([keysA.maintain(), keysB.maintain()]);
  assert.deepEqual(made.filter(Boolean).length, 1, 'one replica made the key, the other found it');
  await waitFor('both replicas to see the ring', async () => a.ring?.keys.length === 1 && b.ring?.keys.length === 1, 5_000);
  assert.equal(a.ring!.keys[0]!.kid, b.ring!.keys[0]!.kid);

  let heard = 0;
  b.onChange(() => heard++);
  // Two rotations at once: one next key, not two.
  await Promise.all([keysA.rotate(false), keysB.rotate(false)]);
  await waitFor('replica b to see the rotation', async () => b.ring?.keys.length === 2, 5_000);
  assert.ok(heard >= 1);
  assert.equal(a.ring!.keys.length, 2);
});

test('an entry that is not a ring is reported (never its value) and made good by the next maintenance', async () => {
  const skipped: SkippedEntry[] = [];
  const store = await openStore((s) => skipped.push(s));
  const nc = await connect({ servers: nats.url });
  connections.push(nc);
  const kv = await new Kvm(nc).open(buckets.assertionKeys);
  await kv.put('ring', JSON.stringify({ v: 1, keys: [{ kid: 'x', secret: 'do-not-log-me' }] }));
  await waitFor('the entry to be reported', async () => skipped.length > 0, 5_000);
  assert.equal(skipped[0]!.key, 'ring');
  assert.doesNotMatch(skipped[0]!.problem, /do-not-log-me/);
  assert.equal(store.ring, undefined);
  await new AssertionKeys({ store, secrets, settings }).maintain();
  await waitFor('a new ring', async () => store.ring?.keys.length === 1, 5_000);
});

test('parseRing refuses a key whose JWK names another kid, and anything not JSON', () => {
  assert.equal(parseRing('not json').ok, false);
  const jwk = { kty: 'EC', crv: 'P-256', x: 'AA', y: 'BB', kid: 'other', alg: 'ES256', use: 'sig' };
  const parsed = parseRing(JSON.stringify({ v: 1, keys: [{ kid: 'k1', createdAtMs: 1, activateAtMs: 1, publicJwk: jwk, privateKey: 'enc:v2:x' }] }));
  assert.equal(parsed.ok, false);
});
