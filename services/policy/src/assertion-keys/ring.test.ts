// Unit: the assertion key ring over a clock — the first key, rotation with a key published before it signs and
// the old one published until its last assertion has expired, immediate rotation, automatic rotation, pruning
// and re-sealing after a secrets-key rotation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { SecretBox, keyIdOfSealed } from '../secrets.ts';
import {
  CLOCK_SKEW_MS,
  describe,
  firstRing,
  maintain,
  publishUntilMs,
  rotate,
  sealContextOf,
  signingKey,
  thumbprint,
  type Ring,
  type RingSettings,
} from './ring.ts';

const box = new SecretBox([Buffer.alloc(32, 3)]);
const T0 = Date.parse('2026-12-01T00:00:00Z');
const HOUR = 3600_000;
const DAY = 24 * HOUR;
const settings: RingSettings = { ttlSeconds: 60, prepublishSeconds: 3600, rotationDays: 30 };

test('the first key signs at once; its kid is its RFC 7638 thumbprint and its private half is sealed, bound to the kid', () => {
  const ring = firstRing(box, T0);
  assert.equal(ring.keys.length, 1);
  const key = ring.keys[0]!;
  assert.equal(signingKey(ring, T0), key);
  assert.equal(key.kid, thumbprint(key.publicJwk));
  assert.deepEqual(Object.keys(key.publicJwk).sort(), ['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
  assert.equal(key.publicJwk.alg, 'ES256');
  assert.match(key.privateKey, /^enc:v2:/);
  const pem = box.open(key.privateKey, sealContextOf(key.kid));
  // The private half belongs to the published public half.
  const publicOfPrivate = createPublicKey(createPrivateKey(pem)).export({ format: 'jwk' });
  assert.equal(publicOfPrivate.x, key.publicJwk.x);
  assert.throws(() => box.open(key.privateKey, sealContextOf('another-kid')), /does not open/);
  assert.equal(publishUntilMs(ring, key, 60), 0);
});

test('a rotation publishes the next key now and has it sign after the prepublication; the old one stays published until its last assertion expired', () => {
  const first = firstRing(box, T0);
  const { ring, changed } = rotate(first, box, T0 + DAY, settings);
  assert.ok(changed);
  const [old, next] = ring.keys as [Ring['keys'][0], Ring['keys'][0]];
  assert.equal(next.activateAtMs, T0 + DAY + HOUR);
  assert.equal(signingKey(ring, T0 + DAY + HOUR - 1), old, 'the old key signs until the switch');
  assert.equal(signingKey(ring, T0 + DAY + HOUR), next);
  assert.equal(publishUntilMs(ring, old, 60), T0 + DAY + HOUR + 60_000 + CLOCK_SKEW_MS);
  assert.deepEqual(
    describe(ring, T0 + DAY, 60).map((k) => k.state),
    ['signing', 'next'],
  );
  assert.deepEqual(
    describe(ring, T0 + DAY + HOUR, 60).map((k) => k.state),
    ['previous', 'signing'],
  );
  // Rotating again while a key waits changes nothing: the switch is not pushed further away.
  assert.equal(rotate(ring, box, T0 + DAY + 60_000, settings).changed, false);
});

test('maintenance drops a key once it is no longer published, and keeps it until then', () => {
  const { ring } = rotate(firstRing(box, T0), box, T0, settings);
  const until = publishUntilMs(ring, ring.keys[0]!, 60);
  assert.equal(maintain(ring, box, until - 1, settings).changed, false);
  const later = maintain(ring, box, until, settings);
  assert.ok(later.changed);
  assert.deepEqual(
    later.ring.keys.map((k) => k.kid),
    [ring.keys[1]!.kid],
  );
});

test('an immediate rotation signs with a new key at once and withdraws every other key (and a waiting one)', () => {
  const waiting = rotate(firstRing(box, T0), box, T0 + DAY, settings).ring;
  const { ring, changed } = rotate(waiting, box, T0 + DAY + 5_000, settings, true);
  assert.ok(changed);
  const fresh = ring.keys.at(-1)!;
  assert.equal(signingKey(ring, T0 + DAY + 5_000), fresh);
  // Not even the waiting key signs later: withdrawn keys never do.
  assert.equal(signingKey(ring, T0 + DAY + 2 * HOUR), fresh);
  for (const k of ring.keys.slice(0, -1)) assert.equal(publishUntilMs(ring, k, 60), T0 + DAY + 5_000);
  assert.deepEqual(
    maintain(ring, box, T0 + DAY + 5_000, settings).ring.keys.map((k) => k.kid),
    [fresh.kid],
  );
});

test('automatic rotation: the next key is published ahead so that it signs when the signing key is rotationDays old', () => {
  const ring = firstRing(box, T0);
  assert.equal(maintain(ring, box, T0 + 30 * DAY - HOUR - 1, settings).changed, false);
  const due = maintain(ring, box, T0 + 30 * DAY - HOUR, settings);
  assert.ok(due.changed);
  assert.equal(due.ring.keys.length, 2);
  assert.equal(due.ring.keys[1]!.activateAtMs, T0 + 30 * DAY);
  // Late (policy was down): the next key still gets its full prepublication.
  const late = maintain(ring, box, T0 + 40 * DAY, settings);
  assert.equal(late.ring.keys[1]!.activateAtMs, T0 + 40 * DAY + HOUR);
  // rotationDays 0: only by hand.
  assert.equal(maintain(ring, box, T0 + 400 * DAY, { ...settings, rotationDays: 0 }).changed, false);
});

test('an empty ring gets a key that signs at once', () => {
  const made = maintain({ v: 1, keys: [] }, box, T0, settings);
  assert.ok(made.changed);
  assert.equal(signingKey(made.ring, T0), made.ring.keys[0]);
});

test('after a secrets-key rotation, maintenance seals the private halves again with the new key', () => {
  const ring = firstRing(box, T0);
  const rotated = new SecretBox([Buffer.alloc(32, 4), Buffer.alloc(32, 3)]);
  const { ring: resealed, changed } = maintain(ring, rotated, T0 + 1, settings);
  assert.ok(changed);
  assert.equal(keyIdOfSealed(resealed.keys[0]!.privateKey), rotated.currentKeyId);
  assert.equal(
    rotated.open(resealed.keys[0]!.privateKey, sealContextOf(ring.keys[0]!.kid)),
    box.open(ring.keys[0]!.privateKey, sealContextOf(ring.keys[0]!.kid)),
  );
  // A half no key opens is left as it is (reported where it is used), never dropped.
  const stranger = new SecretBox([Buffer.alloc(32, 5)]);
  const kept = maintain(ring, stranger, T0 + 1, settings);
  assert.equal(kept.changed, false);
  assert.equal(kept.ring.keys[0]!.privateKey, ring.keys[0]!.privateKey);
});
