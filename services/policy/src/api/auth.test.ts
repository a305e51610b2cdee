// Integration: API access control (SPEC §9) on a real nats-server (JetStream),
// private to this file. Requests go through app.http.inject(); no sockets.
// Tests run in order and share the server; each uses its own tokens and objects. A little over 300 lines:
// the unit cases of the auth plugin are in plugins/auth.test.ts; these need the real token store.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@microseg/telemetry';
import { startNats, waitFor, type RunningServer } from '@microseg/testkit';
import { buildPolicyApp, type PolicyApp } from '../app.ts';
import { policyConfigSchema } from '../config.ts';
import { newToken } from './tokens.ts';

let dir: string;
let nats: RunningServer;
let app: PolicyApp;
const apps: PolicyApp[] = [];
const adminToken = newToken();
const ADMIN = adminToken.token;

async function startApp(): Promise<PolicyApp> {
  // Every request here comes from 127.0.0.1, and many fail on purpose: no 429 (test/attacks/admin-api.test.ts has those).
  const config = policyConfigSchema.parse({
    NATS_URL: nats.url,
    MICROSEG_DATA_DIR: dir,
    POLICY_ADMIN_TOKEN: ADMIN,
    LOG_LEVEL: 'silent',
    POLICY_AUTH_FAILURE_BURST: '10000',
  });
  const started = await buildPolicyApp(config, createLogger('policy', 'silent'));
  apps.push(started);
  return started;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'microseg-policy-auth-'));
  nats = await startNats({ isolated: true, dataDir: dir, defaultPort: 0 });
  app = await startApp();
});

after(async () => {
  for (const a of apps) await a.close(1_000);
  await nats?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface Reply {
  status: number;
  body: any;
  text: string;
}

async function call(
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
  url: string,
  options: { token?: string; ns?: string; body?: unknown; authorization?: string; on?: PolicyApp } = {},
): Promise<Reply> {
  const headers: Record<string, string> = {};
  if (options.authorization !== undefined) headers.authorization = options.authorization;
  else if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.ns !== undefined) headers['x-namespace'] = options.ns;
  const res = await (options.on ?? app).http.inject({ method, url, headers, ...(options.body === undefined ? {} : { payload: options.body as object }) });
  let body: unknown;
  try {
    body = res.body ? JSON.parse(res.body) : undefined;
  } catch {
    assert.fail(`${method} ${url} answered ${res.statusCode} with a body that is not JSON: ${res.body.slice(0, 200)}`);
  }
  return { status: res.statusCode, body, text: res.body };
}

/** An API token made by the bootstrap admin (or `by`). */
async function makeToken(name: string, role: string, namespace: string, by = ADMIN): Promise<{ ID: string; token: string }> {
  const res = await call('POST', '/apitokens', { token: by, ns: namespace, body: { name, role, namespace } });
  assert.equal(res.status, 201, res.text);
  return res.body;
}

const service = (name: string) => ({ name, hosts: [`${name}.example.com`], port: 3000, exposedPort: 443 });

test('a request without Authorization is refused with 401 UNAUTHENTICATED', async () => {
  const res = await call('GET', '/services');
  assert.equal(res.status, 401);
  assert.equal(res.body.code, 'UNAUTHENTICATED');
  assert.match(res.body.message, /Bearer/);
});

test('malformed Authorization headers are refused with 401', async () => {
  const cases = [
    '',
    'Bearer',
    'Bearer ',
    `Basic ${Buffer.from(`admin:${ADMIN}`).toString('base64')}`,
    `Token ${ADMIN}`,
    `${ADMIN}`,
    `Bearer ${ADMIN} extra`,
    `Bearer ${ADMIN}x`,
    `Bearer ${ADMIN.slice(0, -1)}`,
    `Bearer ${ADMIN.replace('mst_', 'msx_')}`,
    `Bearer ${ADMIN.toUpperCase()}`,
    'Bearer mst_zz_zz',
  ];
  for (const authorization of cases) {
    const res = await call('GET', '/services', { authorization });
    assert.equal(res.status, 401, `Authorization: ${JSON.stringify(authorization)}`);
    assert.equal(res.body.code, 'UNAUTHENTICATED');
  }
});

test('a well-formed but unknown token is refused with 401', async () => {
  const res = await call('GET', '/services', { token: newToken().token });
  assert.equal(res.status, 401);
  assert.equal(res.body.code, 'UNAUTHENTICATED');
});

test('the bootstrap token id with a wrong secret is refused with 401', async () => {
  const forged = `mst_${adminToken.id}_${newToken().secret}`;
  const res = await call('GET', '/services', { token: forged });
  assert.equal(res.status, 401);
  assert.equal(res.body.code, 'UNAUTHENTICATED');
  assert.equal((await call('GET', '/services', { token: ADMIN })).status, 200, 'the real bootstrap token works');
});

test('a created token id with a wrong secret is refused with 401', async () => {
  const { ID, token } = await makeToken('wrong-secret', 'admin', '/');
  assert.equal((await call('GET', '/services', { token })).status, 200, 'the real token works');
  const forged = `mst_${ID}_${newToken().secret}`;
  const res = await call('GET', '/services', { token: forged });
  assert.equal(res.status, 401);
  assert.equal(res.body.code, 'UNAUTHENTICATED');
});

test('an admin creates a token: it is shown once, works, and is never listed again, nor its hash', async () => {
  const res = await call('POST', '/apitokens', { token: ADMIN, ns: '/', body: { name: 'ci-bot', role: 'editor', namespace: '/acme' } });
  assert.equal(res.status, 201, res.text);
  const { ID, token, name, role, namespace, createTime } = res.body;
  assert.match(token, /^mst_[a-f0-9]{16}_[A-Za-z0-9_-]{43}$/);
  assert.equal(token.slice(4, 20), ID, 'the token carries its id');
  assert.deepEqual({ name, role, namespace }, { name: 'ci-bot', role: 'editor', namespace: '/acme' });
  assert.ok(!Number.isNaN(Date.parse(createTime)));
  assert.ok(!('secretHash' in res.body), 'the creation answer does not show the hash');

  const secret = token.slice(21);
  const hashHex = createHash('sha256').update(secret).digest('hex');

  const me = await call('GET', '/services', { token, ns: '/acme' });
  assert.equal(me.status, 200, 'the new token works');

  for (const ns of ['/', '/acme']) {
    const list = await call('GET', '/apitokens', { token: ADMIN, ns });
    assert.equal(list.status, 200);
    const listed = (list.body as Array<Record<string, unknown>>).find((t) => t.ID === ID);
    assert.ok(listed, `the token is listed in ${ns}`);
    assert.deepEqual({ name: listed.name, role: listed.role, namespace: listed.namespace }, { name: 'ci-bot', role: 'editor', namespace: '/acme' });
    for (const t of list.body as Array<Record<string, unknown>>) {
      assert.ok(!('token' in t), 'no token in the list');
      assert.ok(!('secretHash' in t), 'no hash in the list');
    }
    assert.ok(!list.text.includes(secret), 'the secret is never listed');
    assert.ok(!list.text.includes(hashHex), 'the hash is never listed');
    assert.ok(!list.text.includes(hashHex.slice(0, 16)), 'no part of the hash is listed');
  }
  const other = await call('GET', '/apitokens', { token: ADMIN, ns: '/other' });
  assert.equal(other.status, 200);
  assert.ok(!(other.body as Array<{ ID: string }>).some((t) => t.ID === ID), 'a token of /acme is not listed under /other');
});

test('creating a token needs a name, a known role and a namespace path (422, every attribute named)', async () => {
  const res = await call('POST', '/apitokens', { token: ADMIN, ns: '/', body: { role: 'owner', namespace: 'acme' } });
  assert.equal(res.status, 422, res.text);
  assert.equal(res.body.code, 'POLICY_VALIDATION_FAILED');
  assert.deepEqual(res.body.errors.map((e: { attribute: string }) => e.attribute).sort(), ['name', 'namespace', 'role']);
});

test('a viewer can read but every change is refused with 403 naming the role', async () => {
  const created = await call('POST', '/services', { token: ADMIN, ns: '/viewing', body: service('seen') });
  assert.equal(created.status, 201, created.text);
  const { token, ID } = await makeToken('auditor', 'viewer', '/viewing');

  const list = await call('GET', '/services', { token });
  assert.equal(list.status, 200);
  assert.deepEqual(
    list.body.map((s: { name: string }) => s.name),
    ['seen'],
  );
  assert.equal((await call('GET', '/services/seen', { token })).status, 200);
  assert.equal((await call('GET', '/export', { token })).status, 200);

  const refused: Array<[method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, body?: unknown]> = [
    ['POST', '/services', service('viewer-made')],
    ['PUT', '/services/seen', service('seen')],
    ['PATCH', '/services/seen', { description: 'changed by a viewer' }],
    ['DELETE', '/services/seen'],
    ['POST', '/import', { data: { services: [service('viewer-imported')] } }],
    ['POST', '/import', { data: { services: [{ name: 'bad' }] } }],
    ['POST', '/apitokens', { name: 'escalate', role: 'admin', namespace: '/viewing' }],
    ['DELETE', `/apitokens/${ID}`],
    ['GET', '/apitokens'],
  ];
  for (const [method, url, body] of refused) {
    const res = await call(method, url, { token, body });
    assert.equal(res.status, 403, `${method} ${url}: ${res.text}`);
    assert.equal(res.body.code, 'FORBIDDEN');
    assert.match(res.body.message, /viewer/, `${method} ${url}: the message names the role`);
  }
  const after = await call('GET', '/services/seen', { token });
  assert.equal(after.body.description, undefined, 'nothing changed');
  assert.equal((await call('GET', '/services/viewer-made', { token })).status, 404);
  assert.equal((await call('GET', '/services/viewer-imported', { token })).status, 404);
  assert.equal((await call('GET', '/services', { token: ADMIN })).status, 200, 'the token still works after the refusals');
});

test('an editor of /acme/team-a acts in its subtree only', async () => {
  const { token } = await makeToken('team-a-editor', 'editor', '/acme/team-a');

  const own = await call('POST', '/services', { token, body: service('a-app') });
  assert.equal(own.status, 201, `no X-Namespace means the token's own namespace: ${own.text}`);
  assert.equal(own.body.namespace, '/acme/team-a');

  const child = await call('POST', '/services', { token, ns: '/acme/team-a/dev', body: service('dev-app') });
  assert.equal(child.status, 201, child.text);
  assert.equal(child.body.namespace, '/acme/team-a/dev');
  assert.equal((await call('GET', '/services', { token, ns: '/acme/team-a/dev' })).status, 200);

  for (const ns of ['/acme/team-b', '/acme', '/', '/acme/team-ab', '/acme/team-a-dev', '/acme/team']) {
    const read = await call('GET', '/services', { token, ns });
    assert.equal(read.status, 403, `GET in ${ns}`);
    assert.equal(read.body.code, 'FORBIDDEN');
    assert.ok(read.body.message.includes('/acme/team-a'), 'the message names the token namespace');
    const write = await call('POST', '/services', { token, ns, body: service(`escape-${ns.replaceAll('/', '_')}`) });
    assert.equal(write.status, 403, `POST in ${ns}`);
  }
  assert.equal((await call('GET', '/services', { token: ADMIN, ns: '/acme/team-b' })).body.length, 0, 'nothing was written outside');
  assert.equal((await call('GET', '/services', { token: ADMIN, ns: '/acme/team-ab' })).body.length, 0, 'nothing was written outside');
});

test('an editor cannot reach another namespace through an import document', async () => {
  const { token } = await makeToken('team-a-importer', 'editor', '/acme/team-a');
  const viaDocument = await call('POST', '/import', { token, body: { namespace: '/acme/team-b', data: { services: [service('smuggled')] } } });
  assert.equal(viaDocument.status, 403, viaDocument.text);
  const viaObject = await call('POST', '/import', {
    token,
    body: { data: { services: [service('fine'), { ...service('smuggled2'), namespace: '/acme/team-ab' }] } },
  });
  assert.equal(viaObject.status, 403, viaObject.text);
  assert.equal((await call('GET', '/services/smuggled', { token: ADMIN, ns: '/acme/team-b' })).status, 404);
  assert.equal((await call('GET', '/services/smuggled2', { token: ADMIN, ns: '/acme/team-ab' })).status, 404);
  assert.equal((await call('GET', '/services/fine', { token: ADMIN, ns: '/acme/team-a' })).status, 404, 'all or nothing');
});

test('an editor cannot create, list or revoke tokens (403)', async () => {
  const { token } = await makeToken('editor-no-tokens', 'editor', '/acme');
  const victim = await makeToken('victim', 'viewer', '/acme');
  const create = await call('POST', '/apitokens', { token, body: { name: 'mine', role: 'viewer', namespace: '/acme' } });
  assert.equal(create.status, 403, create.text);
  assert.match(create.body.message, /editor/);
  assert.equal((await call('GET', '/apitokens', { token })).status, 403);
  assert.equal((await call('DELETE', `/apitokens/${victim.ID}`, { token })).status, 403);
  assert.equal((await call('GET', '/services', { token: victim.token })).status, 200, 'the victim token still works');
});

test('an admin of /acme manages tokens in /acme only', async () => {
  const { token } = await makeToken('acme-admin', 'admin', '/acme');
  for (const namespace of ['/', '/other', '/acmeish']) {
    const res = await call('POST', '/apitokens', { token, body: { name: 'up', role: 'admin', namespace } });
    assert.equal(res.status, 403, `token for ${namespace}: ${res.text}`);
    assert.equal(res.body.code, 'FORBIDDEN');
  }
  const rootList = await call('GET', '/apitokens', { token, ns: '/' });
  assert.equal(rootList.status, 403);

  const below = await call('POST', '/apitokens', { token, body: { name: 'team-a-viewer', role: 'viewer', namespace: '/acme/team-a' } });
  assert.equal(below.status, 201, below.text);

  // A token of another subtree cannot be revoked from here, nor is it said to exist.
  const root = await makeToken('root-viewer', 'viewer', '/');
  const revoke = await call('DELETE', `/apitokens/${root.ID}`, { token });
  assert.equal(revoke.status, 404, revoke.text);
  assert.equal((await call('GET', '/services', { token: root.token })).status, 200, 'the root token still works');
});

test('a revoked token is refused with 401 on the next request', async () => {
  const { ID, token } = await makeToken('short-lived', 'editor', '/acme');
  assert.equal((await call('GET', '/services', { token })).status, 200);
  const revoked = await call('DELETE', `/apitokens/${ID}`, { token: ADMIN });
  assert.equal(revoked.status, 200, revoked.text);
  assert.equal(revoked.body.ID, ID);
  assert.ok(!('secretHash' in revoked.body));
  const next = await call('GET', '/services', { token });
  assert.equal(next.status, 401);
  assert.equal(next.body.code, 'UNAUTHENTICATED');
  const list = await call('GET', '/apitokens', { token: ADMIN });
  assert.ok(!(list.body as Array<{ ID: string }>).some((t) => t.ID === ID), 'no longer listed');
  assert.equal((await call('DELETE', `/apitokens/${ID}`, { token: ADMIN })).status, 404, 'revoking twice: no such token');
});

test('a token made on one replica works on another, and its revocation reaches it', async () => {
  const second = await startApp();
  const { ID, token } = await makeToken('replicated', 'viewer', '/acme');
  await waitFor('the token on the second replica', async () => (await call('GET', '/services', { token, on: second })).status === 200);
  assert.equal((await call('DELETE', `/apitokens/${ID}`, { token: ADMIN })).status, 200);
  await waitFor('the revocation on the second replica', async () => (await call('GET', '/services', { token, on: second })).status === 401);
});

test('a malformed X-Namespace is refused with 400', async () => {
  for (const ns of ['acme', '/acme/', '//acme', '/acme//team', '/acme team', '/acme/tëam', '/acme?x=1', '', ' ']) {
    const res = await call('GET', '/services', { token: ADMIN, ns });
    assert.equal(res.status, 400, `X-Namespace: ${JSON.stringify(ns)}: ${res.text}`);
    assert.equal(res.body.code, 'BAD_REQUEST');
    assert.match(res.body.message, /X-Namespace/);
  }
});

test('dot segments in X-Namespace are refused with 400, so a subtree cannot be named around', async () => {
  const { token } = await makeToken('dots', 'editor', '/acme/team-a');
  for (const ns of ['/acme/team-a/..', '/acme/team-a/../team-b', '/acme/team-a/.', '/..']) {
    const res = await call('POST', '/services', { token: ns === '/..' ? ADMIN : token, ns, body: service('dotted') });
    assert.equal(res.status, 400, `X-Namespace: ${ns}: ${res.text}`);
    assert.equal(res.body.code, 'BAD_REQUEST');
  }
  const scoped = await call('POST', '/apitokens', { token: ADMIN, ns: '/', body: { name: 'dotted', role: 'admin', namespace: '/acme/..' } });
  assert.equal(scoped.status, 422, scoped.text);
  assert.deepEqual(
    scoped.body.errors.map((e: { attribute: string }) => e.attribute),
    ['namespace'],
  );
  // Dots inside a segment are fine.
  for (const ns of ['/acme/team-a/v1.2', '/acme/team-a/.hidden', '/acme/team-a/...']) {
    assert.equal((await call('GET', '/services', { token, ns })).status, 200, ns);
  }
});

test('nothing is readable anonymously', async () => {
  const created = await call('POST', '/services', { token: ADMIN, ns: '/', body: service('secretive') });
  assert.equal(created.status, 201, created.text);
  for (const url of [
    '/services',
    '/services/secretive',
    `/services/${created.body.ID}`,
    '/export',
    '/apitokens',
    '/namespaces',
    '/services?recursive=true',
    '/export?recursive=true',
  ]) {
    for (const ns of [undefined, '/']) {
      const res = await call('GET', url, { ns });
      assert.equal(res.status, 401, `GET ${url}`);
      assert.equal(res.body.code, 'UNAUTHENTICATED');
      assert.ok(!res.text.includes('secretive'), `GET ${url} shows no object`);
    }
  }
  const write = await call('POST', '/services', { body: service('anonymous') });
  assert.equal(write.status, 401);
  assert.equal((await call('GET', '/services/anonymous', { token: ADMIN, ns: '/' })).status, 404);
});

test('health probes stay open without a token', async () => {
  const res = await app.http.inject({ method: 'GET', url: '/healthz' });
  assert.equal(res.statusCode, 200, res.body);
});
