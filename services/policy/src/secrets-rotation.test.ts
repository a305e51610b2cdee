// Integration (real nats-server): the policy service restarted with other secrets keys.
// Key A seals; a restart with only key B starts anyway, lists what it cannot open, refuses
// those sign-ins with POLICY_SECRET_UNREADABLE, leaves that TLS service out of the gateway's
// routes and serves everything else; the bootstrap file's plaintext overwrites its own
// objects. With B,A everything opens; a re-seal leaves B the only key needed.
// Tests run in order: each starts the service the way the previous one left the bucket.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromBinary } from '@bufbuild/protobuf';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { Kvm, type KV } from '@nats-io/kv';
import { buckets, requests, subjects } from '@microseg/contracts';
import { errorCodes } from '@microseg/errors';
import { LogEventSchema, type LogEvent } from '@microseg/proto/events';

import { createLogger } from '@microseg/telemetry';
import { startNats, waitFor, type RunningServer } from '@microseg/testkit';
import { buildPolicyApp, type PolicyApp } from './app.ts';
import { policyConfigSchema } from './config.ts';
import { stableObjectId } from './objects/import-file.ts';
import { keyIdOf, keyIdOfSealed } from './secrets.ts';
import { newToken } from './api/tokens.ts';

const keyA = randomBytes(32);
const keyB = randomBytes(32);
const [idA, idB] = [keyIdOf(keyA), keyIdOf(keyB)];
const ADMIN = newToken().token;
const NS = '/acme';
const id = (name: string) => stableObjectId('service', NS, name);

let dir: string;
let nats: RunningServer;
let nc: NatsConnection;
let kv: KV;
let app: PolicyApp | undefined;
const events: LogEvent[] = [];

const oidc = (name: string, secret: string) => ({
  name,
  hosts: [`${name}.example.com`],
  port: 3000,
  exposedPort: 443,
  selectors: [['app=web']],
  authorizationType: 'OIDC',
  OIDCProviderURL: 'https://idp.example.com',
  OIDCClientID: name,
  OIDCClientSecret: secret,
});

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'microseg-policy-rotation-'));
  nats = await startNats({ isolated: true, dataDir: dir, defaultPort: 0 });
  nc = await connect({ servers: nats.url });
  const sub = nc.subscribe(subjects.logEvent('policy'));
  void (async () => {
    for await (const m of sub) events.push(fromBinary(LogEventSchema, m.data));
  })();
  // The bootstrap file carries its secret in clear, as deploy/demo/objects.yaml does.
  await writeFile(join(dir, 'bootstrap.yaml'), `namespace: ${NS}\ndata:\n  services:\n    - ${JSON.stringify(oidc('boot', 'boot-secret'))}\n`);
});

after(async () => {
  await app?.close(1_000);
  await nc?.close();
  await nats?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function start(keys: Buffer[]): Promise<PolicyApp> {
  await app?.close(1_000);
  app = undefined;
  const config = policyConfigSchema.parse({
    NATS_URL: nats.url,
    MICROSEG_DATA_DIR: dir,
    POLICY_ADMIN_TOKEN: ADMIN,
    LOG_LEVEL: 'silent',
    POLICY_SECRETS_KEYS: keys.map((k) => k.toString('base64')).join(','),
    POLICY_BOOTSTRAP_FILES: join(dir, 'bootstrap.yaml'),
  });
  app = await buildPolicyApp(config, createLogger('policy', 'silent'));
  kv ??= await new Kvm(nc).open(buckets.objects);
  return app;
}

async function call(method: 'GET' | 'POST', url: string, body?: unknown) {
  const res = await app!.http.inject({
    method,
    url,
    headers: { authorization: `Bearer ${ADMIN}`, 'x-namespace': NS },
    ...(body ? { payload: body } : {}),
  });
  return { status: res.statusCode, body: res.json<any>() };
}

const oidcClient = (name: string) => app!.bus.request(requests.policyOidcClient, { serviceId: id(name) }, 5_000);
const storedKeyId = async (name: string, field = 'OIDCClientSecret') =>
  keyIdOfSealed(String(JSON.parse((await kv.get(`service.${id(name)}`))!.string())[field]));
const unreadableEvents = (name: string) => events.filter((e) => e.title === 'Secret cannot be decrypted' && e.targetId === id(name));

/** What the previous version stored: enc:v1, one key, no binding. */
function sealV1(key: Buffer, plain: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  return `enc:v1:${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url')}`;
}

test('key A: services with an OIDC secret and a TLS key are stored sealed with A', async () => {
  await start([keyA]);
  assert.equal((await call('POST', '/services', oidc('locked', 'locked-secret'))).status, 201);
  const tls = {
    name: 'tls-locked',
    hosts: ['tls.example.com'],
    port: 3000,
    exposedPort: 443,
    selectors: [['app=web']],
    TLSCertificate: 'CERT',
    TLSCertificateKey: 'KEY',
  };
  assert.equal((await call('POST', '/services', tls)).status, 201);
  assert.equal(
    (await call('POST', '/services', { name: 'open', hosts: ['open.example.com'], port: 3000, exposedPort: 443, selectors: [['app=web']] })).status,
    201,
  );
  assert.equal(await storedKeyId('locked'), idA);
  assert.equal(await storedKeyId('tls-locked', 'TLSCertificateKey'), idA);
  assert.equal(await storedKeyId('boot'), idA);
  // A service written by the previous version: enc:v1 with key A.
  const legacy = {
    ...(await call('GET', '/services/open')).body,
    name: 'legacy',
    ID: id('legacy'),
    kind: 'service',
    hosts: ['legacy.example.com'],
    authorizationType: 'OIDC',
    OIDCProviderURL: 'https://idp.example.com',
    OIDCClientID: 'legacy',
    OIDCClientSecret: sealV1(keyA, 'legacy-secret'),
  };
  await kv.put(`service.${id('legacy')}`, JSON.stringify(legacy));
  await waitFor('the legacy service', async () => app!.store.snapshot.services.has(id('legacy')));
  assert.equal((await oidcClient('legacy')).clientSecret, 'legacy-secret', 'enc:v1 still opens');
});

test('only key B: the service starts, lists what it cannot open, refuses those sign-ins and serves the rest', async () => {
  events.length = 0;
  await start([keyB]);

  const status = await call('GET', '/secrets');
  assert.equal(status.status, 200);
  assert.equal(status.body.keyId, idB);
  const listed = status.body.unreadable.map((u: any) => `${u.kind} ${u.namespace} ${u.name} ${u.field} ${u.keyId}`).sort();
  assert.deepEqual(listed, [
    `service ${NS} legacy OIDCClientSecret `,
    `service ${NS} locked OIDCClientSecret ${idA}`,
    `service ${NS} tls-locked TLSCertificateKey ${idA}`,
  ]);
  for (const u of status.body.unreadable) assert.match(u.fix, /POLICY_SECRETS_KEYS.*msctl api update/s);

  // Sign-in: a registered code whose message the login page shows.
  await assert.rejects(oidcClient('locked'), { code: 'POLICY_SECRET_UNREADABLE', message: errorCodes.POLICY_SECRET_UNREADABLE.message });
  // The bootstrap file's plaintext overwrote its own service: sealed with B now.
  assert.equal((await oidcClient('boot')).clientSecret, 'boot-secret');
  assert.equal(await storedKeyId('boot'), idB);
  const decision = await app!.bus.request(requests.policyDecide, { serviceId: id('open'), method: 'GET', path: '/', authenticated: false, tags: [] }, 5_000);
  assert.equal(decision.error, undefined, 'other services still decide');

  // The gateway gets every route but the one whose TLS key cannot be opened.
  const sync = await app!.bus.request(
    requests.policyGatewaySync,
    {
      gatewayId: 'gw',
      exposedPorts: [443],
      processingUnits: [{ name: 'pu', namespace: NS, tags: ['app=web'], address: '127.0.0.1', applicationPorts: [3000] }],
    },
    5_000,
  );
  assert.equal(sync.error, undefined);
  assert.deepEqual(sync.services.map((s) => s.name).sort(), ['boot', 'legacy', 'locked', 'open']);

  // One Error event per object, in its namespace, naming the key and the fix; asking again adds none.
  await oidcClient('locked').catch(() => undefined);
  await waitFor('the events', async () => ['locked', 'tls-locked', 'legacy'].every((n) => unreadableEvents(n).length > 0));
  await app!.bus.nc.flush();
  for (const name of ['locked', 'tls-locked', 'legacy']) {
    const mine = unreadableEvents(name);
    assert.equal(mine.length, 1, `${name}: ${mine.length} events`);
    assert.equal(mine[0]!.level, 'Error');
    assert.equal(mine[0]!.namespace, NS);
    assert.match(mine[0]!.content, /POLICY_SECRETS_KEYS/);
    assert.match(mine[0]!.content, new RegExp(`msctl api update service ${name} -n ${NS}`));
  }
  assert.match(unreadableEvents('locked')[0]!.content, new RegExp(`key ${idA}`));
  assert.match(unreadableEvents('tls-locked')[0]!.content, /gateways do not serve it/);
  assert.equal(unreadableEvents('boot').length, 0);
  for (const e of events) assert.ok(!/locked-secret|legacy-secret|boot-secret|KEY"/.test(e.content), 'an event carries a secret');
});

test('keys B,A: everything opens; the listing names what still needs A; a re-seal leaves B the only key needed', async () => {
  await start([keyB, keyA]);
  assert.equal((await oidcClient('locked')).clientSecret, 'locked-secret');
  assert.equal((await oidcClient('legacy')).clientSecret, 'legacy-secret');
  const before = await call('GET', '/secrets');
  assert.deepEqual(before.body.unreadable, []);
  assert.deepEqual(before.body.stale.map((s: any) => `${s.name} ${s.field} ${s.keyId}`).sort(), [
    'legacy OIDCClientSecret ',
    `locked OIDCClientSecret ${idA}`,
    `tls-locked TLSCertificateKey ${idA}`,
  ]);

  const resealed = await call('POST', '/secrets/reseal');
  assert.equal(resealed.status, 200, JSON.stringify(resealed.body));
  assert.deepEqual(resealed.body.resealed.map((r: any) => r.name).sort(), ['legacy', 'locked', 'tls-locked']);
  assert.deepEqual(resealed.body.conflicts, []);
  for (const name of ['locked', 'legacy']) assert.equal(await storedKeyId(name), idB, name);
  assert.equal(await storedKeyId('tls-locked', 'TLSCertificateKey'), idB);
  await waitFor('the re-seal audit events', async () => events.filter((e) => e.title === 'Secrets re-sealed').length >= 4);
  assert.deepEqual((await call('GET', '/secrets')).body.stale, []);
});

test('only key B again: every secret opens', async () => {
  await start([keyB]);
  assert.deepEqual((await call('GET', '/secrets')).body.unreadable, []);
  assert.equal((await oidcClient('locked')).clientSecret, 'locked-secret');
  assert.equal((await oidcClient('legacy')).clientSecret, 'legacy-secret');
  const sync = await app!.bus.request(
    requests.policyGatewaySync,
    {
      gatewayId: 'gw',
      exposedPorts: [443],
      processingUnits: [{ name: 'pu', namespace: NS, tags: ['app=web'], address: '127.0.0.1', applicationPorts: [3000] }],
    },
    5_000,
  );
  assert.equal(sync.services.find((s) => s.name === 'tls-locked')?.tlsCertificateKey, 'KEY');
});
