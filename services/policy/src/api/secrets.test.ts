// Integration: secrets through the API on a real nats-server. Input that looks sealed is
// refused (create, update, patch, import) while stored values left out keep working;
// GET /secrets lists what cannot be opened within the caller's subtree; POST /secrets/reseal
// needs an admin token of /. Requests go through app.http.inject().
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { Kvm, type KV } from '@nats-io/kv';
import { buckets, requests } from '@microseg/contracts';

import { createLogger } from '@microseg/telemetry';
import { startNats, waitFor, type RunningServer } from '@microseg/testkit';
import { buildPolicyApp, type PolicyApp } from '../app.ts';
import { policyConfigSchema } from '../config.ts';
import { stableObjectId } from '../objects/import-file.ts';
import { SecretBox, keyIdOf, keyIdOfSealed } from '../secrets.ts';
import { newToken } from './tokens.ts';

let dir: string;
let nats: RunningServer;
let app: PolicyApp;
let nc: NatsConnection;
let kv: KV;
const ADMIN = newToken().token;
const key = randomBytes(32);
const TEAM_A = '/acme/team-a';
const TEAM_B = '/acme/team-b';

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'microseg-policy-secrets-'));
  nats = await startNats({ isolated: true, dataDir: dir, defaultPort: 0 });
  const config = policyConfigSchema.parse({
    NATS_URL: nats.url,
    MICROSEG_DATA_DIR: dir,
    POLICY_ADMIN_TOKEN: ADMIN,
    LOG_LEVEL: 'silent',
    POLICY_SECRETS_KEYS: key.toString('base64'),
  });
  app = await buildPolicyApp(config, createLogger('policy', 'silent'));
  nc = await connect({ servers: nats.url });
  kv = await new Kvm(nc).open(buckets.objects);
});

after(async () => {
  await nc?.close();
  await app?.close(1_000);
  await nats?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH';
async function call(method: Method, url: string, options: { token?: string; ns?: string; body?: unknown } = {}) {
  const headers: Record<string, string> = { authorization: `Bearer ${options.token ?? ADMIN}`, 'x-namespace': options.ns ?? TEAM_A };
  const res = await app.http.inject({ method, url, headers, ...(options.body === undefined ? {} : { payload: options.body as object }) });
  return { status: res.statusCode, body: res.json<any>(), text: res.body };
}

async function token(role: string, namespace: string): Promise<string> {
  const res = await call('POST', '/apitokens', { ns: '/', body: { name: `${role}-${namespace.replaceAll('/', '_')}`, role, namespace } });
  assert.equal(res.status, 201, res.text);
  return res.body.token;
}

const oidcService = (name: string, secret = `${name}-secret`) => ({
  name,
  hosts: [`${name}.example.com`],
  port: 3000,
  exposedPort: 443,
  selectors: [['app=x']],
  authorizationType: 'OIDC',
  OIDCProviderURL: 'https://idp.example.com',
  OIDCClientID: name,
  OIDCClientSecret: secret,
});

const storedValue = async (ns: string, name: string, field = 'OIDCClientSecret'): Promise<string> =>
  String(JSON.parse((await kv.get(`service.${stableObjectId('service', ns, name)}`))!.string())[field]);

const clientSecret = async (ns: string, name: string) =>
  (await app.bus.request(requests.policyOidcClient, { serviceId: stableObjectId('service', ns, name) }, 5_000)).clientSecret;

function assertSealedRefused(res: { status: number; body: any; text: string }, attributes: string[], what: string) {
  assert.equal(res.status, 422, `${what}: ${res.text}`);
  assert.equal(res.body.code, 'POLICY_VALIDATION_FAILED');
  const named = (res.body.errors as Array<{ attribute: string; message: string }>)
    .filter((e) => /looks sealed/.test(e.message))
    .map((e) => e.attribute)
    .sort();
  assert.deepEqual(named, [...attributes].sort(), what);
  assert.match(res.body.message, /send the secret itself/, what);
}

test('create: a write-only field that looks sealed is refused with 422 naming it, with the other bad attributes; nothing stored', async () => {
  const sealed = (await call('POST', '/services', { body: oidcService('victim') })).status === 201 ? await storedValue(TEAM_A, 'victim') : assert.fail('setup');
  const res = await call('POST', '/services', { body: { ...oidcService('copy', sealed), TLSCertificate: 'CERT', TLSCertificateKey: 'enc:v1:AAAA', port: 0 } });
  assertSealedRefused(res, ['OIDCClientSecret', 'TLSCertificateKey'], 'POST');
  assert.ok(
    res.body.errors.some((e: { attribute: string }) => e.attribute === 'port'),
    'every bad attribute at once',
  );
  assert.equal((await call('GET', '/services/copy')).status, 404);
  assert.ok(!res.text.includes(sealed), 'the answer does not repeat the value');
});

test('update and patch: a sealed value is refused, even the stored one; leaving the field out keeps the stored secret', async () => {
  const stored = await storedValue(TEAM_A, 'victim');
  for (const [method, body] of [
    ['PUT', { ...oidcService('victim', stored), OIDCProviderURL: 'https://attacker.example.com' }],
    ['PUT', oidcService('victim', stored)],
    ['PATCH', { OIDCClientSecret: stored }],
    ['PATCH', { OIDCClientSecret: 'enc:v2:0123456789abcdef:AAAA', OIDCProviderURL: 'https://attacker.example.com' }],
  ] as const) {
    assertSealedRefused(await call(method, '/services/victim', { body }), ['OIDCClientSecret'], `${method} ${JSON.stringify(body).slice(0, 60)}`);
  }
  assert.equal(await storedValue(TEAM_A, 'victim'), stored, 'unchanged');

  const { OIDCClientSecret: _left, ...withoutSecret } = oidcService('victim');
  assert.equal((await call('PUT', '/services/victim', { body: { ...withoutSecret, description: 'put' } })).status, 200);
  assert.equal((await call('PATCH', '/services/victim', { body: { description: 'patched' } })).status, 200);
  assert.equal(await clientSecret(TEAM_A, 'victim'), 'victim-secret', 'the stored secret still opens');
  assert.equal(keyIdOfSealed(await storedValue(TEAM_A, 'victim')), keyIdOf(key));
  assert.equal((await call('PATCH', '/services/victim', { body: { OIDCClientSecret: 'new-secret' } })).status, 200);
  assert.equal(await clientSecret(TEAM_A, 'victim'), 'new-secret', 'a secret sent in clear replaces it');
});

test('import: a sealed value is refused naming its place in the document; an export imported again keeps the stored secret', async () => {
  const stored = await storedValue(TEAM_A, 'victim');
  const res = await call('POST', '/import', { body: { data: { services: [oidcService('imported'), oidcService('imported-2', stored)] } } });
  assertSealedRefused(res, ['data.services[1].OIDCClientSecret'], 'import');
  assert.equal((await call('GET', '/services/imported')).status, 404, 'all or nothing');

  const exported = await call('GET', '/export');
  assert.equal((await call('POST', '/import', { body: exported.body })).status, 200);
  assert.equal(await clientSecret(TEAM_A, 'victim'), 'new-secret');
});

test('a sealed value copied into another object in the bucket does not open there', async () => {
  await call('POST', '/services', { ns: TEAM_B, body: oidcService('other') });
  const copied = {
    ...JSON.parse((await kv.get(`service.${stableObjectId('service', TEAM_B, 'other')}`))!.string()),
    OIDCClientSecret: await storedValue(TEAM_A, 'victim'),
  };
  await kv.put(`service.${stableObjectId('service', TEAM_B, 'other')}`, JSON.stringify(copied));
  await waitFor(
    'the copy to arrive',
    async () => app.store.snapshot.services.get(stableObjectId('service', TEAM_B, 'other'))?.OIDCClientSecret === copied.OIDCClientSecret,
  );
  await assert.rejects(app.bus.request(requests.policyOidcClient, { serviceId: stableObjectId('service', TEAM_B, 'other') }, 5_000), {
    code: 'POLICY_SECRET_UNREADABLE',
  });
});

test('GET /secrets lists what cannot be opened within the namespace subtree only, for any role', async () => {
  // A secret of team-a sealed with a key this service does not have.
  const foreign = new SecretBox([randomBytes(32)]);
  const id = stableObjectId('service', TEAM_A, 'foreign');
  await call('POST', '/services', { body: oidcService('foreign') });
  const object = JSON.parse((await kv.get(`service.${id}`))!.string());
  await kv.put(`service.${id}`, JSON.stringify({ ...object, OIDCClientSecret: foreign.seal('x', { kind: 'service', id, field: 'OIDCClientSecret' }) }));
  await waitFor(
    'the foreign secret to arrive',
    async () => keyIdOfSealed(app.store.snapshot.services.get(id)?.OIDCClientSecret ?? '') === foreign.currentKeyId,
  );

  const viewerA = await token('viewer', TEAM_A);
  const mine = await call('GET', '/secrets', { token: viewerA, ns: TEAM_A });
  assert.equal(mine.status, 200, mine.text);
  assert.deepEqual(
    mine.body.unreadable.map((u: any) => [u.namespace, u.name, u.field, u.keyId, u.reason]),
    [[TEAM_A, 'foreign', 'OIDCClientSecret', foreign.currentKeyId, 'missing-key']],
  );
  assert.match(mine.body.unreadable[0].fix, new RegExp(`key ${foreign.currentKeyId}.*POLICY_SECRETS_KEYS`));
  assert.equal(mine.body.keyId, keyIdOf(key));

  const whole = await call('GET', '/secrets', { ns: '/' });
  assert.deepEqual(whole.body.unreadable.map((u: any) => `${u.namespace} ${u.name}`).sort(), [`${TEAM_A} foreign`, `${TEAM_B} other`]);
  assert.equal((await call('GET', '/secrets', { token: viewerA, ns: TEAM_B })).status, 403, 'another subtree');
  assert.equal((await call('GET', '/secrets', { token: viewerA, ns: '/acme' })).status, 403, 'a parent');
  const editorB = await token('editor', TEAM_B);
  assert.deepEqual(
    (await call('GET', '/secrets', { token: editorB, ns: TEAM_B })).body.unreadable.map((u: any) => u.name),
    ['other'],
  );
});

test('POST /secrets/reseal needs an admin token of /; a namespace admin or an editor of / is refused', async () => {
  for (const [role, ns] of [
    ['admin', TEAM_A],
    ['editor', '/'],
    ['viewer', '/'],
  ] as const) {
    const res = await call('POST', '/secrets/reseal', { token: await token(role, ns), ns });
    assert.equal(res.status, 403, `${role} of ${ns}: ${res.text}`);
    assert.equal(res.body.code, 'FORBIDDEN');
    assert.match(res.body.message, /admin token of \//);
  }
  const res = await call('POST', '/secrets/reseal', { ns: '/' });
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.body.resealed, [], 'everything is sealed with the current key already');
  assert.deepEqual(res.body.unreadable.map((u: any) => u.name).sort(), ['foreign', 'other'], 'what cannot be opened is named');
});
