// Login states are limited per client address (issue 12, point 4): a client
// that asks for protected pages in a loop — each navigation without a session
// starts a login and writes its state to Redis — gets a 429 page once its
// address has started AUTHN_LOGIN_STARTS_PER_ADDRESS logins in the window, and
// Redis stops growing. Other addresses are not affected; the operator sees one
// Warning event per address and window. The demo cluster with a limit of 5;
// clients connect from their own loopback addresses (127.0.0.x).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { Agent, fetch as undiciFetch } from 'undici';
import { startCluster, waitFor, type Cluster } from '@microseg/testkit';
import { redisKeys } from '@microseg/contracts';

const LIMIT = 5;
const NAMESPACE = '/acme/team-b/dev/private-app';
let cluster: Cluster;
let redis: Redis;

before(async () => {
  cluster = await startCluster({
    dataDir: await mkdtemp(join(tmpdir(), 'microseg-attacks-login-flood-')),
    isolated: true,
    env: { AUTHN_LOGIN_STARTS_PER_ADDRESS: String(LIMIT) },
  });
  redis = new Redis(cluster.redisOptions());
});

after(async () => {
  redis?.disconnect();
  await cluster?.stop();
});

/** A browser navigation to a protected page, from `localAddress`. */
function navigateFrom(localAddress: string): (path: string) => Promise<{ status: number; location: string | null; retryAfter: string | null; body: string }> {
  const agent = new Agent({ localAddress, connect: { rejectUnauthorized: false, family: 4 } });
  return async (path) => {
    const res = await undiciFetch(`${cluster.gatewayUrl}${path}`, { headers: { accept: 'text/html' }, redirect: 'manual', dispatcher: agent });
    return { status: res.status, location: res.headers.get('location'), retryAfter: res.headers.get('retry-after'), body: await res.text() };
  };
}

const loginStates = async () => (await redis.keys(redisKeys.loginState('*'))).length;

type LoggedEvent = { title: string; content: string; level: string };

async function allEvents(from: number): Promise<LoggedEvent[]> {
  const res = await fetch(`${cluster.flowlogUrl}/api/v1/events?namespace=${encodeURIComponent(NAMESPACE)}&category=authn&from=${from}`, {
    headers: { authorization: `Bearer ${cluster.adminToken}` },
  });
  assert.equal(res.status, 200);
  return ((await res.json()) as { events: LoggedEvent[] }).events;
}

const limitEvents = async (from: number) => (await allEvents(from)).filter((e) => e.title === 'Login starts limited');

test(`one address navigating in a loop: ${LIMIT} logins start, then 429 pages with Retry-After; Redis stops growing; one Warning event; another address still signs in`, async () => {
  const startedAt = Date.now();
  const attacker = navigateFrom('127.0.0.3');
  const statesBefore = await loginStates();
  for (let i = 0; i < LIMIT; i++) {
    const start = await attacker(`/flood/${i}`);
    assert.equal(start.status, 302, start.body.slice(0, 300));
    assert.ok(start.location?.startsWith(cluster.idpUrl), 'sent to the IdP');
  }
  assert.equal(await loginStates(), statesBefore + LIMIT);

  for (let i = 0; i < 40; i++) {
    const refused = await attacker(`/flood/more-${i}`);
    assert.equal(refused.status, 429, refused.body.slice(0, 300));
    assert.equal(refused.location, null, 'no redirect: not a login loop');
    assert.match(refused.body, /Error code <code>AUTHN_LOGIN_RATE_LIMITED<\/code>/);
    const retryAfter = Number(refused.retryAfter);
    assert.ok(Number.isInteger(retryAfter) && retryAfter > 0 && retryAfter <= 600, `Retry-After ${refused.retryAfter}`);
  }
  assert.equal(await loginStates(), statesBefore + LIMIT, 'no login state was written for the refused starts');

  const bystander = navigateFrom('127.0.0.4');
  const other = await bystander('/hello');
  assert.equal(other.status, 302, 'another address starts a login as usual');
  assert.ok(other.location?.startsWith(cluster.idpUrl));

  // More refusals, then a later event of authn as a marker (a callback with an unknown state): once the
  // marker is stored, any second limit event would be too.
  await attacker('/flood/last');
  await bystander('/aporeto/oidc/callback?state=not-a-state-of-this-login&code=x');
  await waitFor(
    'the marker event',
    async () => (await allEvents(startedAt)).some((e) => e.title === 'Login failed' && /unknown, expired or already used state/.test(e.content)),
    5_000,
    50,
  );
  const events = await limitEvents(startedAt);
  assert.equal(events.length, 1, JSON.stringify(events));
  assert.equal(events[0]!.level, 'Warning');
  assert.match(events[0]!.content, /127\.0\.0\.3 started more than 5 logins/);
});

test('from the limited address, a request that is not a navigation still gets its usual 401 JSON (only login starts are limited)', async () => {
  const agent = new Agent({ localAddress: '127.0.0.3', connect: { rejectUnauthorized: false, family: 4 } });
  const res = await undiciFetch(`${cluster.gatewayUrl}/api`, { headers: { accept: 'application/json' }, redirect: 'manual', dispatcher: agent });
  assert.equal(res.status, 401);
  assert.equal(((await res.json()) as { code: string }).code, 'GATEWAY_UNAUTHENTICATED');
});
