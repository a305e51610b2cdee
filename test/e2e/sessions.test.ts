// The session life cycle end to end (SPEC §6): logout in the browser, another
// tenant's pages trying to plant microseg's cookies or log the user out, an
// administrator's revocation reaching two gateways within a second, and the
// IdP's back-channel logout.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import type { Browser } from 'playwright-core';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { freePort, startCluster, waitFor, type Cluster, type Replica, sessionCookieFor } from '@microseg/testkit';
import { launchChromium } from './browser.ts';

const NS = '/acme/team-b/dev/private-app';
let cluster: Cluster;
let secondGateway: Replica;
let browser: Browser;
const insecure = new Agent({ connect: { rejectUnauthorized: false } });

/** The other tenant's application port, one the gateway's file allows. */
let tenantPort: number;

before(async () => {
  tenantPort = await freePort();
  cluster = await startCluster({ dataDir: await mkdtemp(join(tmpdir(), 'microseg-sessions-')), isolated: true, gatewayPorts: { application: [tenantPort] } });
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

const aliceCookie = () => sessionCookieFor(cluster.gatewayUrl, 'alice@example.com', 'alice');

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

/**
 * Another tenant's application, served by the gateway on another port of the same host (`localhost`): cookies
 * ignore ports, and the two origins are same-site, so its pages are the ones best placed to attack a session.
 */
async function exposeTenantApplication(
  pages: Record<string, { headers?: Record<string, string | string[]>; body: string }>,
): Promise<{ origin: string; close: () => Promise<void> }> {
  const server = createServer((req, res) => {
    const page = pages[req.url ?? ''];
    res.writeHead(page ? 200 : 404, { 'content-type': 'text/html; charset=utf-8', ...page?.headers });
    res.end(page?.body ?? 'not found');
  });
  server.listen(tenantPort, '127.0.0.1');
  await once(server, 'listening');
  const close = () => new Promise<void>((r) => server.close(() => r()));
  const tenantNs = '/acme/team-c/walkthrough';
  const call = async (path: string, body: unknown) => {
    const res = await fetch(`${cluster.policyUrl}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${cluster.adminToken}`, 'x-namespace': tenantNs, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    assert.equal(res.status, 201, await res.text());
  };
  try {
    await call('/httpresourcespecs', {
      name: 'tenant-pages',
      associatedTags: ['api=tenant-pages'],
      endpoints: [{ URI: '/*', methods: ['GET'], public: true }],
    });
    await call('/services', {
      name: 'tenant-app',
      hosts: ['localhost'],
      port: (server.address() as AddressInfo).port,
      exposedPort: cluster.ports.walkthrough,
      selectors: [['type=walkthrough-app']],
      exposedAPIs: [['api=tenant-pages']],
      authorizationType: 'None',
    });
  } catch (err) {
    await close();
    throw err;
  }
  const origin = `https://localhost:${cluster.ports.walkthrough}`;
  await waitFor(
    'the tenant application to be served',
    async () =>
      (await request(`${origin}/`, { dispatcher: insecure }).then(
        async (r) => (await r.body.dump(), r.statusCode),
        () => 0,
      )) === 404,
    10_000,
    100,
  );
  return { origin, close };
}

test("another tenant's application on another port of the host can neither plant microseg's cookies nor log alice out (form POST, <img>)", async () => {
  const logoutUrl = `${cluster.gatewayUrl}/aporeto/oidc/logout`;
  const tenant = await exposeTenantApplication({
    '/plant': {
      headers: {
        'set-cookie': [
          '__Host-microseg=planted-by-the-tenant; Path=/; Secure; HttpOnly; SameSite=Lax',
          '__Host-microseg-login=planted-by-the-tenant; Path=/; Secure; HttpOnly; SameSite=Lax',
        ],
      },
      body: '<!doctype html><title>plant</title><p>planted',
    },
    // The image (a GET of the logout URL) first; when it has loaded or failed, the form POSTs the logout.
    '/logout-csrf': {
      body: `<!doctype html><title>csrf</title><form id="f" method="post" action="${logoutUrl}"></form><img src="${logoutUrl}" onload="f.submit()" onerror="f.submit()">`,
    },
  });
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  try {
    const page = await context.newPage();
    await page.goto(`${cluster.gatewayUrl}/`);
    await page.getByLabel(/e-?mail/i).fill('alice@example.com');
    await page.getByLabel(/password/i).fill('alice');
    await Promise.all([page.waitForURL((u) => u.href.startsWith(cluster.gatewayUrl)), page.getByRole('button', { name: 'Sign in' }).click()]);
    const jar = async () => Object.fromEntries((await context.cookies(cluster.gatewayUrl)).map((c) => [c.name, c.value]));
    const before = await jar();
    const alice = before['__Host-microseg'];
    assert.ok(alice);

    // Session fixation and login CSRF through the other tenant's responses.
    const planted = await page.goto(`${tenant.origin}/plant`);
    assert.equal(planted?.status(), 200);
    const afterPlant = await jar();
    assert.equal(afterPlant['__Host-microseg'], alice, "alice's session cookie is not replaced");
    assert.equal(afterPlant['__Host-microseg-login'], before['__Host-microseg-login'], 'no login binding planted');
    assert.ok(!Object.values(afterPlant).includes('planted-by-the-tenant'));

    // Logout CSRF from a same-site page: the <img> GET gets the confirmation page, the form POST 403.
    const [logoutPost] = await Promise.all([
      page.waitForResponse((r) => r.url() === logoutUrl && r.request().method() === 'POST'),
      page.goto(`${tenant.origin}/logout-csrf`),
    ]);
    assert.equal(logoutPost.request().headers()['origin'], tenant.origin, 'the POST came from the tenant page');
    assert.equal(logoutPost.status(), 403);
    assert.equal((await jar())['__Host-microseg'], alice, 'the cookie is still there');
    for (const origin of gateways()) assert.equal(await echoStatus(origin, alice), 200, `alice is still signed in via ${origin}`);
  } finally {
    await context.close();
    await tenant.close();
  }
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
  const res = await fetch(`${cluster.idpUrl}/_demo/backchannel-logout`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'alice@example.com' }),
  });
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
