// Unit: sealed values (enc:v2): bound to kind, object ID and field; key ids; several keys
// (rotation); enc:v1 still opens; tampering and foreign keys are told apart; loading keys.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SecretBox, SecretUnreadable, keyIdOf, keyIdOfSealed, openObject, resealObject, sealObject, sealedInputFields, type SealContext } from './secrets.ts';

const keyA = Buffer.alloc(32, 1);
const keyB = Buffer.alloc(32, 2);
const here: SealContext = { kind: 'service', id: 'svc-1', field: 'OIDCClientSecret' };

/** What the previous version wrote: enc:v1:<base64url(iv | tag | ciphertext)>, no additional data. */
function sealV1(key: Buffer, plain: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  return `enc:v1:${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url')}`;
}

function unreadable(fn: () => unknown): SecretUnreadable {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof SecretUnreadable, `expected SecretUnreadable, got ${String(err)}`);
    return err;
  }
  assert.fail('the value opened');
}

test('a sealed value is enc:v2:<key id>:<base64url>, names the sealing key and opens to the plaintext', () => {
  const box = new SecretBox([keyA]);
  const sealed = box.seal('s3cret', here);
  assert.match(sealed, /^enc:v2:[a-f0-9]{16}:[A-Za-z0-9_-]+$/);
  assert.equal(keyIdOfSealed(sealed), keyIdOf(keyA));
  assert.ok(!sealed.includes('s3cret'));
  assert.equal(box.open(sealed, here), 's3cret');
  assert.notEqual(box.seal('s3cret', here), sealed, 'a fresh IV every time');
});

test('the key id is derived from the key: 16 hex digits, different keys differ, the same key agrees', () => {
  assert.match(keyIdOf(keyA), /^[a-f0-9]{16}$/);
  assert.notEqual(keyIdOf(keyA), keyIdOf(keyB));
  assert.equal(keyIdOf(Buffer.from(keyA)), keyIdOf(keyA));
  assert.equal(new SecretBox([keyA, keyB]).currentKeyId, keyIdOf(keyA));
  assert.deepEqual(new SecretBox([keyB, keyA]).keyIds, [keyIdOf(keyB), keyIdOf(keyA)]);
});

const elsewhere: Array<[what: string, ctx: SealContext]> = [
  ['another object', { ...here, id: 'svc-2' }],
  ['another field', { ...here, field: 'TLSCertificateKey' }],
  ['another kind', { ...here, kind: 'namespace' }],
];
for (const [what, ctx] of elsewhere) {
  test(`a sealed value copied into ${what} does not open`, () => {
    const box = new SecretBox([keyA]);
    const err = unreadable(() => box.open(box.seal('s3cret', here), ctx));
    assert.equal(err.reason, 'does-not-open');
    assert.equal(err.keyId, keyIdOf(keyA));
  });
}

test('the binding cannot be shifted between kind, ID and field (no ambiguous concatenation)', () => {
  const box = new SecretBox([keyA]);
  const sealed = box.seal('x', { kind: 'a', id: 'b.c', field: 'd' });
  assert.equal(unreadable(() => box.open(sealed, { kind: 'a.b', id: 'c', field: 'd' })).reason, 'does-not-open');
});

test('several keys: the first seals, every one opens; a value sealed with a key not given names that key', () => {
  const old = new SecretBox([keyA]).seal('old', here);
  const rotated = new SecretBox([keyB, keyA]);
  assert.equal(rotated.open(old, here), 'old', 'the old key still opens');
  assert.equal(keyIdOfSealed(rotated.seal('new', here)), keyIdOf(keyB), 'the first key seals');
  const onlyB = new SecretBox([keyB]);
  const err = unreadable(() => onlyB.open(old, here));
  assert.equal(err.reason, 'missing-key');
  assert.equal(err.keyId, keyIdOf(keyA));
  assert.match(err.message, new RegExp(keyIdOf(keyA)));
});

test('needsReseal: values in clear, enc:v1 and values of an older key; not those of the current key', () => {
  const rotated = new SecretBox([keyB, keyA]);
  assert.equal(rotated.needsReseal('plain'), true);
  assert.equal(rotated.needsReseal(sealV1(keyA, 'x')), true);
  assert.equal(rotated.needsReseal(new SecretBox([keyA]).seal('x', here)), true);
  assert.equal(rotated.needsReseal(rotated.seal('x', here)), false);
});

test('enc:v1 values (before key ids and binding) open with whichever key works, or name no key', () => {
  const v1 = sealV1(keyA, 'legacy');
  assert.equal(new SecretBox([keyB, keyA]).open(v1, here), 'legacy');
  assert.equal(new SecretBox([keyA]).open(v1, { kind: 'x', id: 'y', field: 'z' }), 'legacy', 'v1 carries no binding');
  const err = unreadable(() => new SecretBox([keyB]).open(v1, here));
  assert.equal(err.reason, 'missing-key');
  assert.equal(err.keyId, undefined);
});

test('tampering with the ciphertext, the tag or the IV is detected', () => {
  const box = new SecretBox([keyA]);
  const sealed = box.seal('s3cret-value', here);
  const [prefix, body] = [sealed.slice(0, sealed.lastIndexOf(':') + 1), sealed.slice(sealed.lastIndexOf(':') + 1)];
  const raw = Buffer.from(body, 'base64url');
  for (const at of [0, 12, 28, raw.length - 1]) {
    const altered = Buffer.from(raw);
    altered[at]! ^= 1;
    assert.equal(unreadable(() => box.open(prefix + altered.toString('base64url'), here)).reason, 'does-not-open', `byte ${at}`);
  }
});

test('malformed sealed values are refused as malformed, never returned as they are', () => {
  const box = new SecretBox([keyA]);
  for (const value of ['enc:', 'enc:v2:', 'enc:v2:zz:abc', `enc:v2:${keyIdOf(keyA)}:`, `enc:v2:${keyIdOf(keyA)}:short`, 'enc:v1:!!', 'enc:v9:abc']) {
    assert.equal(unreadable(() => box.open(value, here)).reason, 'malformed', value);
  }
  assert.equal(box.open('never sealed', here), 'never sealed', 'a value stored before sealing existed is used as it is');
});

test('sealObject seals input, even input that looks sealed; it keeps (and re-seals) only the stored value of the same object', () => {
  const old = new SecretBox([keyA]);
  const box = new SecretBox([keyB, keyA]);
  const stored = sealObject(old, { kind: 'service', ID: 'svc-1', OIDCClientSecret: 'kept', TLSCertificateKey: 'key' });
  // The same stored values, kept: re-sealed with the current key.
  const kept = sealObject(box, { ...stored }, stored);
  assert.equal(keyIdOfSealed(kept.OIDCClientSecret), box.currentKeyId);
  assert.deepEqual(openObject(box, kept), { kind: 'service', ID: 'svc-1', OIDCClientSecret: 'kept', TLSCertificateKey: 'key' });
  // A sealed value from elsewhere is input: sealed again, so it opens to itself, not to its plaintext.
  const foreign = old.seal('victim', { kind: 'service', id: 'svc-2', field: 'OIDCClientSecret' });
  const smuggled = sealObject(box, { kind: 'service', ID: 'svc-1', OIDCClientSecret: foreign }, stored);
  assert.equal(box.open(smuggled.OIDCClientSecret, { kind: 'service', id: 'svc-1', field: 'OIDCClientSecret' }), foreign);
  // The stored value of another object is not "stored" for this one.
  const other = sealObject(box, { kind: 'service', ID: 'svc-2', OIDCClientSecret: stored.OIDCClientSecret }, stored);
  assert.equal(box.open(other.OIDCClientSecret, { kind: 'service', id: 'svc-2', field: 'OIDCClientSecret' }), stored.OIDCClientSecret);
});

test('resealObject seals again what opens with an older key and leaves what cannot be opened', () => {
  const a = new SecretBox([keyA]);
  const c = new SecretBox([randomBytes(32)]);
  const object = {
    kind: 'service',
    ID: 'svc-1',
    OIDCClientSecret: a.seal('one', here),
    TLSCertificateKey: c.seal('two', { ...here, field: 'TLSCertificateKey' }),
  };
  const box = new SecretBox([keyB, keyA]);
  const { object: again, fields } = resealObject(box, object);
  assert.deepEqual(fields, ['OIDCClientSecret']);
  assert.equal(keyIdOfSealed(again.OIDCClientSecret), keyIdOf(keyB));
  assert.equal(new SecretBox([keyB]).open(again.OIDCClientSecret, here), 'one', 'only the new key is needed now');
  assert.equal(again.TLSCertificateKey, object.TLSCertificateKey, 'left as it was');
  assert.deepEqual(resealObject(box, again).fields, [], 'nothing more to do');
});

test('sealedInputFields names the write-only fields that look sealed', () => {
  assert.deepEqual(sealedInputFields({ OIDCClientSecret: 'enc:v2:abc', TLSCertificateKey: '  enc:v1:x', name: 'enc:x' }), [
    'OIDCClientSecret',
    'TLSCertificateKey',
  ]);
  assert.deepEqual(sealedInputFields({ OIDCClientSecret: 'an enc: inside', TLSCertificateKey: '-----BEGIN' }), []);
  assert.deepEqual(sealedInputFields(null), []);
  assert.deepEqual(sealedInputFields('enc:'), []);
});

test('SecretBox.load: configured keys first; else the key file, created once and read back', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'microseg-secrets-'));
  const file = join(dir, 'policy', 'secrets.key');
  const said: string[] = [];
  const configured = await SecretBox.load([keyB.toString('base64'), keyA.toString('base64')], file, (m) => said.push(m));
  assert.deepEqual(configured.keyIds, [keyIdOf(keyB), keyIdOf(keyA)]);
  assert.equal(said.length, 0, 'no file made when keys are given');

  const first = await SecretBox.load([], file, (m) => said.push(m));
  assert.match(said[0] ?? '', /generated the key/);
  const second = await SecretBox.load([], file, (m) => said.push(m));
  assert.equal(second.currentKeyId, first.currentKeyId);
  assert.equal(keyIdOf(Buffer.from(await readFile(file, 'utf8'), 'base64')), first.currentKeyId);
});

test('SecretBox.load: a bad configured key or key file stops the start with a message naming it and the fix', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'microseg-secrets-'));
  await assert.rejects(
    SecretBox.load([keyA.toString('base64'), 'c2hvcnQ='], join(dir, 'unused'), () => undefined),
    /secrets key 2 is not the base64 of 32 bytes.*openssl rand -base64 32/,
  );
  const file = join(dir, 'secrets.key');
  await writeFile(file, 'not a key');
  await assert.rejects(
    SecretBox.load([], file, () => undefined),
    (err: Error) => err.message.includes(file) && /POLICY_SECRETS_KEYS/.test(err.message) && /restore/i.test(err.message),
  );
  assert.equal(await readFile(file, 'utf8'), 'not a key', 'the file is left as it was');
});
