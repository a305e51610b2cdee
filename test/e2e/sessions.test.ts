// The session life cycle end to end (SPEC §6): logout in the browser, an
// administrator's revocation reaching two gateways within a second, and the
// IdP's back-channel logout.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import type { Browser } from 'playwright-core';
import { loginWithHttp, startCluster, waitFor, type Cluster, type Replica } from '@microseg/testkit';
import { launchChromium } from './browser.ts';

const NS = '/acme/team-b/dev/private-app';
let cluster: Cluster;
let secondGateway: Replica;
let browser: Browser;
const insecure = new Agent({ connect: { rejectUnauthorized: false } });

before(async () => {
  cluster = await startCluster({ dataDir: await mkdtemp(join(tmpdir(), 'microseg-sessions-')), isolated: true });
  secondGateway = await cluster.startReplica('gateway', 2);
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await cluster?.stop();
  await insecure.close();
});

/** GET /_echo through one gateway (by address) with a session cookie, as an API client would. */
async function echoStatus(origin: string, cookie: string): Promise<number> {
  const res = await request(`${origin}/_echo`, {
    headers: { host: `localhost:${cluster.ports.gateway}`, cookie: `__Host-microseg=${cookie}`, accept: 'application/json' },
    dispatcher: insecure,
  });
  await res.body.dump();
  return res.statusCode;
}

const gateways = () => [`https://127.0.0.1:${cluster.ports.gateway}`, secondGateway.gatewayUrl!];

async function api(method: string, path: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${cluster.policyUrl}${path}`, { method, headers: { authorization: `Bearer ${cluster.adminToken}`, 'x-namespace': NS } });
  return { status: res.status, body: await res.json() };
}

async function aliceCookie(): Promise<string> {
  const alice = await loginWithHttp(cluster.gatewayUrl, 'alice@example.com', 'alice');
  assert.equal(alice.response.status, 200);
  const cookie = alice.browser.cookie('__Host-microseg');
  assert.ok(cookie);
  return cookie;
}

test('logout in the browser ends the session: the old cookie works nowhere, and the IdP session ends too', async () => {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  await page.goto(`${cluster.gatewayUrl}/`);
  await page.getByLabel(/e-?mail/i).fill('alice@example.com');
  await page.getByLabel(/password/i).fill('alice');
  await Promise.all([page.waitForURL((u) => u.href.startsWith(cluster.gatewayUrl)), page.getByRole('button', { name: 'Sign in' }).click()]);
  const cookie = (await context.cookies(cluster.gatewayUrl)).find((c) => c.name === '__Host-microseg')?.value;
  assert.ok(cookie);
  for (const origin of gateways()) assert.equal(await echoStatus(origin, cookie), 200, `before logout via ${origin}`);

  // Typed in the address bar, the logout URL asks for confirmation (no cross-site logout by link).
  await page.goto(`${cluster.gatewayUrl}/aporeto/oidc/logout`);
  await page.getByRole('button', { name: 'Sign out' }).click();
  // Then the IdP's end_session_endpoint, with id_token_hint, back to the service's own URL.
  await page.waitForURL((u) => u.href.startsWith(cluster.idpUrl));
  const confirm = page.getByRole('button', { name: /sign me out/i });
  if (await confirm.count()) await confirm.click();
  await page.waitForURL((u) => u.href.startsWith(cluster.idpUrl) && /\/auth|\/interaction/.test(u.pathname), { timeout: 10_000 });

  assert.ok(!(await context.cookies(cluster.gatewayUrl)).some((c) => c.name === '__Host-microseg' && c.value), 'the cookie is cleared');
  for (const origin of gateways()) assert.equal(await echoStatus(origin, cookie), 401, `after logout via ${origin}`);
  await context.close();
});

test('a revoked session is refused by two gateways within a second', async () => {
  const cookie = await aliceCookie();
  // Both gateways know the session (and cache it).
  for (const origin of gateways()) assert.equal(await echoStatus(origin, cookie), 200);
  const listed = await api('GET', '/sessions?user=alice@example.com');
  assert.equal(listed.status, 200);
  assert.ok(listed.body.length >= 1);

  const revokedAt = performance.now();
  const revoked = await api('DELETE', '/sessions?user=alice@example.com');
  assert.equal(revoked.status, 200);
  assert.ok(revoked.body.length >= 1);
  for (const origin of gateways()) {
    await waitFor(`the session to be refused via ${origin}`, async () => (await echoStatus(origin, cookie)) === 401, 1_000, 20);
  }
  const tookMs = performance.now() - revokedAt;
  console.log(`revocation reached both gateways in ${Math.round(tookMs)} ms`);
  assert.ok(tookMs < 1_000, `took ${tookMs} ms`);
  const after = await api('GET', '/sessions?user=alice@example.com');
  assert.deepEqual(after.body, []);
});

test('a back-channel logout from the demo IdP ends the session within a second', async () => {
  const cookie = await aliceCookie();
  for (const origin of gateways()) assert.equal(await echoStatus(origin, cookie), 200);
  const started = performance.now();
  const res = await fetch(`${cluster.idpUrl}/_demo/backchannel-logout`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'alice@example.com' }) });
  assert.ok(res.ok, `the IdP answered ${res.status}`);
  for (const origin of gateways()) {
    await waitFor(`the session to end via ${origin}`, async () => (await echoStatus(origin, cookie)) === 401, 2_000, 20);
  }
  const tookMs = performance.now() - started;
  console.log(`back-channel logout took effect in ${Math.round(tookMs)} ms`);
  assert.ok(tookMs < 1_000, `took ${tookMs} ms`);
});

test('a logout token that is forged or replayed is refused', async () => {
  const post = (body: string) =>
    request(`${cluster.gatewayUrl}/aporeto/oidc/backchannel-logout`, {
      method: 'POST',
      headers: { host: `localhost:${cluster.ports.gateway}`, 'content-type': 'application/x-www-form-urlencoded' },
      body,
      dispatcher: insecure,
    });
  const forged = await post('logout_token=eyJhbGciOiJub25lIn0.eyJpc3MiOiJ4In0.');
  assert.equal(forged.statusCode, 400);
  await forged.body.dump();
  const empty = await post('');
  assert.equal(empty.statusCode, 400);
  await empty.body.dump();
});
