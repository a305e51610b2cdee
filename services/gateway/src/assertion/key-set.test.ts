// Unit: the assertion keys a gateway holds — the newest activated key signs, a key is published from its
// arrival until its end, a key without its private half is published but never signs (reported once), and
// the key set is the same JSON until something in it changes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AssertionKeySet } from './key-set.ts';
import { settingsWith, testKey } from './testing.ts';

const T0 = 1_800_000_000_000;
const a = testKey('key-a');
const b = testKey('key-b');

test('the newest activated key signs; a key waiting for its time is published already; a retired one is not', () => {
  const set = new AssertionKeySet();
  set.update(
    settingsWith([
      { key: a, activateAtMs: T0, publishUntilMs: T0 + 5_000 + 120_000 },
      { key: b, activateAtMs: T0 + 5_000 },
    ]),
  );
  assert.equal(set.signer(T0)?.kid, 'key-a');
  assert.deepEqual(kids(set.jwks(T0)), ['key-a', 'key-b'], 'the next key is in the key set before it signs');
  assert.equal(set.signer(T0 + 5_000)?.kid, 'key-b');
  assert.deepEqual(kids(set.jwks(T0 + 5_000)), ['key-a', 'key-b'], 'the previous key stays while its assertions live');
  assert.deepEqual(kids(set.jwks(T0 + 125_000)), ['key-b']);
  assert.equal(set.signer(T0 - 1), undefined, 'nothing signs before the first activation');
});

test('the key set holds public halves only: what policy sent as the JWK, nothing private', () => {
  const set = new AssertionKeySet();
  set.update(settingsWith([{ key: a, activateAtMs: T0 }]));
  const jwks = JSON.parse(set.jwks(T0)) as { keys: Array<Record<string, unknown>> };
  assert.deepEqual(jwks.keys, [a.publicJwk]);
  assert.doesNotMatch(set.jwks(T0), /PRIVATE|"d"/);
});

test('a signing key without its private half (policy cannot open it) is published, never signs, and is reported once', () => {
  const problems: string[] = [];
  const set = new AssertionKeySet((m) => problems.push(m));
  set.update(settingsWith([{ key: a, activateAtMs: T0, withoutPrivateHalf: true }]));
  assert.equal(set.signer(T0), undefined);
  assert.equal(set.signer(T0 + 1), undefined);
  assert.deepEqual(kids(set.jwks(T0)), ['key-a']);
  assert.equal(problems.length, 1);
  assert.match(problems[0]!, /key-a.*without its private half/);
});

test('the same settings again change nothing (the generation stays); new settings change it, keys already read are kept', () => {
  const set = new AssertionKeySet();
  set.update(settingsWith([{ key: a, activateAtMs: T0 }]));
  const generation = set.generation;
  const signer = set.signer(T0)!.key;
  set.update(settingsWith([{ key: a, activateAtMs: T0 }]));
  assert.equal(set.generation, generation);
  set.update(settingsWith([{ key: a, activateAtMs: T0 }], { issuer: 'https://sso.example.com', ttlSeconds: 30 }));
  assert.equal(set.generation, generation + 1);
  assert.equal(set.issuer, 'https://sso.example.com');
  assert.equal(set.ttlSeconds, 30);
  assert.equal(set.signer(T0)!.key, signer, 'the private key was not parsed again');
  set.update(undefined);
  assert.equal(set.generation, generation + 1, 'a reply without settings changes nothing');
});

function kids(jwks: string): string[] {
  return (JSON.parse(jwks) as { keys: Array<{ kid: string }> }).keys.map((k) => k.kid);
}
