// Fault tests: the IdP down, Redis down, NATS down and restarted, the policy
// service down at start. Expected: protected routes fail closed with a fast
// 503, public routes keep working where they can, no redirect loops, recovery
// without a restart, and no decision event lost once NATS is back.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { insecureFetch, loginWithHttp, startCluster, TestBrowser, waitFor, type Cluster } from '@microseg/testkit';
import { errorCodes } from '@microseg/errors';

const NS = '/acme/team-b/dev/private-app';
let cluster: Cluster;

before(async () => {
  cluster = await startCluster({
    dataDir: await mkdtemp(join(tmpdir(), 'microseg-faults-')),
    isolated: true,
    // No session reuse in the gateway, and a short grace for decisions: faults show at once.
    env: { AUTHN_LOOKUP_CACHE_MS: '0', GATEWAY_DECISION_GRACE_MS: '1000' },
  });
});

after(async () => {
  await cluster?.stop();
});

const html = { accept: 'text/html' };
const json = { accept: 'application/json' };

async function timed(
  url: string,
  headers: Record<string, string>,
  cookie?: string,
): Promise<{ status: number; ms: number; location: string | null; body: string }> {
  const started = performance.now();
  const res = await insecureFetch(url, { headers: { ...headers, ...(cookie ? { cookie: `__Host-microseg=${cookie}` } : {}) }, redirect: 'manual' });
  const body = await res.text();
  return { status: res.status, ms: performance.now() - started, location: res.headers.get('location'), body };
}

test('IdP down: sign-in says so at once (no redirect loop), signed-in users and public pages go on, and sign-in comes back without a restart', async () => {
  const alice = await loginWithHttp(cluster.gatewayUrl, 'alice@example.com', 'alice');
  const cookie = alice.browser.cookie('__Host-microseg')!;
  await cluster.stopService('idp');
  // authn forgets what it discovered, as after a restart of authn itself.
  await cluster.stopService('authn');
  await cluster.startService('authn');
  try {
    const visitor = await timed(`${cluster.gatewayUrl}/`, html);
    assert.equal(visitor.status, 502, visitor.body.slice(0, 300));
    // Said plainly (the registry's message for AUTHN_DISCOVERY_FAILED); the detail is in the administrator's Error event.
    assert.match(visitor.body, /AUTHN_DISCOVERY_FAILED/);
    assert.ok(visitor.body.includes(errorCodes.AUTHN_DISCOVERY_FAILED.message), visitor.body.slice(0, 300));
    assert.equal(visitor.location, null, 'no redirect to an IdP that is down');
    assert.ok(visitor.ms < 7_000, `answered in ${visitor.ms} ms`);
    assert.equal((await timed(`${cluster.gatewayUrl}/_echo`, json, cookie)).status, 200, 'a signed-in user goes on');
    assert.equal((await timed(`${cluster.gatewayUrl}/public/hello`, html)).status, 200);
  } finally {
    await cluster.startService('idp');
  }
  const again = await loginWithHttp(cluster.gatewayUrl, 'bob@example.com', 'bob');
  assert.equal(again.response.status, 403, 'bob can sign in again (and is refused by policy, as always)');
});

test('Redis down: protected requests get a fast 503 and never a login redirect; public pages work; recovery without a restart', async () => {
  const alice = await loginWithHttp(cluster.gatewayUrl, 'alice@example.com', 'alice');
  const cookie = alice.browser.cookie('__Host-microseg')!;
  await cluster.stopServer('redis');
  try {
    for (const [headers, who] of [
      [json, 'API client'],
      [html, 'browser'],
    ] as const) {
      const res = await timed(`${cluster.gatewayUrl}/_echo`, headers, cookie);
      assert.equal(res.status, 503, `${who}: ${res.body.slice(0, 200)}`);
      assert.ok(res.ms < 3_000, `${who} answered in ${res.ms} ms`);
    }
    const visitor = await timed(`${cluster.gatewayUrl}/`, html);
    assert.equal(visitor.status, 503, 'a new visitor is not sent to log in while sessions cannot be stored');
    assert.equal(visitor.location, null);
    assert.equal((await timed(`${cluster.gatewayUrl}/public/hello`, html)).status, 200, 'public pages need no Redis');
  } finally {
    await cluster.startServer('redis');
  }
  // Redis here keeps nothing on disk, so sessions are gone; signing in works again at once.
  await waitFor(
    'sign-in to work again',
    async () =>
      (await loginWithHttp(cluster.gatewayUrl, 'alice@example.com', 'alice').then(
        (a) => a.response.status,
        () => 0,
      )) === 200,
    20_000,
    500,
  );
});

test('NATS down and restarted: fast 503 once the grace ends, public pages from known decisions meanwhile, recovery, and no decision event lost', async () => {
  let alice: Awaited<ReturnType<typeof loginWithHttp>> | undefined;
  await waitFor(
    'a login (the cluster recovered from the previous fault)',
    async () => {
      alice = await loginWithHttp(cluster.gatewayUrl, 'alice@example.com', 'alice').catch(() => undefined);
      return alice?.response.status === 200;
    },
    20_000,
    500,
  );
  const cookie = alice!.browser.cookie('__Host-microseg')!;
  const marker = `/public/hello?fault=${Date.now()}`;
  assert.equal((await timed(`${cluster.gatewayUrl}${marker}`, html)).status, 200);

  await cluster.stopServer('nats');
  let servedDuringOutage = 1;
  try {
    // Known decisions stand for the grace period; every request is a decision event kept for later.
    const early = await timed(`${cluster.gatewayUrl}${marker}`, html);
    if (early.status === 200) servedDuringOutage++;
    await waitFor(
      'the grace period to end',
      async () => {
        const r = await timed(`${cluster.gatewayUrl}${marker}`, html);
        if (r.status === 200) servedDuringOutage++;
        return r.status === 503;
      },
      10_000,
      100,
    );
    const protectedRes = await timed(`${cluster.gatewayUrl}/_echo`, json, cookie);
    assert.equal(protectedRes.status, 503);
    assert.ok(protectedRes.ms < 3_000, `answered in ${protectedRes.ms} ms`);
  } finally {
    await cluster.startServer('nats');
  }
  await waitFor('service to come back without a restart', async () => (await timed(`${cluster.gatewayUrl}/_echo`, json, cookie)).status === 200, 30_000, 250);

  // Every request answered 200 during the outage is counted once NATS is back (the 503s are counted too,
  // as rejected flows; here we follow the accepted ones of the marker path).
  await waitFor(
    "the outage's decisions to reach flowlog",
    async () => {
      const res = await fetch(`${cluster.flowlogUrl}/api/v1/flows?namespace=${NS}&limit=1000`, { headers: { authorization: `Bearer ${cluster.adminToken}` } });
      if (!res.ok) return false;
      const flows = ((await res.json()) as { flows: Array<{ URI: string; action: string; count: number }> }).flows;
      const accepted = flows.filter((f) => f.URI === 'GET /public/hello' && f.action === 'Accept').reduce((n, f) => n + f.count, 0);
      return accepted >= servedDuringOutage;
    },
    30_000,
    250,
  );
});

test('policy down at start: the gateway does not open its ports until it has routes, then serves without a restart', async () => {
  await cluster.stopService('policy');
  await cluster.stopService('gateway');
  const starting = cluster.startService('gateway').catch((err: Error) => err);
  // Not ready while policy is away: nothing is served without decisions.
  await waitFor(
    'the gateway process to answer its health port',
    async () => {
      const res = await fetch(`http://127.0.0.1:${cluster.ports.gatewayAdmin}/readyz`).catch(() => undefined);
      return res?.status === 503;
    },
    20_000,
    200,
  );
  const refused = await insecureFetch(`${cluster.gatewayUrl}/public/hello`).then(
    (r) => r.status,
    () => 'refused',
  );
  assert.equal(refused, 'refused', 'the exposed port is closed without routes');
  await cluster.startService('policy');
  assert.equal(await starting, undefined, 'the gateway became ready once policy answered');
  const browser = new TestBrowser(insecureFetch);
  assert.equal((await browser.request(`${cluster.gatewayUrl}/public/hello`)).status, 200);
});
