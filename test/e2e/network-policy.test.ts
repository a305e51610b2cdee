// Network access policies (SPEC §7) end to end: authn's calls to the IdP need
// the walkthrough's allow-app-to-idp policy; incoming traffic from a rejected
// external network gets a 403 of its own. Changes apply without a restart.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { insecureFetch, loginWithHttp, startCluster, TestBrowser, waitFor, type Cluster, policyApi } from '@microseg/testkit';

const NS = '/acme/team-b/dev/private-app';
let cluster: Cluster;

before(async () => {
  cluster = await startCluster({ dataDir: await mkdtemp(join(tmpdir(), 'microseg-netpol-')), isolated: true });
});

after(async () => {
  await cluster?.stop();
});

const api = policyApi(() => cluster, NS);

type Flow = { action: string; dropReason: string; policyName: string; source: { type: string }; destination: { type: string; name: string } };
async function idpFlows(): Promise<Flow[]> {
  const res = await fetch(`${cluster.flowlogUrl}/api/v1/flows?namespace=${NS}&limit=500`, { headers: { authorization: `Bearer ${cluster.adminToken}` } });
  return ((await res.json()) as { flows: Flow[] }).flows.filter((f) => f.source.type === 'ProcessingUnit' && f.destination.type === 'ExternalNetwork');
}

test('without allow-app-to-idp the login fails with a page that names the missing policy; with it the login works', async () => {
  const policy = await api('GET', '/networkaccesspolicies/allow-app-to-idp');
  assert.equal(policy.status, 200);
  assert.equal((await api('DELETE', '/networkaccesspolicies/allow-app-to-idp')).status, 200);

  const browser = new TestBrowser(insecureFetch);
  const refused = await browser.navigate(`${cluster.gatewayUrl}/`, { headers: { accept: 'text/html' } });
  assert.equal(refused.response?.status, 403);
  assert.match(refused.body ?? '', /may not reach the identity provider/);
  // The name and the address authn checked (and would have connected to): no second resolution.
  assert.match(
    refused.body ?? '',
    /no policy allows processing units with type=private-app app=nginx to reach localhost \[(127\.0\.0\.1|::1)\]:\d+ \(external network demo-idp\)/,
  );
  assert.match(refused.body ?? '', /allow-app-to-idp/);
  await waitFor('a rejected PU → IdP flow', async () => (await idpFlows()).some((f) => f.action === 'Reject' && f.dropReason === 'policy'));

  const { ID: _id, createTime: _c, updateTime: _u, kind: _k, ...recreate } = policy.body;
  assert.equal((await api('POST', '/networkaccesspolicies', recreate)).status, 201);
  const alice = await loginWithHttp(cluster.gatewayUrl, 'alice@example.com', 'alice');
  assert.equal(alice.response.status, 200);
  assert.match(alice.body, /Welcome, alice@example\.com/);
  await waitFor('an accepted PU → IdP flow by allow-app-to-idp', async () =>
    (await idpFlows()).some((f) => f.action === 'Accept' && f.policyName === 'allow-app-to-idp' && f.destination.name === 'demo-idp'),
  );
});

test('an incoming Reject policy on an external network answers 403 with its own code; removing it restores access', async () => {
  const network = await api('POST', '/externalnetworks', {
    name: 'loopback-clients',
    entries: ['127.0.0.0/8', '::1'],
    servicePorts: ['any'],
    associatedTags: ['ext:name=loopback'],
  });
  assert.equal(network.status, 201, JSON.stringify(network.body));
  const policy = await api('POST', '/networkaccesspolicies', {
    name: 'block-loopback',
    action: 'Reject',
    applyPolicyMode: 'IncomingTraffic',
    subject: [['ext:name=loopback']],
    object: [['$identity=processingunit', 'type=private-app']],
  });
  assert.equal(policy.status, 201, JSON.stringify(policy.body));

  const get = () => insecureFetch(`${cluster.gatewayUrl}/public/hello`, { headers: { accept: 'application/json' } });
  await waitFor('the Reject policy to apply', async () => (await get()).status === 403, 2_000);
  const denied = await get();
  assert.equal(((await denied.json()) as { code: string }).code, 'GATEWAY_NETWORK_DENIED');

  assert.equal((await api('DELETE', '/networkaccesspolicies/block-loopback')).status, 200);
  await waitFor('access to come back', async () => (await get()).status === 200, 2_000);
});
