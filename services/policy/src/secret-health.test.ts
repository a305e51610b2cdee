// Unit (fakes): which stored secrets this replica cannot open and which are sealed with an older key or
// format, what each report says (the key, the reason, the fix — never the value), and that each object is
// reported once per stored value, with an event id every replica shares.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, randomBytes } from 'node:crypto';
import type { PolicyObject } from '@microseg/contracts';
import { fixFor, secretHealth, SecretHealthReporter } from './secret-health.ts';
import { SecretBox, SecretUnreadable, keyIdOf } from './secrets.ts';
import { FakeBus } from './testing/fake-bus.ts';
import { oidcService, processingUnit, service } from './testing/objects.ts';

const keyA = randomBytes(32);
const keyB = randomBytes(32);
const keyC = randomBytes(32);
const [idA, idB, idC] = [keyIdOf(keyA), keyIdOf(keyB), keyIdOf(keyC)];
const box = new SecretBox([keyA, keyB]);

const NS = '/acme';
const sealedFor = (sealer: SecretBox, object: { kind: string; ID: string }, field = 'OIDCClientSecret', plain = 'client-secret-value') =>
  sealer.seal(plain, { kind: object.kind, id: object.ID, field });

/** enc:v1 (no key id, no binding) sealed with `key`. */
function sealV1(key: Buffer, plain: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  return `enc:v1:${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url')}`;
}

function withSecret(name: string, value: (s: PolicyObject) => string) {
  const s = oidcService(name, NS);
  return { ...s, OIDCClientSecret: value(s) };
}

test('secretHealth: current seals are healthy; older keys, enc:v1 and values in clear are stale, each naming its key', () => {
  const current = withSecret('current', (s) => sealedFor(box, s));
  const olderKey = withSecret('older', (s) => sealedFor(new SecretBox([keyB]), s));
  const v1 = withSecret('v1', () => sealV1(keyA, 'x'));
  const clear = withSecret('clear', () => 'in-clear');
  const none = service('none', NS);
  const { unreadable, stale } = secretHealth(box, [current, olderKey, v1, clear, none]);
  assert.deepEqual(unreadable, []);
  assert.deepEqual(
    stale.map((s) => [s.name, s.field, s.keyId]),
    [
      ['older', 'OIDCClientSecret', idB],
      ['v1', 'OIDCClientSecret', ''],
      ['clear', 'OIDCClientSecret', ''],
    ],
  );
  assert.deepEqual(stale[0], { kind: 'service', ID: olderKey.ID, namespace: NS, name: 'older', field: 'OIDCClientSecret', keyId: idB });
});

test('secretHealth: a missing key, a value copied from another object, a malformed value and a lost v1 key, each with its fix', () => {
  const foreign = withSecret('foreign', (s) => sealedFor(new SecretBox([keyC]), s));
  const donor = oidcService('donor', NS);
  const copied = withSecret('copied', () => sealedFor(box, donor));
  const malformed = withSecret('malformed', () => 'enc:v2:not-a-key:zz');
  const lostV1 = withSecret('lost-v1', () => sealV1(keyC, 'x'));
  const { unreadable, stale } = secretHealth(box, [foreign, copied, malformed, lostV1]);
  assert.deepEqual(stale, []);
  assert.deepEqual(
    unreadable.map((u) => [u.name, u.reason, u.keyId]),
    [
      ['foreign', 'missing-key', idC],
      ['copied', 'does-not-open', idA],
      ['malformed', 'malformed', ''],
      ['lost-v1', 'missing-key', ''],
    ],
  );
  const [f, c, , l] = unreadable;
  assert.equal(f!.problem, `OIDCClientSecret sealed with key ${idC}, which this policy service does not have`);
  assert.match(f!.fix, new RegExp(`^Give key ${idC} to every policy replica in POLICY_SECRETS_KEYS`));
  assert.match(c!.fix, /^The stored value cannot be used/);
  assert.match(l!.fix, /^Give the key it was sealed with/);
  for (const u of unreadable) {
    assert.ok(u.fix.includes(`msctl api update service ${u.name} -n ${NS}`), u.fix);
    assert.ok(!JSON.stringify(u).includes('client-secret-value'), 'no plaintext anywhere');
  }
});

test('secretHealth: both write-only fields are checked; another error than SecretUnreadable is not swallowed', () => {
  const tls = service('tls', NS, { TLSCertificate: 'cert' });
  const object = { ...tls, TLSCertificateKey: sealedFor(new SecretBox([keyC]), tls, 'TLSCertificateKey') };
  assert.deepEqual(
    secretHealth(box, [object]).unreadable.map((u) => [u.field, u.reason]),
    [['TLSCertificateKey', 'missing-key']],
  );
  const broken = {
    open: () => {
      throw new TypeError('bug');
    },
    needsReseal: () => false,
  } as unknown as SecretBox;
  assert.throws(() => secretHealth(broken, [withSecret('x', () => 'v')]), TypeError);
});

test('fixFor: the commands name the object and field', () => {
  const fix = fixFor({ kind: 'service', name: 'web', namespace: '/acme/dev' }, 'TLSCertificateKey', new SecretUnreadable('does-not-open', idA));
  assert.equal(
    fix,
    'The stored value cannot be used (a sealed value copied from elsewhere never opens); set the secret again: msctl api get service web -n /acme/dev -o yaml > service.yaml, add TLSCertificateKey, then msctl api update service web -n /acme/dev -f service.yaml.',
  );
});

function reporter(withBox = box) {
  const bus = new FakeBus();
  const logs: Array<{ fields: Record<string, unknown>; msg: string }> = [];
  const r = new SecretHealthReporter(withBox, bus, (fields, msg) => void logs.push({ fields, msg }));
  return { r, bus, logs };
}

test('reporter: a scan reports each unreadable service once, with its consequence, and keeps the list current', () => {
  const { r, bus, logs } = reporter();
  const lost = withSecret('lost', (s) => sealedFor(new SecretBox([keyC]), s));
  const healthy = withSecret('healthy', (s) => sealedFor(box, s));
  r.scan([lost, healthy, processingUnit('web', NS)]);
  assert.deepEqual(
    r.unreadable.map((u) => u.name),
    ['lost'],
  );
  assert.equal(bus.events.length, 1);
  const [event] = bus.events;
  assert.equal(event!.kind, 'secretUnreadable');
  const { content, ...target } = event!.input;
  assert.deepEqual(target, { targetIdentity: 'service', targetId: lost.ID, namespace: NS });
  assert.match(content, /^The service lost in \/acme: OIDCClientSecret sealed with key [a-f0-9]{16}.*; sign-in to it fails until then\. Give key/);
  assert.match(event!.options.msgId ?? '', /^secret-unreadable-[a-f0-9]{24}$/);
  assert.deepEqual(logs, [
    {
      fields: { kind: 'service', name: 'lost', namespace: NS, fields: ['OIDCClientSecret'], keyIds: [idC] },
      msg: 'a secret cannot be decrypted: service lost in /acme',
    },
  ]);
  assert.ok(!JSON.stringify([bus.events, logs]).includes(lost.OIDCClientSecret), 'the sealed value is neither logged nor sent');

  r.scan([lost, healthy]);
  assert.equal(bus.events.length, 1, 'the same stored value is not reported again');

  const fixed = { ...lost, OIDCClientSecret: sealedFor(box, lost) };
  r.scan([fixed, healthy]);
  assert.deepEqual(r.unreadable, [], 'a fixed service leaves the list');
  assert.equal(bus.events.length, 1);

  const lostAgain = { ...lost, OIDCClientSecret: sealedFor(new SecretBox([keyC]), lost, 'OIDCClientSecret', 'another') };
  r.scan([lostAgain]);
  assert.equal(bus.events.length, 2, 'another unreadable value is news');
  assert.notEqual(bus.events[1]!.options.msgId, event!.options.msgId);
});

test('reporter: only services are scanned; both fields of one service make one event naming both consequences', () => {
  const { r, bus } = reporter();
  const tls = service('both', NS, { authorizationType: 'OIDC', TLSCertificate: 'cert' });
  const both = {
    ...tls,
    OIDCClientSecret: sealedFor(new SecretBox([keyC]), tls),
    TLSCertificateKey: sealedFor(new SecretBox([keyC]), tls, 'TLSCertificateKey'),
  };
  const notAService = { ...processingUnit('pu', NS), OIDCClientSecret: 'enc:v2:broken' } as unknown as PolicyObject;
  r.scan([both, notAService]);
  assert.deepEqual(
    r.unreadable.map((u) => `${u.name} ${u.field}`),
    ['both OIDCClientSecret', 'both TLSCertificateKey'],
  );
  assert.equal(bus.events.length, 1);
  assert.match(bus.events[0]!.input.content, /sign-in to it fails until then.*gateways do not serve it until then/);
});

test('reporter: check() reports what it finds like a scan (once), and replicas share the event id', () => {
  const lost = withSecret('lost', (s) => sealedFor(new SecretBox([keyC]), s));
  const one = reporter();
  const other = reporter(new SecretBox([keyB, keyA]));
  assert.deepEqual(
    one.r.check(lost).map((u) => u.reason),
    ['missing-key'],
  );
  one.r.scan([lost]);
  assert.equal(one.bus.events.length, 1, 'a scan after check() does not repeat the report');
  other.r.check(lost);
  assert.equal(other.bus.events[0]!.options.msgId, one.bus.events[0]!.options.msgId, 'JetStream keeps one of the replicas’ events');
  assert.deepEqual(one.r.check(withSecret('fine', (s) => sealedFor(box, s))), []);
  assert.equal(one.bus.events.length, 1);
});
