// End to end, with real NATS, Redis, OpenID Provider and Chromium: the login
// path of SPEC §3–§6 and §8, as a user meets it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { redisKeys } from '@microseg/contracts';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startCluster, waitFor, repoRoot, type Cluster } from '@microseg/testkit';
import { launchChromium } from './browser.ts';

let cluster: Cluster;
let browser: Browser;
let redis: Redis;

const screenshots = join(repoRoot, 'test-results');

before(async () => {
  cluster = await startCluster({ dataDir: await mkdtemp(join(tmpdir(), 'microseg-e2e-')), isolated: true });
  browser = await launchChromium();
  redis = new Redis(cluster.redisOptions());
});

after(async () => {
  redis?.disconnect();
  await browser?.close();
  await cluster?.stop();
});

async function newContext(): Promise<BrowserContext> {
  return browser.newContext({ ignoreHTTPSErrors: true });
}

async function countSessions(): Promise<number> {
  return (await redis.keys(redisKeys.session('*'))).length;
}

/** Open the app, get sent to the IdP, sign in, and come back; returns the callback URL used. */
async function signIn(page: Page, email: string, password: string, path = '/'): Promise<string> {
  let callback = '';
  page.on('request', (req) => {
    if (req.url().includes('/aporeto/oidc/callback')) callback = req.url();
  });
  await page.goto(`${cluster.gatewayUrl}${path}`);
  assert.ok(page.url().startsWith(cluster.idpUrl), `expected the IdP login page, got ${page.url()}`);
  await page.getByLabel(/e-?mail/i).fill(email);
  await page.getByLabel(/password/i).fill(password);
  await Promise.all([page.waitForURL((u) => u.href.startsWith(cluster.gatewayUrl)), page.getByRole('button', { name: 'Sign in' }).click()]);
  await page.waitForLoadState();
  return callback;
}

describe('login through the gateway', () => {
  test('alice signs in, reaches the app, and the app sees her identity, not a forged one', async () => {
    const context = await newContext();
    // The browser tries to pass itself off as someone else, in two spellings.
    await context.setExtraHTTPHeaders({ 'X-User-Email': 'mallory@example.com' });
    const page = await context.newPage();
    await signIn(page, 'alice@example.com', 'alice');
    assert.equal(new URL(page.url()).pathname, '/');
    assert.match((await page.textContent('body')) ?? '', /Welcome, alice@example\.com/);
    await page.screenshot({ path: join(screenshots, 'alice-app.png') });

    const echo = await page.goto(`${cluster.gatewayUrl}/_echo`);
    assert.equal(echo?.status(), 200);
    const received = JSON.parse(await echo.text()) as { headers: Record<string, string> };
    assert.equal(received.headers['x-user-email'], 'alice@example.com');
    assert.ok(!JSON.stringify(received.headers).includes('mallory'), 'the client-sent identity header reached the app');
    assert.ok(!(received.headers.cookie ?? '').includes('__Host-microseg'), 'the session cookie reached the app');
    assert.equal(received.headers['x-forwarded-proto'], 'https');

    const cookies = await context.cookies(cluster.gatewayUrl);
    const session = cookies.find((c) => c.name === '__Host-microseg');
    assert.ok(session, 'no session cookie');
    assert.equal(session.httpOnly, true);
    assert.equal(session.secure, true);
    assert.equal(session.sameSite, 'Lax');
    assert.equal(session.path, '/');
    await context.close();
  });

  test('the original path and query survive the login round trip', async () => {
    const context = await newContext();
    const page = await context.newPage();
    await signIn(page, 'alice@example.com', 'alice', '/_echo/deep?x=1&y=two');
    const received = JSON.parse((await page.textContent('body')) ?? '{}') as { path: string };
    assert.equal(received.path, '/_echo/deep?x=1&y=two');
    await context.close();
  });

  test('bob signs in and gets a 403 page that says why', async () => {
    const context = await newContext();
    const page = await context.newPage();
    await signIn(page, 'bob@example.com', 'bob');
    const body = (await page.textContent('body')) ?? '';
    assert.match(body, /403/);
    assert.match(body, /Access denied/);
    assert.match(body, /signed in as bob@example\.com/);
    assert.match(body, /does not satisfy the access rules for GET \//);
    await page.screenshot({ path: join(screenshots, 'bob-403.png') });
    await context.close();
  });

  test('a public endpoint works without a login', async () => {
    const context = await newContext();
    const page = await context.newPage();
    const response = await page.goto(`${cluster.gatewayUrl}/public/hello`);
    assert.equal(response?.status(), 200);
    assert.equal(new URL(page.url()).origin, cluster.gatewayUrl);
    assert.match((await page.textContent('body')) ?? '', /Hello from the public part/);
    await context.close();
  });

  test('a replayed callback is refused and creates no session', async () => {
    const context = await newContext();
    const page = await context.newPage();
    const callback = await signIn(page, 'alice@example.com', 'alice');
    assert.ok(callback.includes('code='), 'no callback seen');
    const before = await countSessions();
    // Same browser (it still has the login-binding cookie), same code and state.
    const replay = await page.goto(callback);
    assert.equal(replay?.status(), 400);
    assert.match((await page.textContent('body')) ?? '', /unknown, expired or already used/);
    assert.equal(await countSessions(), before);
    await context.close();
  });

  test('a callback with a forged state is refused and creates no session', async () => {
    const context = await newContext();
    const page = await context.newPage();
    // Start a real login so the browser has a binding cookie, then forge the callback.
    await page.goto(`${cluster.gatewayUrl}/`);
    const before = await countSessions();
    const forged = await page.goto(`${cluster.gatewayUrl}/aporeto/oidc/callback?code=forged-code&state=${'A'.repeat(43)}`);
    assert.equal(forged?.status(), 400);
    assert.equal(await countSessions(), before);
    await context.close();
  });

  test('the decisions appear in flowlog', async () => {
    type Flow = { action: string; user: string; dropReason: string; URI: string; policyName: string; count: number };
    let flows: Flow[] = [];
    await waitFor('alice accepted and bob rejected flows', async () => {
      const res = await fetch(`${cluster.flowlogUrl}/api/v1/flows?namespace=/acme/team-b/dev/private-app&limit=500`, {
        headers: { authorization: `Bearer ${cluster.adminToken}` },
      });
      flows = ((await res.json()) as { flows: Flow[] }).flows;
      return (
        flows.some((f) => f.action === 'Accept' && f.user === 'alice@example.com' && f.URI === 'GET /_echo') &&
        flows.some((f) => f.action === 'Reject' && f.user === 'bob@example.com' && f.dropReason === 'api' && f.URI === 'GET /')
      );
    });
    const denied = flows.find((f) => f.action === 'Reject' && f.user === 'bob@example.com')!;
    assert.equal(denied.policyName, 'private-app-api');
    assert.ok(flows.some((f) => f.action === 'Accept' && f.URI === 'GET /public/hello' && f.user === ''));
  });
});
