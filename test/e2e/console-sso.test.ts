// End to end: the console behind the gateway as a service of its own, with single sign-on (SPEC §9.6), in
// Chromium against a real cluster. alice, whom the demo's apiauthorizationpolicy lets read /acme, signs in at the
// demo IdP with no token and sees the Platform view of /acme/team-b, live through the gateway — the stream
// renewed each time her assertion expires, and outliving the gateway's idle timeout; bob, whom no policy names,
// gets a page that says so and no data, until a policy for /acme/team-c alone lets him in there; API tokens keep
// working at flowlog's port and through the gateway; sign-out ends the single sign-on session and her live view.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { insecureFetch, loginWithHttp, repoRoot, startCluster, waitFor, type Cluster } from '@microseg/testkit';
import { launchChromium } from './browser.ts';

const APP_NS = '/acme/team-b/dev/private-app';
/** Short assertions (their lifetime bounds a live stream), a short idle timeout at the gateway, a heartbeat below it. */
const ASSERTION_TTL_SECONDS = 10;
const UPSTREAM_TIMEOUT_MS = 3_000;
const HEARTBEAT_MS = 1_000;

let cluster: Cluster;
let browser: Browser;
let alice: { context: BrowserContext; page: Page };
const pageProblems: string[] = [];

before(async () => {
  cluster = await startCluster({
    dataDir: await mkdtemp(join(tmpdir(), 'microseg-console-sso-')),
    isolated: true,
    env: {
      POLICY_ASSERTION_TTL_SECONDS: String(ASSERTION_TTL_SECONDS),
      UPSTREAM_TIMEOUT_MS: String(UPSTREAM_TIMEOUT_MS),
      FLOWLOG_STREAM_HEARTBEAT_MS: String(HEARTBEAT_MS),
    },
  });
  browser = await launchChromium();
  // Traffic to show: alice at the demo application.
  const visit = await loginWithHttp(cluster.gatewayUrl, 'alice@example.com', 'alice');
  assert.equal(visit.response.status, 200);
});

after(async () => {
  await alice?.context.close();
  await browser?.close();
  await cluster?.stop();
});

async function policyApi(method: string, path: string, namespace: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${cluster.policyUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${cluster.adminToken}`, 'x-namespace': namespace, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: await res.json() };
}

/** A fresh browser at the console's address: sent to the IdP, signed in, back at the console. */
async function signInToConsole(email: string, password: string): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1440, height: 1000 } });
  const page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error') pageProblems.push(`${email}: ${m.text()}`);
  });
  page.on('pageerror', (e) => pageProblems.push(`${email}: ${e.message}`));
  await page.goto(`${cluster.consoleUrl}/`);
  await page.getByLabel(/e-?mail/i).fill(email);
  await page.getByLabel(/password/i).fill(password);
  await Promise.all([page.waitForURL((u) => u.href.startsWith(cluster.consoleUrl)), page.getByRole('button', { name: 'Sign in' }).click()]);
  return { context, page };
}

/** What the page's own fetch of an API path gets (its cookies, through the gateway). */
const fetchFromPage = (page: Page, path: string) =>
  page.evaluate(async (p) => {
    const res = await fetch(p, { cache: 'no-store' });
    return { status: res.status, body: await res.json() };
  }, path);

const flowRow = (page: Page, source: RegExp, destination: RegExp) =>
  page
    .locator('#flows tbody tr')
    .filter({ has: page.locator('td:nth-child(2)', { hasText: source }) })
    .filter({ has: page.locator('td:nth-child(3)', { hasText: destination }) });

/** A Server-Sent Events stream read from Node: what arrived so far, and when it ended. */
function readStream(url: string, headers: Record<string, string>) {
  const abort = new AbortController();
  const state = { text: '', status: 0 };
  const ended = (async () => {
    const res = await insecureFetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: abort.signal });
    state.status = res.status;
    if (!res.body) return;
    const decoder = new TextDecoder();
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) state.text += decoder.decode(chunk, { stream: true });
  })().catch((err: Error) => {
    if (err.name !== 'AbortError') state.text += `\n[error ${err.message}]`;
  });
  return { state, ended, stop: () => abort.abort() };
}

test('alice signs in through the gateway, with no token, and sees the Platform view of /acme/team-b', async () => {
  alice = await signInToConsole('alice@example.com', 'alice');
  const { page } = alice;
  await page.getByText('Signed in as').waitFor();
  assert.equal(await page.locator('#who').textContent(), 'Signed in as alice@example.com (viewer) · /acme');
  assert.equal(await page.locator('#login').isHidden(), true, 'no token asked for');
  assert.equal(await page.getByRole('button', { name: 'Sign out' }).count(), 1, "one sign-out button, the single sign-on's");
  assert.equal(await page.getByLabel('Namespace').inputValue(), '/acme');
  assert.equal(await page.locator('#recursive').isChecked(), true, 'her grant reaches below /acme');

  const namespace = page.getByLabel('Namespace');
  await namespace.fill('/acme/team-b');
  await namespace.press('Enter');
  await page.locator('#summary', { hasText: '/acme/team-b and below' }).waitFor({ timeout: 10_000 });
  assert.match(page.url(), /#namespace=%2Facme%2Fteam-b&recursive=true/);
  const aliceRow = flowRow(page, /alice@example\.com/, /private-app/);
  await aliceRow.waitFor({ timeout: 15_000 });
  assert.equal(await aliceRow.locator('.result').textContent(), 'Accept');
  assert.match((await page.locator('#summary').textContent()) ?? '', /processing unit.* and \d+ flows/);
  await page.locator('#live-dot.on').waitFor({ timeout: 10_000 });

  const who = await fetchFromPage(page, '/api/v1/whoami');
  assert.deepEqual(who.body, {
    name: 'alice@example.com',
    via: 'sso',
    namespace: '/acme',
    role: 'viewer',
    grants: [{ namespace: '/acme', role: 'viewer', subtree: true }],
  });
  await page.screenshot({ path: join(repoRoot, 'test-results', 'console-sso.png'), fullPage: true });
  assert.deepEqual(pageProblems, [], 'no script error and no Content-Security-Policy violation');
  const outside = await fetchFromPage(page, '/api/v1/flows?namespace=/&recursive=true');
  assert.deepEqual([outside.status, outside.body.code], [403, 'FLOWLOG_FORBIDDEN']);
  pageProblems.length = 0; // that 403, which Chromium reports
});

test('live through the gateway: new flows arrive, and the stream is opened again each time her assertion expires', async () => {
  const { page } = alice;
  const streams: string[] = [];
  page.on('request', (r) => {
    if (new URL(r.url()).pathname === '/api/v1/stream') streams.push(r.url());
  });
  // bob refused at the demo application: the open page shows it without a reload.
  const bob = await loginWithHttp(cluster.gatewayUrl, 'bob@example.com', 'bob');
  assert.equal(bob.response.status, 403);
  await flowRow(page, /bob@example\.com/, /private-app/)
    .locator('.result', { hasText: /^Reject$/ })
    .waitFor({ timeout: 15_000 });
  // Two renewals at least (each within an assertion's lifetime), the view live throughout.
  await waitFor('the stream renewed twice', async () => streams.length >= 2, 3 * ASSERTION_TTL_SECONDS * 1000, 250);
  await page.locator('#live-dot.on').waitFor({ timeout: 5_000 });
  // And what happens after a renewal still arrives.
  const echo = await bob.browser.request(`${cluster.gatewayUrl}/_echo/after-renewal`, { headers: { accept: 'application/json' } });
  assert.equal(echo.status, 403);
  await page.locator('#flows').getByText('GET /_echo/after-renewal').first().waitFor({ timeout: 15_000 });
  assert.deepEqual(pageProblems, []);
});

test('an API token still works: at flowlog’s port, and through the gateway for scripts, whose live stream outlives the idle timeout', async () => {
  const direct = await fetch(`${cluster.flowlogUrl}/api/v1/whoami`, { headers: { authorization: `Bearer ${cluster.adminToken}` } });
  assert.equal(((await direct.json()) as { via: string }).via, 'token');
  const viaGateway = await insecureFetch(`${cluster.consoleUrl}/api/v1/flows?namespace=${APP_NS}`, {
    headers: { authorization: `Bearer ${cluster.adminToken}` },
  });
  assert.equal(viaGateway.status, 200);
  assert.ok(((await viaGateway.json()) as { flows: unknown[] }).flows.length > 0);

  // Without a token or a session the gateway lets the API call through (public), and flowlog refuses it.
  const anonymous = await insecureFetch(`${cluster.consoleUrl}/api/v1/whoami`);
  assert.deepEqual([anonymous.status, ((await anonymous.json()) as { code: string }).code], [401, 'FLOWLOG_UNAUTHENTICATED']);
  // The pages need a sign-in.
  const pageWithToken = await insecureFetch(`${cluster.consoleUrl}/`, {
    headers: { accept: 'text/html', authorization: `Bearer ${cluster.adminToken}` },
    redirect: 'manual',
  });
  assert.equal(pageWithToken.status, 302);
  assert.ok(pageWithToken.headers.get('location')?.startsWith(cluster.idpUrl));

  // A token's stream through the gateway: the heartbeat keeps it open past the gateway's idle timeout, several times over.
  const stream = readStream(`${cluster.consoleUrl}/api/v1/stream?namespace=/&recursive=true`, { authorization: `Bearer ${cluster.adminToken}` });
  await waitFor(
    '3 idle timeouts of streaming',
    async () => (stream.state.text.match(/: keep-alive/g)?.length ?? 0) >= (3 * UPSTREAM_TIMEOUT_MS) / HEARTBEAT_MS,
    20_000,
    100,
  );
  let ended = false;
  void stream.ended.then(() => (ended = true));
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(stream.state.status, 200);
  assert.equal(ended, false, `still open: ${stream.state.text.slice(-200)}`);
  assert.match(stream.state.text, /^retry: 2000\nevent: ready\n/);
  stream.stop();
  await stream.ended;
});

test('bob, whom no policy names, is told he has no access and sees no data; a policy for /acme/team-c alone lets him in there only', async () => {
  const { context, page } = await signInToConsole('bob@example.com', 'bob');
  try {
    await page.getByRole('heading', { name: 'No access to the console' }).waitFor();
    assert.match(
      (await page.locator('#no-access-message').textContent()) ?? '',
      /signed in as bob@example\.com, but no API authorization policy gives you access/,
    );
    assert.equal(await page.locator('#console').isHidden(), true);
    assert.equal(await page.locator('#login').isHidden(), true, 'not asked for a token either');
    const flows = await fetchFromPage(page, `/api/v1/flows?namespace=${APP_NS}`);
    assert.deepEqual([flows.status, flows.body.code, 'flows' in flows.body], [403, 'FLOWLOG_NO_ACCESS', false]);

    const created = await policyApi('POST', '/apiauthorizationpolicies', '/acme/team-c', {
      name: 'bob-edits-team-c',
      subject: [['email=bob@example.com']],
      authorizedNamespace: '/acme/team-c',
      authorizedIdentities: ['@auth:role=namespace.editor'],
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    await waitFor('bob let in', async () => (await fetchFromPage(page, '/api/v1/whoami')).status === 200, 10_000);
    await page.reload();
    await page.getByText('Signed in as').waitFor();
    assert.equal(await page.locator('#who').textContent(), 'Signed in as bob@example.com (editor) · /acme/team-c');
    assert.equal(await page.locator('#recursive').isChecked(), false, 'his grant covers /acme/team-c alone');
    assert.equal((await fetchFromPage(page, '/api/v1/flows?namespace=/acme/team-c')).status, 200);
    for (const path of [
      '/api/v1/flows?namespace=/acme/team-c&recursive=true',
      '/api/v1/flows?namespace=/acme/team-c/walkthrough',
      `/api/v1/flows?namespace=${APP_NS}`,
    ])
      assert.equal((await fetchFromPage(page, path)).status, 403, path);

    assert.equal((await policyApi('DELETE', '/apiauthorizationpolicies/bob-edits-team-c', '/acme/team-c')).status, 200);
    await waitFor('bob shown out again', async () => (await fetchFromPage(page, '/api/v1/whoami')).body.code === 'FLOWLOG_NO_ACCESS', 10_000);
  } finally {
    await context.close();
  }
});

test("sign-out ends the single sign-on session: the old cookie gets nothing, and her open live stream ends within an assertion's lifetime", async () => {
  const { context, page } = alice;
  const cookie = (await context.cookies(cluster.consoleUrl)).find((c) => c.name === '__Host-microseg')?.value;
  assert.ok(cookie);
  const withCookie = { cookie: `__Host-microseg=${cookie}` };
  const stream = readStream(`${cluster.consoleUrl}/api/v1/stream?namespace=/acme&recursive=true`, withCookie);
  await waitFor('her stream open', async () => stream.state.text.includes('event: ready'), 10_000);

  const signedOutAt = Date.now();
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL((u) => u.href.startsWith(cluster.idpUrl));
  const confirm = page.getByRole('button', { name: /sign me out/i });
  if (await confirm.count()) await confirm.click();
  await page.waitForURL((u) => u.href.startsWith(cluster.idpUrl) && /\/auth|\/interaction/.test(u.pathname), { timeout: 10_000 });
  assert.ok(!(await context.cookies(cluster.consoleUrl)).some((c) => c.name === '__Host-microseg' && c.value), 'the cookie is cleared');

  const after = await insecureFetch(`${cluster.consoleUrl}/api/v1/whoami`, { headers: withCookie });
  assert.equal(after.status, 401, 'the old cookie is no session: no assertion, no token');
  await stream.ended;
  const endedAfterMs = Date.now() - signedOutAt;
  assert.match(stream.state.text, /event: renew\n/);
  assert.ok(endedAfterMs <= (ASSERTION_TTL_SECONDS + 2) * 1000, `the stream ended ${endedAfterMs} ms after the sign-out`);
  const again = readStream(`${cluster.consoleUrl}/api/v1/stream?namespace=/acme&recursive=true`, withCookie);
  await again.ended;
  assert.equal(again.state.status, 401, 'reconnecting with the old cookie is refused');
});
