// Integration: the object API (SPEC §2, §9) on a real nats-server (JetStream),
// private to this file: CRUD, ETag/If-Match, validation, import/export, write-only
// secrets sealed at rest and audit events. Requests go through app.http.inject().
// Tests run in order and share the server; each uses its own namespace or names. Long on purpose: one
// nats-server for every case of the object API (a server per file costs seconds); the unit cases of each
// plugin are beside it, in plugins/*.test.ts.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromBinary } from '@bufbuild/protobuf';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream, type ConsumerMessages } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { stringify as toYaml } from 'yaml';
import { requests } from '@microseg/contracts';
import { LogEventSchema, type LogEvent } from '@microseg/proto/events';

import { createLogger } from '@microseg/telemetry';
import { startNats, waitFor, type RunningServer } from '@microseg/testkit';
import { buildPolicyApp, type PolicyApp } from '../app.ts';
import { policyConfigSchema } from '../config.ts';
import { newToken } from './tokens.ts';

let dir: string;
let nats: RunningServer;
let app: PolicyApp;
let nc: NatsConnection;
let kv: KV;
let eventStream: ConsumerMessages;
/** Every audit event of the policy service, as read from JetStream. */
const audit: Array<{ subject: string; event: LogEvent }> = [];
const ADMIN = newToken().token;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'microseg-policy-objects-'));
  nats = await startNats({ isolated: true, dataDir: dir, defaultPort: 0 });
  const config = policyConfigSchema.parse({ NATS_URL: nats.url, MICROSEG_DATA_DIR: dir, POLICY_ADMIN_TOKEN: ADMIN, LOG_LEVEL: 'silent' });
  app = await buildPolicyApp(config, createLogger('policy', 'silent'));
  nc = await connect({ servers: nats.url });
  kv = await new Kvm(nc).open('microseg_objects');
  const consumer = await jetstream(nc).consumers.get('MICROSEG_EVENTS', { filter_subjects: 'evt.policy.v1.event' });
  eventStream = await consumer.consume();
  void (async () => {
    for await (const m of eventStream) audit.push({ subject: m.subject, event: fromBinary(LogEventSchema, m.data) });
  })();
});

after(async () => {
  await eventStream?.close();
  await nc?.close();
  await app?.close(1_000);
  await nats?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
interface Reply {
  status: number;
  body: any;
  text: string;
  etag: string | undefined;
  contentType: string;
}

async function call(
  method: Method,
  url: string,
  options: { token?: string; ns?: string; body?: unknown; yaml?: string; raw?: { type: string; payload: string }; headers?: Record<string, string> } = {},
): Promise<Reply> {
  const headers: Record<string, string> = { authorization: `Bearer ${options.token ?? ADMIN}`, ...options.headers };
  if (options.ns !== undefined) headers['x-namespace'] = options.ns;
  let payload: string | object | undefined = options.body as object | undefined;
  if (options.yaml !== undefined) {
    headers['content-type'] = 'application/yaml';
    payload = options.yaml;
  }
  if (options.raw) {
    headers['content-type'] = options.raw.type;
    payload = options.raw.payload;
  }
  const res = await app.http.inject({ method, url, headers, ...(payload === undefined ? {} : { payload }) });
  let body: unknown;
  try {
    body = res.body ? JSON.parse(res.body) : undefined;
  } catch {
    assert.fail(`${method} ${url} answered ${res.statusCode} with a body that is not JSON: ${res.body.slice(0, 200)}`);
  }
  return { status: res.statusCode, body, text: res.body, etag: res.headers.etag, contentType: String(res.headers['content-type'] ?? '') };
}

const attributes = (res: Reply): string[] => (res.body.errors as Array<{ attribute: string }>).map((e) => e.attribute).sort();

function assertValidationFailed(res: Reply, expected: string[], what: string): void {
  assert.equal(res.status, 422, `${what}: ${res.text}`);
  assert.equal(res.body.code, 'POLICY_VALIDATION_FAILED', what);
  assert.deepEqual(attributes(res), [...expected].sort(), `${what}: ${res.text}`);
  for (const e of res.body.errors as Array<{ attribute: string; message: string }>) assert.ok(e.message.length > 0, `${what}: ${e.attribute} has a message`);
  for (const a of expected) assert.ok(res.body.message.includes(a), `${what}: the message names ${a}`);
}

/** The raw JSON stored in the bucket, as any NATS client reads it. */
async function stored(kind: string, id: string): Promise<{ text: string; json: Record<string, unknown> } | undefined> {
  const entry = await kv.get(`${kind}.${id}`);
  if (!entry || entry.operation !== 'PUT') return undefined;
  const text = entry.string();
  return { text, json: JSON.parse(text) };
}

/** The OIDC client secret the policy service hands to authn (opened from the bucket). */
async function clientSecretOf(serviceId: string): Promise<string> {
  const res = await app.bus.request(requests.policyOidcClient, { serviceId }, 5_000);
  assert.equal(res.error, undefined, `oidc client lookup failed: ${JSON.stringify(res.error)}`);
  return res.clientSecret;
}

const plainService = (name: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  name,
  hosts: [`${name}.example.com`],
  port: 3000,
  exposedPort: 443,
  ...extra,
});
const oidcService = (name: string, secret: string, extra: Record<string, unknown> = {}) =>
  plainService(name, {
    authorizationType: 'OIDC',
    OIDCProviderURL: 'https://idp.example.com',
    OIDCClientID: `${name}-client`,
    OIDCClientSecret: secret,
    ...extra,
  });

function assertNoSecrets(res: Reply, secrets: string[], what: string): void {
  for (const s of secrets) assert.ok(!res.text.includes(s), `${what} shows a secret`);
  assert.ok(!res.text.includes('OIDCClientSecret'), `${what} has OIDCClientSecret`);
  assert.ok(!res.text.includes('TLSCertificateKey'), `${what} has TLSCertificateKey`);
  assert.ok(!res.text.includes('enc:'), `${what} shows a sealed value`);
}

// ---------------------------------------------------------------- create, read

test('create a service from YAML (application/yaml): 201, ETag, the secret never shown and sealed in the bucket', async () => {
  const secret = 'yaml-client-secret-0123456789';
  const res = await call('POST', '/services', { ns: '/acme', yaml: toYaml(oidcService('yaml-app', secret, { description: 'from YAML' })) });
  assert.equal(res.status, 201, res.text);
  assert.match(res.etag ?? '', /^"\d+"$/);
  assert.match(res.contentType, /application\/json/);
  assert.equal(res.body.kind, 'service');
  assert.equal(res.body.name, 'yaml-app');
  assert.equal(res.body.namespace, '/acme');
  assert.equal(res.body.description, 'from YAML');
  assert.equal(res.body.OIDCClientID, 'yaml-app-client');
  assert.match(res.body.ID, /^[a-f0-9]{24}$/);
  assertNoSecrets(res, [secret], 'the creation answer');

  for (const url of ['/services/yaml-app', `/services/${res.body.ID}`, '/services', '/services?recursive=true', '/export']) {
    const read = await call('GET', url, { ns: '/acme' });
    assert.equal(read.status, 200, url);
    assert.ok(read.text.includes('yaml-app'), `${url} shows the service`);
    assertNoSecrets(read, [secret], url);
  }

  const raw = await stored('service', res.body.ID);
  assert.ok(raw, 'stored in microseg_objects');
  assert.match(String(raw.json.OIDCClientSecret), /^enc:v2:[a-f0-9]{16}:/);
  assert.ok(!raw.text.includes(secret), 'the bucket holds no plaintext secret');
  assert.equal(await clientSecretOf(res.body.ID), secret, 'the sealed secret opens to what was written');
});

test('create a service from JSON: 201, ETag; the TLS key is write-only and sealed, the certificate is shown', async () => {
  const key = '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJSONKEYMATERIAL\n-----END PRIVATE KEY-----';
  const certificate = '-----BEGIN CERTIFICATE-----\nMIIBJSONCERT\n-----END CERTIFICATE-----';
  const secret = 'json-client-secret-9876543210';
  const res = await call('POST', '/services', { ns: '/acme', body: oidcService('json-app', secret, { TLSCertificate: certificate, TLSCertificateKey: key }) });
  assert.equal(res.status, 201, res.text);
  assert.match(res.etag ?? '', /^"\d+"$/);
  assert.equal(res.body.TLSCertificate, certificate);
  assertNoSecrets(res, [secret, 'JSONKEYMATERIAL'], 'the creation answer');
  const read = await call('GET', '/services/json-app', { ns: '/acme' });
  assert.equal(read.etag, res.etag, 'the same revision is read back');
  assertNoSecrets(read, [secret, 'JSONKEYMATERIAL'], 'GET');

  const raw = await stored('service', res.body.ID);
  assert.ok(raw);
  assert.match(String(raw.json.OIDCClientSecret), /^enc:v2:[a-f0-9]{16}:/);
  assert.match(String(raw.json.TLSCertificateKey), /^enc:v2:[a-f0-9]{16}:/);
  assert.ok(!raw.text.includes(secret) && !raw.text.includes('JSONKEYMATERIAL'), 'no plaintext in the bucket');
});

test('a second create with the same name is refused with 409 and the first object is unchanged', async () => {
  const first = await call('POST', '/services', { ns: '/dup', body: plainService('twin', { description: 'first' }) });
  assert.equal(first.status, 201, first.text);
  const second = await call('POST', '/services', { ns: '/dup', body: plainService('twin', { description: 'second' }) });
  assert.equal(second.status, 409, second.text);
  assert.equal(second.body.code, 'CONFLICT');
  assert.match(second.body.message, /twin/);
  const read = await call('GET', '/services/twin', { ns: '/dup' });
  assert.equal(read.body.description, 'first');
  assert.equal(read.etag, first.etag);
  const elsewhere = await call('POST', '/services', { ns: '/dup/other', body: plainService('twin') });
  assert.equal(elsewhere.status, 201, 'the same name in another namespace is another object');
  assert.notEqual(elsewhere.body.ID, first.body.ID);
});

test('get by name and by ID return the same object and ETag; other namespaces do not see it', async () => {
  const created = await call('POST', '/httpresourcespecs', { ns: '/lookup', body: { name: 'api', endpoints: [{ URI: '/api/*', methods: ['GET'] }] } });
  assert.equal(created.status, 201, created.text);
  const byName = await call('GET', '/httpresourcespecs/api', { ns: '/lookup' });
  const byId = await call('GET', `/httpresourcespecs/${created.body.ID}`, { ns: '/lookup' });
  assert.equal(byName.status, 200);
  assert.equal(byId.status, 200);
  assert.deepEqual(byName.body, byId.body);
  assert.deepEqual(byName.body, created.body);
  assert.equal(byName.etag, created.etag);
  assert.equal(byId.etag, created.etag);
  for (const url of ['/httpresourcespecs/api', `/httpresourcespecs/${created.body.ID}`]) {
    const other = await call('GET', url, { ns: '/lookup-other' });
    assert.equal(other.status, 404, `${url} from another namespace`);
    assert.equal(other.body.code, 'NOT_FOUND');
  }
  assert.equal((await call('GET', `/services/${created.body.ID}`, { ns: '/lookup' })).status, 404, 'an ID of another kind');
});

test('list shows one namespace; ?recursive=true adds child namespaces, never siblings that share a prefix', async () => {
  for (const ns of ['/tree', '/tree/a', '/tree/a/b', '/treeish', '/']) {
    const res = await call('POST', '/externalnetworks', { ns, body: { name: `net-${ns.replaceAll('/', '_')}`, entries: ['10.0.0.0/8'] } });
    assert.equal(res.status, 201, res.text);
  }
  const flat = await call('GET', '/externalnetworks', { ns: '/tree' });
  assert.equal(flat.status, 200);
  assert.deepEqual(
    flat.body.map((o: { namespace: string }) => o.namespace),
    ['/tree'],
  );
  const deep = await call('GET', '/externalnetworks?recursive=true', { ns: '/tree' });
  assert.deepEqual(
    deep.body.map((o: { namespace: string }) => o.namespace),
    ['/tree', '/tree/a', '/tree/a/b'],
  );
  const child = await call('GET', '/externalnetworks?recursive=true', { ns: '/tree/a' });
  assert.deepEqual(
    child.body.map((o: { namespace: string }) => o.namespace),
    ['/tree/a', '/tree/a/b'],
  );
  const notRecursive = await call('GET', '/externalnetworks?recursive=false', { ns: '/tree' });
  assert.equal(notRecursive.body.length, 1);
});

// ---------------------------------------------------------------- update, delete

test('PUT replaces the object, keeps the stored secret when the body omits it, and replaces it when given', async () => {
  const secret = 'put-original-secret';
  const created = await call('POST', '/services', { ns: '/put', body: oidcService('replaced', secret, { description: 'will go', OIDCScopes: ['email'] }) });
  assert.equal(created.status, 201, created.text);
  const { OIDCClientSecret: _omitted, description: _gone, ...rest } = oidcService('replaced', secret, { OIDCScopes: ['profile'] });
  const put = await call('PUT', '/services/replaced', { ns: '/put', body: rest });
  assert.equal(put.status, 200, put.text);
  assert.notEqual(put.etag, created.etag, 'a new revision');
  assert.equal(put.body.description, undefined, 'PUT replaces: an omitted field is gone');
  assert.deepEqual(put.body.OIDCScopes, ['profile']);
  assert.equal(put.body.createTime, created.body.createTime, 'the creation time stays');
  assertNoSecrets(put, [secret], 'the PUT answer');
  const read = await call('GET', '/services/replaced', { ns: '/put' });
  assert.equal(read.etag, put.etag);
  assert.equal(read.body.description, undefined);
  assert.equal(await clientSecretOf(created.body.ID), secret, 'the stored secret was kept');

  const rotated = await call('PUT', '/services/replaced', { ns: '/put', body: { ...rest, OIDCClientSecret: 'put-rotated-secret' } });
  assert.equal(rotated.status, 200, rotated.text);
  assertNoSecrets(rotated, ['put-rotated-secret'], 'the PUT answer');
  assert.equal(await clientSecretOf(created.body.ID), 'put-rotated-secret', 'a given secret replaces the stored one');
  const raw = await stored('service', created.body.ID);
  assert.match(String(raw?.json.OIDCClientSecret), /^enc:v2:[a-f0-9]{16}:/);
  assert.ok(!raw?.text.includes('put-rotated-secret'));
});

test('PUT of a service with a TLS certificate keeps the stored key when the body omits it', async () => {
  const key = '-----BEGIN PRIVATE KEY-----\nPUTKEY\n-----END PRIVATE KEY-----';
  const certificate = '-----BEGIN CERTIFICATE-----\nPUTCERT\n-----END CERTIFICATE-----';
  const created = await call('POST', '/services', { ns: '/put', body: plainService('tls', { TLSCertificate: certificate, TLSCertificateKey: key }) });
  assert.equal(created.status, 201, created.text);
  const put = await call('PUT', '/services/tls', { ns: '/put', body: plainService('tls', { TLSCertificate: certificate, description: 'new' }) });
  assert.equal(put.status, 200, put.text);
  const raw = await stored('service', created.body.ID);
  assert.match(String(raw?.json.TLSCertificateKey), /^enc:v2:[a-f0-9]{16}:/, 'the key is still stored, sealed');
});

test('PATCH merges into the stored object and keeps the secret', async () => {
  const secret = 'patch-secret';
  const created = await call('POST', '/services', { ns: '/patch', body: oidcService('merged', secret, { description: 'before', OIDCScopes: ['email'] }) });
  assert.equal(created.status, 201, created.text);
  const patched = await call('PATCH', '/services/merged', { ns: '/patch', body: { description: 'after' } });
  assert.equal(patched.status, 200, patched.text);
  assert.equal(patched.body.description, 'after');
  assert.deepEqual(patched.body.hosts, ['merged.example.com'], 'the other fields stay');
  assert.deepEqual(patched.body.OIDCScopes, ['email']);
  assert.equal(patched.body.OIDCClientID, 'merged-client');
  assert.equal(patched.body.port, 3000);
  assert.notEqual(patched.etag, created.etag);
  assertNoSecrets(patched, [secret], 'the PATCH answer');
  assert.equal(await clientSecretOf(created.body.ID), secret, 'the stored secret was kept');

  const yaml = await call('PATCH', `/services/${created.body.ID}`, { ns: '/patch', yaml: 'port: 8080\n' });
  assert.equal(yaml.status, 200, yaml.text);
  assert.equal(yaml.body.port, 8080);
  assert.equal(yaml.body.description, 'after');

  const plain = await call('POST', '/networkaccesspolicies', { ns: '/patch', body: { name: 'p', subject: [['a=b']], object: [['c=d']] } });
  assert.equal(plain.status, 201, plain.text);
  const flipped = await call('PATCH', '/networkaccesspolicies/p', { ns: '/patch', body: { action: 'Reject' } });
  assert.equal(flipped.status, 200, flipped.text);
  assert.equal(flipped.body.action, 'Reject');
  assert.deepEqual(flipped.body.subject, [['a=b']]);
});

test('changing the name through PUT or PATCH is refused with 422 naming name', async () => {
  const created = await call('POST', '/services', { ns: '/rename', body: plainService('fixed') });
  assert.equal(created.status, 201, created.text);
  const put = await call('PUT', '/services/fixed', { ns: '/rename', body: plainService('moved') });
  assertValidationFailed(put, ['name'], 'PUT with another name');
  const patch = await call('PATCH', '/services/fixed', { ns: '/rename', body: { name: 'moved' } });
  assertValidationFailed(patch, ['name'], 'PATCH with another name');
  assert.equal((await call('GET', '/services/moved', { ns: '/rename' })).status, 404);
  const read = await call('GET', '/services/fixed', { ns: '/rename' });
  assert.equal(read.etag, created.etag, 'unchanged');
  const same = await call('PUT', '/services/fixed', { ns: '/rename', body: plainService('fixed', { description: 'same name is fine' }) });
  assert.equal(same.status, 200, same.text);
});

test('concurrent updates: of two clients holding the same ETag, the second PUT gets 412 and the first change stays', async () => {
  const created = await call('POST', '/services', { ns: '/race', body: plainService('contended') });
  assert.equal(created.status, 201, created.text);
  const alice = await call('GET', '/services/contended', { ns: '/race' });
  const bob = await call('GET', '/services/contended', { ns: '/race' });
  assert.equal(alice.etag, bob.etag);

  const first = await call('PUT', '/services/contended', {
    ns: '/race',
    headers: { 'if-match': alice.etag! },
    body: plainService('contended', { description: 'alice' }),
  });
  assert.equal(first.status, 200, first.text);
  const second = await call('PUT', '/services/contended', {
    ns: '/race',
    headers: { 'if-match': bob.etag! },
    body: plainService('contended', { description: 'bob' }),
  });
  assert.equal(second.status, 412, second.text);
  assert.equal(second.body.code, 'PRECONDITION_FAILED');
  const stalePatch = await call('PATCH', '/services/contended', { ns: '/race', headers: { 'if-match': bob.etag! }, body: { description: 'bob again' } });
  assert.equal(stalePatch.status, 412, stalePatch.text);

  const read = await call('GET', '/services/contended', { ns: '/race' });
  assert.equal(read.body.description, 'alice');
  assert.equal(read.etag, first.etag);

  const retried = await call('PUT', '/services/contended', {
    ns: '/race',
    headers: { 'if-match': read.etag! },
    body: plainService('contended', { description: 'bob, after reading again' }),
  });
  assert.equal(retried.status, 200, 'a retry with the fresh ETag succeeds');
  const weak = await call('PATCH', '/services/contended', { ns: '/race', headers: { 'if-match': `W/${retried.etag}` }, body: { port: 3001 } });
  assert.equal(weak.status, 200, `a weak ETag is accepted: ${weak.text}`);
});

test('concurrent updates sent at the same moment: exactly one wins, the other gets 412', async () => {
  const created = await call('POST', '/services', { ns: '/race', body: plainService('simultaneous') });
  assert.equal(created.status, 201, created.text);
  const etag = created.etag!;
  const results = await Promise.all(
    ['one', 'two', 'three'].map((who) =>
      call('PUT', '/services/simultaneous', { ns: '/race', headers: { 'if-match': etag }, body: plainService('simultaneous', { description: who }) }),
    ),
  );
  const statuses = results.map((r) => r.status).sort();
  assert.deepEqual(statuses, [200, 412, 412], results.map((r) => r.text).join('\n'));
  const winner = results.find((r) => r.status === 200)!;
  for (const loser of results.filter((r) => r.status === 412)) assert.equal(loser.body.code, 'PRECONDITION_FAILED');
  const read = await call('GET', '/services/simultaneous', { ns: '/race' });
  assert.equal(read.body.description, winner.body.description);
  assert.equal(read.etag, winner.etag);
});

test('DELETE with a stale If-Match is refused with 412 and the object stays; a fresh one deletes', async () => {
  const created = await call('POST', '/services', { ns: '/del', body: plainService('doomed') });
  assert.equal(created.status, 201, created.text);
  const changed = await call('PATCH', '/services/doomed', { ns: '/del', body: { description: 'changed' } });
  assert.equal(changed.status, 200);
  const stale = await call('DELETE', '/services/doomed', { ns: '/del', headers: { 'if-match': created.etag! } });
  assert.equal(stale.status, 412, stale.text);
  assert.equal(stale.body.code, 'PRECONDITION_FAILED');
  assert.equal((await call('GET', '/services/doomed', { ns: '/del' })).status, 200, 'still there');

  const fresh = await call('DELETE', '/services/doomed', { ns: '/del', headers: { 'if-match': changed.etag! } });
  assert.equal(fresh.status, 200, fresh.text);
  assert.equal(fresh.body.name, 'doomed');
  assert.equal((await call('GET', '/services/doomed', { ns: '/del' })).status, 404);
  assert.equal(await stored('service', created.body.ID), undefined, 'gone from the bucket');
  assert.equal((await call('DELETE', '/services/doomed', { ns: '/del' })).status, 404, 'deleting twice');
  const again = await call('POST', '/services', { ns: '/del', body: plainService('doomed') });
  assert.equal(again.status, 201, 'the name can be used again');
});

test('a malformed If-Match is refused with 400 and nothing changes', async () => {
  const created = await call('POST', '/services', { ns: '/ifmatch', body: plainService('guarded') });
  assert.equal(created.status, 201, created.text);
  for (const value of ['abc', '"abc"', '"1", "2"', '-1', '"1.5"', 'W/abc']) {
    for (const method of ['PUT', 'PATCH', 'DELETE'] as const) {
      const res = await call(method, '/services/guarded', {
        ns: '/ifmatch',
        headers: { 'if-match': value },
        body: method === 'DELETE' ? undefined : plainService('guarded', { description: 'changed' }),
      });
      assert.equal(res.status, 400, `${method} If-Match: ${value}: ${res.text}`);
      assert.equal(res.body.code, 'BAD_REQUEST');
      assert.match(res.body.message, /If-Match/);
    }
  }
  const read = await call('GET', '/services/guarded', { ns: '/ifmatch' });
  assert.equal(read.etag, created.etag);
  assert.equal(read.body.description, undefined);
});

test('PUT, PATCH and DELETE of an object that does not exist answer 404', async () => {
  for (const method of ['PUT', 'PATCH', 'DELETE'] as const) {
    const res = await call(method, '/services/nobody', { ns: '/missing', body: method === 'DELETE' ? undefined : plainService('nobody') });
    assert.equal(res.status, 404, `${method}: ${res.text}`);
    assert.equal(res.body.code, 'NOT_FOUND');
  }
  assert.equal((await call('GET', '/services/nobody', { ns: '/missing' })).status, 404, 'PUT did not create it');
});

// ---------------------------------------------------------------- validation

type Row = [label: string, input: Record<string, unknown>, attributes: string[]];
const baseOf: Record<string, Record<string, unknown>> = {
  services: { hosts: ['v.example.com'], port: 3000, exposedPort: 443 },
  httpresourcespecs: { endpoints: [{ URI: '/api/*', methods: ['GET'] }] },
  externalnetworks: { entries: ['10.0.0.0/8'] },
  networkaccesspolicies: { subject: [['app=web']], object: [['ext:name=idp']] },
  namespaces: {},
};
const oidc = { authorizationType: 'OIDC', OIDCProviderURL: 'https://idp.example.com', OIDCClientID: 'c', OIDCClientSecret: 's' };
/** Parses as PEM but is no certificate: refused as applicationCA whatever else is wrong. */
const CA_PEM = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----';
const tagRows = (prefix: string): Row[] => [
  [`${prefix}: a tag without =`, { associatedTags: ['team'] }, ['associatedTags[0]']],
  [`${prefix}: a tag key with a space`, { associatedTags: ['my team=a'] }, ['associatedTags[0]']],
  [`${prefix}: a reserved $ key`, { associatedTags: ['$identity=processingunit'] }, ['associatedTags[0]']],
  [`${prefix}: a reserved @ key`, { associatedTags: ['ok=1', '@org=acme'] }, ['associatedTags[1]']],
  [`${prefix}: a reserved + key`, { associatedTags: ['+x=y'] }, ['associatedTags[0]']],
  [`${prefix}: associatedTags not a list`, { associatedTags: 'a=b' }, ['associatedTags']],
  [`${prefix}: propagate not a boolean`, { propagate: 'true' }, ['propagate']],
  [`${prefix}: description too long`, { description: 'x'.repeat(1025) }, ['description']],
  [`${prefix}: name missing`, { name: undefined }, ['name']],
  [`${prefix}: name empty`, { name: '' }, ['name']],
  [`${prefix}: name too long`, { name: 'n'.repeat(257) }, ['name']],
];

const validationTable: Record<string, Row[]> = {
  services: [
    ...tagRows('service'),
    ['hosts missing', { hosts: undefined }, ['hosts']],
    ['hosts empty', { hosts: [] }, ['hosts']],
    ['an empty host', { hosts: [''] }, ['hosts[0]']],
    ['a host that is not a DNS name', { hosts: ['not a host/'] }, ['hosts[0]']],
    ['port missing', { port: undefined }, ['port']],
    ['port 0', { port: 0 }, ['port']],
    ['port 65536', { port: 65536 }, ['port']],
    ['port not a number', { port: 'http' }, ['port']],
    ['port not an integer', { port: 80.5 }, ['port']],
    ['exposedPort missing', { exposedPort: undefined }, ['exposedPort']],
    ['exposedPort negative', { exposedPort: -1 }, ['exposedPort']],
    ['type other than HTTP', { type: 'TCP' }, ['type']],
    ['an unknown authorizationType', { authorizationType: 'SAML' }, ['authorizationType']],
    ['a selector tag without =', { selectors: [['app']] }, ['selectors[0][0]']],
    ['selectors not nested', { selectors: ['app=web'] }, ['selectors[0]']],
    ['an exposedAPIs tag without =', { exposedAPIs: [['ok=1', 'bad']] }, ['exposedAPIs[0][1]']],
    [
      'a header mapping to a bad header name',
      { claimsToHTTPHeaderMappings: [{ claimName: 'email', targetHTTPHeader: 'X-Email: evil' }] },
      ['claimsToHTTPHeaderMappings[0].targetHTTPHeader'],
    ],
    [
      'a header mapping without a claim',
      { claimsToHTTPHeaderMappings: [{ claimName: '', targetHTTPHeader: 'X-Email' }] },
      ['claimsToHTTPHeaderMappings[0].claimName'],
    ],
    ['redirectURLOnAuthorizationFailure not a URL', { redirectURLOnAuthorizationFailure: 'sorry.html' }, ['redirectURLOnAuthorizationFailure']],
    [
      'redirectURLOnAuthorizationFailure a javascript: URL',
      { redirectURLOnAuthorizationFailure: 'javascript:alert(1)' },
      ['redirectURLOnAuthorizationFailure'],
    ],
    ['OIDCCallbackURL not a URL', { OIDCCallbackURL: 'app.example.com' }, ['OIDCCallbackURL']],
    ['an empty OIDC scope', { OIDCScopes: [''] }, ['OIDCScopes[0]']],
    ['selectors of negations only', { selectors: [['type!=walkthrough-app']] }, ['selectors[0]']],
    ['exposedServiceIsTLS not a boolean', { exposedServiceIsTLS: 'yes' }, ['exposedServiceIsTLS']],
    ['an applicationProtocol other than HTTP/1.1 or HTTP/2', { applicationProtocol: 'h2c' }, ['applicationProtocol']],
    // Both of its problems, at once.
    ['an applicationCA (not even a certificate) for an application without TLS', { applicationCA: CA_PEM }, ['applicationCA', 'applicationCA']],
    ['an applicationCA that is not PEM', { exposedServiceIsTLS: true, applicationCA: 'my CA' }, ['applicationCA']],
    [
      'a private key as applicationCA',
      { exposedServiceIsTLS: true, applicationCA: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----' },
      ['applicationCA'],
    ],
    ['disabled not a boolean', { disabled: 1 }, ['disabled']],
    ['OIDC without provider, client or secret', { authorizationType: 'OIDC' }, ['OIDCClientID', 'OIDCClientSecret', 'OIDCProviderURL']],
    ['OIDC without a secret', { ...oidc, OIDCClientSecret: undefined }, ['OIDCClientSecret']],
    ['an http provider URL on a public host', { ...oidc, OIDCProviderURL: 'http://idp.example.com' }, ['OIDCProviderURL']],
    ['an http provider URL on a host that only starts like loopback', { ...oidc, OIDCProviderURL: 'http://127.evil.example' }, ['OIDCProviderURL']],
    ['an http provider URL on localhost.<domain>', { ...oidc, OIDCProviderURL: 'http://localhost.evil.example' }, ['OIDCProviderURL']],
    ['a provider URL of another scheme', { ...oidc, OIDCProviderURL: 'ftp://idp.example.com' }, ['OIDCProviderURL']],
    ['a provider URL that is not a URL', { ...oidc, OIDCProviderURL: 'idp.example.com' }, ['OIDCProviderURL']],
    [
      "Azure AD's /common endpoint without OIDCAllowedTenants",
      { ...oidc, OIDCProviderURL: 'https://login.microsoftonline.com/common/v2.0' },
      ['OIDCAllowedTenants'],
    ],
    [
      "Azure AD's /organizations endpoint with an empty OIDCAllowedTenants",
      { ...oidc, OIDCProviderURL: 'https://login.microsoftonline.com/organizations/v2.0', OIDCAllowedTenants: [] },
      ['OIDCAllowedTenants'],
    ],
    [
      "Azure AD's /consumers endpoint (US government cloud) without OIDCAllowedTenants",
      { ...oidc, OIDCProviderURL: 'https://login.microsoftonline.us/Consumers/v2.0' },
      ['OIDCAllowedTenants'],
    ],
    ['a tenant id with a slash', { ...oidc, OIDCAllowedTenants: ['../evil'] }, ['OIDCAllowedTenants[0]']],
    ['a TLS certificate without its key', { TLSCertificate: 'CERT' }, ['TLSCertificateKey']],
    ['a TLS key without its certificate', { TLSCertificateKey: 'KEY' }, ['TLSCertificateKey']],
  ],
  httpresourcespecs: [
    ...tagRows('httpresourcespec'),
    ['endpoints not a list', { endpoints: 'all' }, ['endpoints']],
    ['an endpoint without URI', { endpoints: [{ methods: ['GET'] }] }, ['endpoints[0].URI']],
    ['a URI without the leading /', { endpoints: [{ URI: 'api', methods: ['GET'] }] }, ['endpoints[0].URI']],
    // Patterns are normalised like request paths; what the gateway would refuse in a request cannot be a pattern.
    ['a URI with a path parameter (;)', { endpoints: [{ URI: '/admin;jsessionid=1/*', methods: ['GET'] }] }, ['endpoints[0].URI']],
    ['a URI with dot segments', { endpoints: [{ URI: '/public/../admin', methods: ['GET'] }] }, ['endpoints[0].URI']],
    ['a URI with an encoded dot segment', { endpoints: [{ URI: '/a/%2e%2e/*', methods: ['GET'] }] }, ['endpoints[0].URI']],
    ['a URI with raw non-ASCII', { endpoints: [{ URI: '/café/*', methods: ['GET'] }] }, ['endpoints[0].URI']],
    ['a URI with an encoded slash', { endpoints: [{ URI: '/a%2Fb', methods: ['GET'] }] }, ['endpoints[0].URI']],
    ['a URI with an encoded backslash', { endpoints: [{ URI: '/a%5Cb', methods: ['GET'] }] }, ['endpoints[0].URI']],
    ['a URI with invalid percent-encoding', { endpoints: [{ URI: '/a%zz', methods: ['GET'] }] }, ['endpoints[0].URI']],
    ['a URI whose escapes are not UTF-8', { endpoints: [{ URI: '/%FF/*', methods: ['GET'] }] }, ['endpoints[0].URI']],
    ['a URI with fullwidth ．．／ (NFKC ../)', { endpoints: [{ URI: '/%EF%BC%8E%EF%BC%8E%EF%BC%8F', methods: ['GET'] }] }, ['endpoints[0].URI']],
    [
      'two bad URIs among good ones',
      {
        endpoints: [
          { URI: '/ok/*', methods: ['GET'] },
          { URI: '/a;b', methods: ['GET'] },
          { URI: '/b', methods: ['GET'] },
          { URI: '/x/./y', methods: ['GET'] },
        ],
      },
      ['endpoints[1].URI', 'endpoints[3].URI'],
    ],
    ['an endpoint without methods', { endpoints: [{ URI: '/a' }] }, ['endpoints[0].methods']],
    ['an empty list of methods', { endpoints: [{ URI: '/a', methods: [] }] }, ['endpoints[0].methods']],
    ['an unknown method', { endpoints: [{ URI: '/a', methods: ['FETCH'] }] }, ['endpoints[0].methods[0]']],
    ['TRACE is not a method of the API', { endpoints: [{ URI: '/a', methods: ['get', 'TRACE'] }] }, ['endpoints[0].methods[1]']],
    ['methods as a string', { endpoints: [{ URI: '/a', methods: 'GET' }] }, ['endpoints[0].methods']],
    ['public not a boolean', { endpoints: [{ URI: '/a', methods: ['GET'], public: 'yes' }] }, ['endpoints[0].public']],
    ['an allowedScopes tag without =', { endpoints: [{ URI: '/a', methods: ['GET'], allowedScopes: [['admins']] }] }, ['endpoints[0].allowedScopes[0][0]']],
    ['a scopes (alias) tag without =', { endpoints: [{ URI: '/a', methods: ['GET'], scopes: [['admins']] }] }, ['endpoints[0].scopes[0][0]']],
    // SPEC §1.2: a list of negations only would let everyone in; keys are never wildcards; negation is key!=value.
    [
      'an allowedScopes list of negations only',
      { endpoints: [{ URI: '/a', methods: ['GET'], allowedScopes: [['email=*@example.com'], ['groups!=contractors']] }] },
      ['endpoints[0].allowedScopes[1]'],
    ],
    ['a scopes (alias) list of negations only', { endpoints: [{ URI: '/a', methods: ['GET'], scopes: [['email!=*']] }] }, ['endpoints[0].scopes[0]']],
    ['a * in an allowedScopes key', { endpoints: [{ URI: '/a', methods: ['GET'], allowedScopes: [['*=admins']] }] }, ['endpoints[0].allowedScopes[0][0]']],
    [
      'a negation written with a leading !',
      { endpoints: [{ URI: '/a', methods: ['GET'], allowedScopes: [['email=*@example.com', '!groups=contractors']] }] },
      ['endpoints[0].allowedScopes[0][1]'],
    ],
    ['allowedScopes not nested', { endpoints: [{ URI: '/a', methods: ['GET'], allowedScopes: ['groups=admins'] }] }, ['endpoints[0].allowedScopes[0]']],
    [
      'the second endpoint bad',
      {
        endpoints: [
          { URI: '/a', methods: ['GET'] },
          { URI: '/b', methods: ['BREW'] },
        ],
      },
      ['endpoints[1].methods[0]'],
    ],
  ],
  externalnetworks: [
    ...tagRows('externalnetwork'),
    ['entries missing', { entries: undefined }, ['entries']],
    ['entries empty', { entries: [] }, ['entries']],
    ['a CIDR with too many bits', { entries: ['10.0.0.0/33'] }, ['entries[0]']],
    ['an IPv6 CIDR with too many bits', { entries: ['2001:db8::/129'] }, ['entries[0]']],
    ['a CIDR with a bad prefix length', { entries: ['10.0.0.0/x'] }, ['entries[0]']],
    ['a URL instead of a host', { entries: ['https://idp.example.com'] }, ['entries[0]']],
    ['a wildcard inside a name', { entries: ['a.*.example.com'] }, ['entries[0]']],
    ['the second entry bad', { entries: ['10.0.0.0/8', 'not valid!'] }, ['entries[1]']],
    ['servicePorts port 0', { servicePorts: ['tcp/0'] }, ['servicePorts[0]']],
    ['servicePorts port 65536', { servicePorts: ['tcp/65536'] }, ['servicePorts[0]']],
    ['servicePorts range backwards', { servicePorts: ['tcp/100:80'] }, ['servicePorts[0]']],
    ['servicePorts unknown protocol', { servicePorts: ['http/80'] }, ['servicePorts[0]']],
    ['servicePorts without a port', { servicePorts: ['tcp'] }, ['servicePorts[0]']],
    ['servicePorts the second bad', { servicePorts: ['tcp/443', 'icmp/1'] }, ['servicePorts[1]']],
    ['legacy protocols unknown', { protocols: ['icmp'], ports: ['443'] }, ['protocols[0]']],
    ['legacy ports not a number', { protocols: ['tcp'], ports: ['https'] }, ['ports[0]']],
    ['legacy ports with a dash range', { protocols: ['tcp'], ports: ['80-100'] }, ['ports[0]']],
    ['legacy port 70000', { protocols: ['tcp'], ports: ['70000'] }, ['ports[0]']],
    ['legacy port 0', { protocols: ['tcp'], ports: ['0'] }, ['ports[0]']],
    ['legacy range backwards', { protocols: ['tcp'], ports: ['100:80'] }, ['ports[0]']],
  ],
  networkaccesspolicies: [
    ...tagRows('networkaccesspolicy'),
    ['subject missing', { subject: undefined }, ['subject']],
    ['subject empty', { subject: [] }, ['subject']],
    ['a subject tag without =', { subject: [['web']] }, ['subject[0][0]']],
    ['subject not nested', { subject: ['app=web'] }, ['subject[0]']],
    ['object missing', { object: undefined }, ['object']],
    ['object empty', { object: [] }, ['object']],
    ['an object tag without =', { object: [['ok=1'], ['idp']] }, ['object[1][0]']],
    ['a subject of negations only', { subject: [['app!=web']] }, ['subject[0]']],
    ['an object tag with * in its key', { object: [['ext:*=idp']] }, ['object[0][0]']],
    ['an unknown action', { action: 'Deny' }, ['action']],
    ['an action in the wrong case', { action: 'allow' }, ['action']],
    ['an unknown applyPolicyMode', { applyPolicyMode: 'Both' }, ['applyPolicyMode']],
    ['logsEnabled not a boolean', { logsEnabled: 'yes' }, ['logsEnabled']],
    ['disabled not a boolean', { disabled: 'no' }, ['disabled']],
  ],
  namespaces: [
    ...tagRows('namespace'),
    ['an unknown incoming default', { defaultPUIncomingTrafficAction: 'Drop' }, ['defaultPUIncomingTrafficAction']],
    ['an unknown outgoing default', { defaultPUOutgoingTrafficAction: 'allow' }, ['defaultPUOutgoingTrafficAction']],
  ],
};

test('every valid base object of the validation table is accepted (the rows below fail for their own reason only)', async () => {
  for (const [plural, base] of Object.entries(baseOf)) {
    const res = await call('POST', `/${plural}`, { ns: '/validation-ok', body: { name: 'base', ...base } });
    assert.equal(res.status, 201, `${plural}: ${res.text}`);
  }
  const withOidc = await call('POST', '/services', { ns: '/validation-ok', body: { name: 'base-oidc', ...baseOf.services, ...oidc } });
  assert.equal(withOidc.status, 201, withOidc.text);
});

for (const [plural, rows] of Object.entries(validationTable)) {
  for (const [index, [label, input, expected]] of rows.entries()) {
    test(`${plural}: ${label} → 422 naming ${expected.join(', ')}; nothing stored`, async () => {
      // A namespace of its own, so a row that wrongly stores something fails alone.
      const ns = `/validation/${plural}/row-${index}`;
      const name = typeof input.name === 'string' && input.name ? input.name : 'invalid';
      const body = { name: 'invalid', ...baseOf[plural], ...input };
      const res = await call('POST', `/${plural}`, { ns, body });
      assertValidationFailed(res, expected, `POST ${label}`);
      if (name.length <= 256) assert.equal((await call('GET', `/${plural}/${encodeURIComponent(name)}`, { ns })).status, 404, 'not stored');
      assert.deepEqual((await call('GET', `/${plural}`, { ns })).body, [], 'nothing stored');

      if (!('name' in input)) {
        // The same rule holds on update: the stored object is left as it was.
        const before = await call('GET', `/${plural}/base`, { ns: '/validation-ok' });
        const put = await call('PUT', `/${plural}/base`, { ns: '/validation-ok', body: { ...body, name: 'base' } });
        assertValidationFailed(put, expected, `PUT ${label}`);
        // PATCH cannot leave a field out of the stored object, so rows that omit one apply to POST and PUT only.
        if (!Object.values(input).includes(undefined)) {
          const patch = await call('PATCH', `/${plural}/base`, { ns: '/validation-ok', body: input });
          assertValidationFailed(patch, expected, `PATCH ${label}`);
        }
        const afterwards = await call('GET', `/${plural}/base`, { ns: '/validation-ok' });
        assert.equal(afterwards.etag, before.etag, 'the stored object is unchanged');
      }
    });
  }
}

test('accepted forms: loopback http providers, method case, the scopes alias, legacy protocols+ports, ports as strings', async () => {
  for (const [i, url] of ['https://idp.example.com/realms/acme', 'http://localhost:8080', 'http://127.0.0.1:9000', 'http://[::1]:8080'].entries()) {
    const res = await call('POST', '/services', { ns: '/accepted', body: plainService(`loop${i}`, { ...oidc, OIDCProviderURL: url }) });
    assert.equal(res.status, 201, `${url}: ${res.text}`);
  }
  const spec = await call('POST', '/httpresourcespecs', {
    ns: '/accepted',
    body: { name: 'spec', endpoints: [{ URI: '/a', methods: ['get', 'Post'], scopes: [['groups=dev']] }] },
  });
  assert.equal(spec.status, 201, spec.text);
  assert.deepEqual(spec.body.endpoints, [{ URI: '/a', methods: ['GET', 'POST'], public: false, allowedScopes: [['groups=dev']] }]);
  const legacy = await call('POST', '/externalnetworks', {
    ns: '/accepted',
    body: { name: 'idp', entries: ['idp.example.com', '*.example.org', '192.0.2.1', '2001:db8::/32'], protocols: ['TCP'], ports: ['443', 8443] },
  });
  assert.equal(legacy.status, 201, legacy.text);
  assert.deepEqual(legacy.body.servicePorts, ['tcp/443', 'tcp/8443']);
  const portText = await call('POST', '/services', { ns: '/accepted', body: plainService('ports', { port: '8080', exposedPort: '443' }) });
  assert.equal(portText.status, 201, portText.text);
  assert.equal(portText.body.port, 8080);
  const policy = await call('POST', '/networkaccesspolicies', { ns: '/accepted', body: { name: 'defaults', subject: [['a=b']], object: [['c=d']] } });
  assert.equal(policy.status, 201, policy.text);
  assert.deepEqual([policy.body.action, policy.body.applyPolicyMode, policy.body.logsEnabled], ['Allow', 'Bidirectional', false], 'SPEC §2 defaults');
});

test('an endpoint URI is stored as the gateway spells request paths (GET shows what is matched); a bad one is named with what to write', async () => {
  const created = await call('POST', '/httpresourcespecs', {
    ns: '/patterns',
    body: {
      name: 'cafe',
      endpoints: [
        { URI: '/caf%c3%a9/*', methods: ['GET'] },
        { URI: '//%7eadmin//?', methods: ['GET'] },
      ],
    },
  });
  assert.equal(created.status, 201, created.text);
  assert.deepEqual(
    created.body.endpoints.map((e: { URI: string }) => e.URI),
    ['/caf%C3%A9/*', '/~admin/?'],
  );
  const read = await call('GET', '/httpresourcespecs/cafe', { ns: '/patterns' });
  assert.deepEqual(
    read.body.endpoints.map((e: { URI: string }) => e.URI),
    ['/caf%C3%A9/*', '/~admin/?'],
  );

  const refused = await call('PATCH', '/httpresourcespecs/cafe', { ns: '/patterns', body: { endpoints: [{ URI: '/café/*', methods: ['GET'] }] } });
  assertValidationFailed(refused, ['endpoints[0].URI'], 'raw non-ASCII');
  assert.equal(refused.body.errors[0].message, 'must not contain raw non-ASCII characters; percent-encode them as UTF-8: write /caf%C3%A9/*');
  assert.match(refused.body.message, /endpoints\[0\]\.URI/);
});

test('OIDCAllowedTenants: an Azure AD multi-tenant service that lists its tenants is accepted, and authn gets the list; a single-tenant one needs none', async () => {
  const tenant = '72f988bf-86f1-41af-91ab-2d7cd011db47';
  const multi = await call('POST', '/services', {
    ns: '/acme',
    body: oidcService('azure-multi-app', 'azure-secret', { OIDCProviderURL: 'https://login.microsoftonline.com/common/v2.0', OIDCAllowedTenants: [tenant] }),
  });
  assert.equal(multi.status, 201, multi.text);
  const res = await app.bus.request(requests.policyOidcClient, { serviceId: multi.body.ID }, 5_000);
  assert.deepEqual(res.allowedTenants, [tenant]);
  const single = await call('POST', '/services', {
    ns: '/acme',
    body: oidcService('azure-single-app', 'azure-secret', { OIDCProviderURL: `https://login.microsoftonline.com/${tenant}/v2.0` }),
  });
  assert.equal(single.status, 201, single.text);
  const removed = await call('PATCH', `/services/${multi.body.ID}`, { ns: '/acme', body: { OIDCAllowedTenants: [] } });
  assertValidationFailed(removed, ['OIDCAllowedTenants'], 'emptying the list of a multi-tenant service');
});

test('a document with several bad attributes lists all of them at once', async () => {
  const res = await call('POST', '/services', {
    ns: '/validation-many',
    body: {
      name: 'many',
      hosts: [],
      port: 0,
      exposedPort: 'x',
      associatedTags: ['$a=b', 'ok=1', 'bad'],
      authorizationType: 'OIDC',
      TLSCertificate: 'CERT',
      claimsToHTTPHeaderMappings: [{ claimName: 'email', targetHTTPHeader: 'X Email' }],
    },
  });
  assertValidationFailed(
    res,
    [
      'associatedTags[0]',
      'associatedTags[2]',
      'claimsToHTTPHeaderMappings[0].targetHTTPHeader',
      'exposedPort',
      'hosts',
      'OIDCClientID',
      'OIDCClientSecret',
      'OIDCProviderURL',
      'port',
      'TLSCertificateKey',
    ],
    'many bad attributes',
  );
  assert.match(res.body.message, /^10 invalid attributes/);
  assert.equal((await call('GET', '/services/many', { ns: '/validation-many' })).status, 404);
});

test('a body that is not a mapping is refused with 422, not stored', async () => {
  for (const body of [['a', 'b'], 'just text', 42]) {
    const res = await call('POST', '/services', { ns: '/not-a-mapping', raw: { type: 'application/json', payload: JSON.stringify(body) } });
    assert.equal(res.status, 422, `${JSON.stringify(body)}: ${res.text}`);
    assert.equal(res.body.code, 'POLICY_VALIDATION_FAILED');
  }
  assert.deepEqual((await call('GET', '/services', { ns: '/not-a-mapping' })).body, []);
});

// ---------------------------------------------------------------- import, export

test('POST /import with one bad object stores nothing (all or nothing)', async () => {
  const existing = await call('POST', '/services', { ns: '/imports', body: plainService('kept', { description: 'original' }) });
  assert.equal(existing.status, 201, existing.text);
  const doc = {
    label: 'partly bad',
    namespace: '/imports',
    data: {
      services: [plainService('kept', { description: 'overwritten?' }), plainService('new-one')],
      httpresourcespecs: [{ name: 'spec', endpoints: [{ URI: '/a', methods: ['GET'] }] }],
      externalnetworks: [
        { name: 'ok-net', entries: ['10.0.0.0/8'] },
        { name: 'bad-net', entries: [] },
      ],
    },
  };
  const res = await call('POST', '/import', { body: doc });
  assertValidationFailed(res, ['data.externalnetworks[1].entries'], 'import');
  assert.equal((await call('GET', '/services/kept', { ns: '/imports' })).body.description, 'original', 'the existing object was not updated');
  assert.equal((await call('GET', '/services/kept', { ns: '/imports' })).etag, existing.etag);
  for (const [plural, name] of [
    ['services', 'new-one'],
    ['httpresourcespecs', 'spec'],
    ['externalnetworks', 'ok-net'],
  ]) {
    assert.equal((await call('GET', `/${plural}/${name}`, { ns: '/imports' })).status, 404, `${plural}/${name} was not created`);
  }
  const unknownKind = await call('POST', '/import', {
    body: { namespace: '/imports', data: { widgets: [{ name: 'w' }], services: [plainService('new-two')] } },
  });
  assertValidationFailed(unknownKind, ['data.widgets'], 'an unknown kind in an import');
  assert.equal((await call('GET', '/services/new-two', { ns: '/imports' })).status, 404);
  const noData = await call('POST', '/import', { body: { namespace: '/imports' } });
  assertValidationFailed(noData, ['data'], 'an import without data');
});

test('POST /import of a good document creates and updates, and says how many ({created, updated})', async () => {
  const existing = await call('POST', '/services', { ns: '/imports-ok', body: plainService('old', { description: 'before' }) });
  assert.equal(existing.status, 201);
  const yaml = toYaml({
    label: 'good',
    namespace: '/imports-ok',
    data: {
      services: [plainService('old', { description: 'after' }), plainService('fresh')],
      networkaccesspolicies: [{ name: 'allow-idp', subject: [['app=web']], object: [['ext:name=idp']] }],
      externalnetworks: [{ name: 'child-net', namespace: '/imports-ok/child', entries: ['idp.example.com'], servicePorts: ['tcp/443'] }],
    },
  });
  const res = await call('POST', '/import', { yaml });
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.body, { created: 3, updated: 1 });
  assert.equal((await call('GET', '/services/old', { ns: '/imports-ok' })).body.description, 'after');
  assert.equal((await call('GET', '/services/fresh', { ns: '/imports-ok' })).status, 200);
  assert.equal((await call('GET', '/networkaccesspolicies/allow-idp', { ns: '/imports-ok' })).status, 200);
  assert.equal((await call('GET', '/externalnetworks/child-net', { ns: '/imports-ok/child' })).status, 200, 'an object may name its own namespace');
  const again = await call('POST', '/import', { yaml });
  assert.deepEqual(again.body, { created: 0, updated: 4 }, 'importing again is idempotent');

  const viaHeader = await call('POST', '/import', { ns: '/imports-header', body: { data: { services: [plainService('by-header')] } } });
  assert.deepEqual(viaHeader.body, { created: 1, updated: 0 });
  assert.equal((await call('GET', '/services/by-header', { ns: '/imports-header' })).status, 200, 'without a document namespace, X-Namespace applies');
});

test('an import document naming a namespace with dot segments is refused', async () => {
  const res = await call('POST', '/import', { body: { namespace: '/imports/..', data: { services: [plainService('dotted')] } } });
  assertValidationFailed(res, ['data.services[0].namespace'], 'dot segments');
});

test('GET /export returns the import format without IDs or secrets, and it can be imported again', async () => {
  const ns = '/exported';
  const secret = 'export-secret-value';
  const key = '-----BEGIN PRIVATE KEY-----\nEXPORTKEY\n-----END PRIVATE KEY-----';
  const objects: Array<[string, Record<string, unknown>]> = [
    ['services', oidcService('web', secret, { TLSCertificate: 'CERT', TLSCertificateKey: key, selectors: [['app=web']] })],
    ['services', plainService('plain')],
    ['httpresourcespecs', { name: 'web-api', associatedTags: ['app=web'], endpoints: [{ URI: '/*', methods: ['GET'], allowedScopes: [['groups=dev']] }] }],
    ['externalnetworks', { name: 'idp', entries: ['idp.example.com'], protocols: ['tcp'], ports: ['443'] }],
    ['networkaccesspolicies', { name: 'allow-idp', subject: [['app=web']], object: [['ext:name=idp']] }],
  ];
  for (const [plural, body] of objects) assert.equal((await call('POST', `/${plural}`, { ns, body })).status, 201, `${plural} ${body.name}`);
  assert.equal((await call('POST', '/services', { ns: `${ns}/child`, body: plainService('child-app') })).status, 201);

  const exported = await call('GET', '/export', { ns });
  assert.equal(exported.status, 200, exported.text);
  assert.equal(exported.body.namespace, ns);
  assert.equal(typeof exported.body.label, 'string');
  assert.deepEqual(Object.keys(exported.body.data).sort(), ['externalnetworks', 'httpresourcespecs', 'networkaccesspolicies', 'services']);
  assert.deepEqual(
    exported.body.data.services.map((s: { name: string }) => s.name),
    ['plain', 'web'],
  );
  for (const list of Object.values<Array<Record<string, unknown>>>(exported.body.data)) {
    for (const o of list) {
      for (const field of ['ID', 'kind', 'createTime', 'updateTime', 'OIDCClientSecret', 'TLSCertificateKey'])
        assert.ok(!(field in o), `${o.name} has ${field}`);
    }
  }
  assertNoSecrets(exported, [secret, 'EXPORTKEY'], 'the export');
  assert.deepEqual(exported.body.data.externalnetworks[0].servicePorts, ['tcp/443'], 'exported in the current form');
  const web = exported.body.data.services.find((s: { name: string }) => s.name === 'web');
  assert.equal(web.TLSCertificate, 'CERT');
  assert.deepEqual(web.selectors, [['app=web']]);

  const recursive = await call('GET', '/export?recursive=true', { ns });
  assert.ok(recursive.body.data.services.some((s: { name: string; namespace: string }) => s.name === 'child-app' && s.namespace === `${ns}/child`));
  assert.ok(!exported.body.data.services.some((s: { name: string }) => s.name === 'child-app'), 'children only with recursive=true');

  const webId = (await call('GET', '/services/web', { ns })).body.ID;
  const reimport = await call('POST', '/import', { body: exported.body });
  assert.equal(reimport.status, 200, reimport.text);
  assert.deepEqual(reimport.body, { created: 0, updated: 5 });
  assert.equal(await clientSecretOf(webId), secret, 're-importing the export keeps the stored secret');
  assert.match(String((await stored('service', webId))?.json.TLSCertificateKey), /^enc:v2:[a-f0-9]{16}:/, 're-importing the export keeps the stored TLS key');

  assert.equal((await call('DELETE', '/services/plain', { ns })).status, 200);
  assert.equal((await call('DELETE', '/networkaccesspolicies/allow-idp', { ns })).status, 200);
  const restore = await call('POST', '/import', { yaml: toYaml(exported.body) });
  assert.equal(restore.status, 200, restore.text);
  assert.deepEqual(restore.body, { created: 2, updated: 3 });
  const after = await call('GET', '/export', { ns });
  assert.deepEqual(after.body, exported.body, 'the same export after the round trip');
});

// ---------------------------------------------------------------- errors

test('an unknown kind in the path answers 404 JSON', async () => {
  for (const [method, url] of [
    ['GET', '/widgets'],
    ['POST', '/widgets'],
    ['GET', '/widgets/x'],
    ['PUT', '/widgets/x'],
    ['DELETE', '/widgets/x'],
    ['GET', '/services/x/y'],
  ] as const) {
    const res = await call(method, url, { ns: '/acme', body: method === 'POST' || method === 'PUT' ? { name: 'x' } : undefined });
    assert.equal(res.status, 404, `${method} ${url}: ${res.text}`);
    assert.match(res.contentType, /application\/json/);
    assert.equal(res.body.code, 'NOT_FOUND');
  }
});

test('an invalid YAML or JSON body answers 400 JSON and stores nothing', async () => {
  const yaml = await call('POST', '/services', {
    ns: '/bad-body',
    raw: { type: 'application/yaml', payload: 'name: broken\nhosts: [unclosed\n  port: : 3000' },
  });
  assert.equal(yaml.status, 400, yaml.text);
  assert.match(yaml.contentType, /application\/json/);
  assert.equal(yaml.body.code, 'BAD_REQUEST');
  assert.match(yaml.body.message, /YAML/);
  const json = await call('POST', '/services', { ns: '/bad-body', raw: { type: 'application/json', payload: '{"name": "broken",' } });
  assert.equal(json.status, 400, json.text);
  assert.match(json.contentType, /application\/json/);
  assert.equal(json.body.code, 'BAD_REQUEST');
  const importYaml = await call('POST', '/import', { ns: '/bad-body', raw: { type: 'text/yaml', payload: 'data:\n  services: [\n' } });
  assert.equal(importYaml.status, 400, importYaml.text);
  assert.deepEqual((await call('GET', '/services', { ns: '/bad-body' })).body, []);
});

// ---------------------------------------------------------------- audit

test('every change publishes a crud audit event on evt.policy.v1.event naming the token', async () => {
  const made = await call('POST', '/apitokens', { ns: '/', body: { name: 'audit-editor', role: 'editor', namespace: '/audited' } });
  assert.equal(made.status, 201, made.text);
  const token = made.body.token as string;

  const created = await call('POST', '/services', { token, body: plainService('watched') });
  assert.equal(created.status, 201, created.text);
  const id = created.body.ID as string;
  assert.equal((await call('PATCH', '/services/watched', { token, body: { description: 'patched' } })).status, 200);
  assert.equal((await call('PUT', '/services/watched', { token, body: plainService('watched') })).status, 200);
  assert.equal((await call('DELETE', '/services/watched', { token })).status, 200);
  assert.deepEqual((await call('POST', '/import', { token, body: { data: { externalnetworks: [{ name: 'imported-net', entries: ['10.0.0.0/8'] }] } } })).body, {
    created: 1,
    updated: 0,
  });

  const of = (targetId: string) => audit.filter((a) => a.event.targetId === targetId);
  await waitFor('four audit events of the service', async () => of(id).length >= 4);
  const events = of(id);
  assert.deepEqual(
    events.map((a) => a.event.title),
    ['service created', 'service updated', 'service updated', 'service deleted'],
  );
  for (const { subject, event } of events) {
    assert.equal(subject, 'evt.policy.v1.event');
    assert.equal(event.category, 'crud');
    assert.equal(event.level, 'Info');
    assert.equal(event.origin, 'policy');
    assert.equal(event.namespace, '/audited');
    assert.equal(event.targetIdentity, 'service');
    assert.match(event.content, /audit-editor/, 'the event names the token');
    assert.match(event.content, /watched/);
    assert.ok(event.id.length > 0 && event.timeMs > 0n);
  }
  assert.equal(new Set(events.map((a) => a.event.id)).size, 4, 'one event per change');

  const netId = (await call('GET', '/externalnetworks/imported-net', { token })).body.ID as string;
  await waitFor('the audit event of the import', async () => of(netId).length >= 1);
  assert.equal(of(netId)[0]!.event.title, 'externalnetwork created');
  assert.match(of(netId)[0]!.event.content, /audit-editor/);

  await waitFor('the audit event of the token', async () => of(made.body.ID).length >= 1);
  assert.equal(of(made.body.ID)[0]!.event.title, 'apitoken created');
  assert.match(of(made.body.ID)[0]!.event.content, /bootstrap-admin/);
  assert.ok(!audit.some((a) => a.event.content.includes(token) || a.event.content.includes(token.slice(21))), 'no event carries the token');
});

test('refused changes publish no audit event', async () => {
  const refused = await call('POST', '/services', { ns: '/audited', body: plainService('refused', { port: 0 }) });
  assert.equal(refused.body.code, 'POLICY_VALIDATION_FAILED');
  const base = await call('POST', '/services', { ns: '/audited', body: plainService('stable') });
  assert.equal(base.status, 201);
  assert.equal((await call('POST', '/services', { ns: '/audited', body: plainService('stable') })).status, 409);
  assert.equal((await call('PUT', '/services/stable', { ns: '/audited', headers: { 'if-match': '"1"' }, body: plainService('stable') })).status, 412);
  assert.equal((await call('PATCH', '/services/stable', { ns: '/audited', body: { port: -1 } })).status, 422);
  assert.equal(
    (await call('POST', '/import', { ns: '/audited', body: { data: { services: [plainService('imported-refused'), { name: 'x' }] } } })).status,
    422,
  );
  // Events leave in order: once this marker arrives, anything published before it has too.
  const marker = await call('POST', '/services', { ns: '/audited', body: plainService('marker') });
  assert.equal(marker.status, 201);
  await waitFor('the marker event', async () => audit.some((a) => a.event.targetId === marker.body.ID));
  const stableEvents = audit.filter((a) => a.event.targetId === base.body.ID);
  assert.deepEqual(
    stableEvents.map((a) => a.event.title),
    ['service created'],
    'only the successful create',
  );
  assert.ok(!audit.some((a) => /\b(refused|imported-refused)\b/.test(a.event.content)), 'no event for a refused create or import');
});

// ---------------------------------------------------------------- hardening

test('changing the provider or client of an OIDC service requires the secret again (it is not sent to a new IdP)', async () => {
  const ns = '/secret-moves';
  assert.equal((await call('POST', '/services', { ns, body: oidcService('moving', 'original-secret') })).status, 201);
  const moved = await call('PATCH', '/services/moving', { ns, body: { OIDCProviderURL: 'https://attacker.example.com' } });
  assertValidationFailed(moved, ['OIDCClientSecret'], 'provider changed without a secret');
  const renamedClient = await call('PATCH', '/services/moving', { ns, body: { OIDCClientID: 'other-client' } });
  assertValidationFailed(renamedClient, ['OIDCClientSecret'], 'client changed without a secret');
  const unchanged = await call('PATCH', '/services/moving', { ns, body: { description: 'same provider' } });
  assert.equal(unchanged.status, 200, 'other changes keep the stored secret');
  const withSecret = await call('PATCH', '/services/moving', { ns, body: { OIDCProviderURL: 'https://new-idp.example.com', OIDCClientSecret: 'new-secret' } });
  assert.equal(withSecret.status, 200, withSecret.text);
  assert.equal(await clientSecretOf(withSecret.body.ID), 'new-secret');
});

test('a PATCH in the older protocols + ports form replaces the stored servicePorts', async () => {
  const ns = '/legacy-patch';
  assert.equal((await call('POST', '/externalnetworks', { ns, body: { name: 'idp', entries: ['idp.example.com'], servicePorts: ['tcp/443'] } })).status, 201);
  const patched = await call('PATCH', '/externalnetworks/idp', { ns, body: { protocols: ['tcp'], ports: ['8443'] } });
  assert.equal(patched.status, 200, patched.text);
  assert.deepEqual(patched.body.servicePorts, ['tcp/8443']);
});

test('If-Match: * matches any current version; a lower-case bearer scheme is accepted', async () => {
  const ns = '/any-match';
  assert.equal((await call('POST', '/services', { ns, body: plainService('star') })).status, 201);
  const res = await call('PATCH', '/services/star', { ns, body: { description: 'x' }, headers: { 'if-match': '*' } });
  assert.equal(res.status, 200, res.text);
  const lower = await app.http.inject({ method: 'GET', url: '/services/star', headers: { authorization: `bearer ${ADMIN}`, 'x-namespace': ns } });
  assert.equal(lower.statusCode, 200);
});

test('responses are YAML when the client asks for it', async () => {
  const ns = '/yaml-out';
  assert.equal((await call('POST', '/services', { ns, body: plainService('yaml-out') })).status, 201);
  const res = await app.http.inject({
    method: 'GET',
    url: '/services/yaml-out',
    headers: { authorization: `Bearer ${ADMIN}`, 'x-namespace': ns, accept: 'application/yaml' },
  });
  assert.equal(res.statusCode, 200);
  assert.match(String(res.headers['content-type']), /^application\/yaml/);
  assert.match(res.body, /^name: yaml-out$/m);
  const error = await app.http.inject({
    method: 'GET',
    url: '/services/missing',
    headers: { authorization: `Bearer ${ADMIN}`, 'x-namespace': ns, accept: 'application/yaml' },
  });
  assert.equal(error.statusCode, 404);
  assert.match(error.body, /^code: NOT_FOUND$/m);
});
