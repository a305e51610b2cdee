// Secrets keys through the whole cluster (issue 12, point 3). The policy service's key file is
// deleted (`rm -rf .data` against an existing store, or a replica without the shared key): it
// starts anyway, the demo sign-in works (its bootstrap file carries the secret in clear), a
// service created through the API is listed by `msctl secrets status` with the key it needs,
// and its sign-in page says why it is unavailable. Given the old key after the new one, the
// service opens; `msctl secrets reseal` then leaves the new key the only one needed.
// Tests run in order.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromBinary } from '@bufbuild/protobuf';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { natsConnectOptions } from '@microseg/bus';
import { errorCodes } from '@microseg/errors';
import { LogEventSchema, type LogEvent } from '@microseg/proto/events';
import { insecureFetch, loginWithHttp, repoRoot, startCluster, waitFor, type Cluster } from '@microseg/testkit';

const NS = '/acme/team-c/walkthrough';
let dataDir: string;
let cluster: Cluster;
let nats: NatsConnection;
const events: LogEvent[] = [];
let oldKey: string;
let newKey: string;

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'microseg-secrets-keys-'));
  cluster = await startCluster({ dataDir, isolated: true });
  nats = await connect(natsConnectOptions(cluster.natsConnection()));
  const sub = nats.subscribe('evt.policy.v1.event');
  void (async () => {
    for await (const m of sub) events.push(fromBinary(LogEventSchema, m.data));
  })();
});

after(async () => {
  await nats?.close();
  await cluster?.stop();
});

/** The key id the policy service derives (8 bytes of a domain-separated SHA-256), computed independently. */
const keyIdOf = (base64: string) =>
  createHash('sha256').update('microseg secrets key id\0').update(Buffer.from(base64, 'base64')).digest().subarray(0, 8).toString('hex');

async function api(method: string, path: string, body?: unknown, base = cluster.policyUrl, namespace = NS): Promise<{ status: number; body: any }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${cluster.adminToken}`, 'x-namespace': namespace, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: await res.json() };
}

function msctl(args: string[], apiUrl = cluster.policyUrl): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(repoRoot, 'packages/cli/bin/msctl.js'), ...args], {
      env: { PATH: process.env.PATH ?? '', MSCTL_API: apiUrl, MSCTL_TOKEN: cluster.adminToken, MSCTL_CONFIG: join(dataDir, 'no-msctl-config.yaml') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

const walkthroughUrl = () => `https://localhost:${cluster.ports.walkthrough}`;
const keyFile = () => join(dataDir, 'policy', 'secrets.key');

test('setup: an OIDC service created through the API (the walkthrough), sealed with the key in the data directory', async () => {
  const created = [
    await api('POST', '/externalnetworks', {
      name: 'idp',
      entries: ['localhost', '127.0.0.1'],
      servicePorts: [`tcp/${cluster.ports.idp}`],
      associatedTags: ['ext:name=idp'],
    }),
    await api('POST', '/networkaccesspolicies', {
      name: 'allow-app-to-idp',
      action: 'Allow',
      applyPolicyMode: 'OutgoingTraffic',
      subject: [['$identity=processingunit', 'type=walkthrough-app']],
      object: [['ext:name=idp']],
    }),
    await api('POST', '/httpresourcespecs', {
      name: 'app',
      associatedTags: ['api=walkthrough'],
      endpoints: [{ URI: '/*', methods: ['GET'], scopes: [['email=alice@example.com']] }],
    }),
    await api('POST', '/services', {
      name: 'walkthrough-app',
      hosts: ['localhost'],
      port: cluster.ports.app,
      exposedPort: cluster.ports.walkthrough,
      selectors: [['type=walkthrough-app']],
      exposedAPIs: [['api=walkthrough']],
      authorizationType: 'OIDC',
      OIDCProviderURL: cluster.idpUrl,
      OIDCClientID: 'walkthrough-app',
      OIDCClientSecret: 'walkthrough-secret',
      OIDCCallbackURL: walkthroughUrl(),
      OIDCScopes: ['email'],
    }),
  ];
  for (const res of created) assert.equal(res.status, 201, JSON.stringify(res.body));
  await waitFor(
    'the gateway to serve the service',
    async () => (await insecureFetch(`${walkthroughUrl()}/`, { headers: { accept: 'application/json' } })).status === 401,
  );
  oldKey = (await readFile(keyFile(), 'utf8')).trim();
});

test('the key file deleted: policy starts, the demo sign-in works, the API-made service is listed and its sign-in page says why', async () => {
  await cluster.stopService('policy');
  await rm(keyFile());
  events.length = 0;
  await cluster.startService('policy');
  newKey = (await readFile(keyFile(), 'utf8')).trim();
  assert.notEqual(keyIdOf(newKey), keyIdOf(oldKey));

  const demo = await loginWithHttp(cluster.gatewayUrl, 'alice@example.com', 'alice');
  assert.equal(demo.response.status, 200, 'the bootstrap file overwrote the demo secret it carries in clear');

  const status = await api('GET', '/secrets', undefined, cluster.policyUrl, '/');
  assert.deepEqual(
    status.body.unreadable.map((u: any) => [u.namespace, u.name, u.field, u.keyId]),
    [[NS, 'walkthrough-app', 'OIDCClientSecret', keyIdOf(oldKey)]],
  );
  const listed = await msctl(['secrets', 'status']);
  assert.equal(listed.code, 1, listed.stderr);
  assert.match(listed.stdout, new RegExp(`service\\s+${NS}\\s+walkthrough-app\\s+OIDCClientSecret\\s+${keyIdOf(oldKey)}\\s+missing-key`));
  assert.match(listed.stdout, /POLICY_SECRETS_KEYS/);

  const page = await insecureFetch(`${walkthroughUrl()}/`, { headers: { accept: 'text/html' } });
  const html = await page.text();
  assert.equal(page.status, 503);
  assert.ok(
    html.includes(errorCodes.POLICY_SECRET_UNREADABLE.message.replaceAll("'", '&#39;')) || html.includes(errorCodes.POLICY_SECRET_UNREADABLE.message),
    html.slice(0, 500),
  );
  assert.ok(!html.includes(keyIdOf(oldKey)), 'the public page does not name the key');

  await waitFor('the Error event for the service', async () => events.some((e) => e.title === 'Secret cannot be decrypted' && e.namespace === NS));
  const [event] = events.filter((e) => e.title === 'Secret cannot be decrypted');
  assert.equal(event?.level, 'Error');
  assert.match(event.content, new RegExp(`key ${keyIdOf(oldKey)}.*POLICY_SECRETS_KEYS.*msctl api update service walkthrough-app -n ${NS}`));
  for (const e of events) assert.ok(!e.content.includes('walkthrough-secret'), 'an event carries the secret');
});

test('the old key given after the new one: it opens; msctl secrets reseal; then the new key alone opens everything and alice signs in', async () => {
  await cluster.stopService('policy');
  const replica = await cluster.startReplica('policy', 2, { POLICY_SECRETS_KEYS: `${newKey},${oldKey}` });
  try {
    const status = await api('GET', '/secrets', undefined, replica.url, '/');
    assert.deepEqual(status.body.unreadable, []);
    assert.deepEqual(
      status.body.stale.map((s: any) => [s.name, s.keyId]),
      [['walkthrough-app', keyIdOf(oldKey)]],
    );
    const resealed = await msctl(['secrets', 'reseal'], replica.url);
    assert.equal(resealed.code, 0, resealed.stderr);
    assert.match(
      resealed.stdout,
      new RegExp(`resealed service walkthrough-app \\(${NS}\\): OIDCClientSecret\\n1 object\\(s\\) sealed again with key ${keyIdOf(newKey)}`),
    );
  } finally {
    await replica.stop();
  }
  await cluster.startService('policy');
  const listed = await msctl(['secrets', 'status']);
  assert.equal(listed.code, 0, listed.stdout + listed.stderr);
  assert.doesNotMatch(listed.stderr, /older key/);

  const alice = await loginWithHttp(walkthroughUrl(), 'alice@example.com', 'alice');
  assert.equal(alice.response.status, 200, alice.body.slice(0, 300));
  assert.match(alice.body, /This is the protected demo application/);
});
