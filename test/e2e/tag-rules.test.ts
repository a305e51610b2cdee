// Richer rules through the whole cluster (SPEC §1.2, issue 14 point 6): the demo's rules changed through
// the API to a wildcard (`email=*@example.com`) and a negation (`groups!=admins`), then alice and bob log
// in at the demo IdP (alice is in `admins`, bob is not) and the gateway lets each through where the rules
// say. A negation-only list is refused with 422 and changes nothing.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loginWithHttp, startCluster, type Cluster, type TestBrowser, policyApi } from '@microseg/testkit';

const NS = '/acme/team-b/dev/private-app';
const SPEC = 'private-app-api';
let cluster: Cluster;

before(async () => {
  cluster = await startCluster({ dataDir: await mkdtemp(join(tmpdir(), 'microseg-tag-rules-')), isolated: true });
});

after(async () => {
  await cluster?.stop();
});

const api = policyApi(() => cluster, NS);

/** What the gateway answers a signed-in browser: the application's echo, or the gateway's refusal. */
async function get(browser: TestBrowser, path: string): Promise<{ status: number; body: any }> {
  const res = await browser.request(`${cluster.gatewayUrl}${path}`, { headers: { accept: 'application/json' } });
  return { status: res.status, body: await res.json() };
}

const rules = [
  { URI: '/public/*', methods: ['GET'], public: true },
  { URI: '/_echo/staff', methods: ['GET'], allowedScopes: [['email=*@example.com']] },
  { URI: '/_echo/not-admins', methods: ['GET'], allowedScopes: [['email=*@example.com', 'groups!=admins']] },
  { URI: '/_echo/other-domain', methods: ['GET'], allowedScopes: [['email=*@example.org']] },
];

test('a wildcard admits alice and bob; a negation refuses alice, who carries the tag, and admits bob', async () => {
  const changed = await api('PATCH', `/httpresourcespecs/${SPEC}`, { endpoints: rules });
  assert.equal(changed.status, 200, JSON.stringify(changed.body));
  assert.deepEqual(changed.body.endpoints[2].allowedScopes, [['email=*@example.com', 'groups!=admins']], 'stored as written');

  const alice = await loginWithHttp(cluster.gatewayUrl, 'alice@example.com', 'alice', '/_echo/staff');
  assert.equal(alice.response.status, 200, alice.body.slice(0, 300));
  assert.equal(JSON.parse(alice.body).headers['x-user-email'], 'alice@example.com', 'the wildcard let alice through to the application');
  const aliceRefused = await get(alice.browser, '/_echo/not-admins');
  assert.equal(aliceRefused.status, 403, JSON.stringify(aliceRefused.body));
  assert.equal(aliceRefused.body.code, 'GATEWAY_FORBIDDEN');
  assert.equal((await get(alice.browser, '/_echo/other-domain')).status, 403, 'the wildcard is anchored: *@example.org is not *@example.com');

  const bob = await loginWithHttp(cluster.gatewayUrl, 'bob@example.com', 'bob', '/_echo/staff');
  assert.equal(bob.response.status, 200, bob.body.slice(0, 300));
  const bobAdmitted = await get(bob.browser, '/_echo/not-admins');
  assert.equal(bobAdmitted.status, 200, JSON.stringify(bobAdmitted.body));
  assert.equal(bobAdmitted.body.headers['x-user-email'], 'bob@example.com');
});

test('a list of negations only is refused with 422 naming it; the rules in force stay as they were', async () => {
  const refused = await api('PATCH', `/httpresourcespecs/${SPEC}`, {
    endpoints: [...rules.slice(0, 3), { URI: '/_echo/anyone-but-admins', methods: ['GET'], allowedScopes: [['groups!=admins']] }],
  });
  assert.equal(refused.status, 422, JSON.stringify(refused.body));
  assert.equal(refused.body.code, 'POLICY_VALIDATION_FAILED');
  const error = (refused.body.errors as Array<{ attribute: string; message: string }>).find((e) => e.attribute === 'endpoints[3].allowedScopes[0]');
  assert.ok(error, JSON.stringify(refused.body.errors));
  assert.match(error.message, /only negations.*add a tag that must be present/);

  const stored = await api('GET', `/httpresourcespecs/${SPEC}`);
  assert.deepEqual(
    stored.body.endpoints.map((e: { URI: string }) => e.URI),
    rules.map((r) => r.URI),
  );
  const bob = await loginWithHttp(cluster.gatewayUrl, 'bob@example.com', 'bob', '/_echo/staff');
  assert.equal(bob.response.status, 200);
  assert.equal((await get(bob.browser, '/_echo/anyone-but-admins')).status, 403, 'no endpoint covers it');
});
