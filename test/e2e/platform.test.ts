// End to end: the Platform view and the Event logs in Chromium, fed by the
// decisions of a real cluster, and flowlog's promise that nothing is lost —
// across a restart and with two replicas consuming together.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { Bus } from '@microseg/bus';
import { streams } from '@microseg/contracts';
import { insecureFetch, repoRoot, startCluster, waitFor, type Cluster } from '@microseg/testkit';
import { launchChromium } from './browser.ts';

const NS = '/acme/team-b/dev/private-app';
const screenshots = join(repoRoot, 'test-results');
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

let cluster: Cluster;
let browser: Browser;
let bus: Bus;
/** A viewer token for /acme/team-b, as an operator of that team would have. */
let viewerToken: string;
let consoleContext: BrowserContext;
let consolePage: Page;
const pageProblems: string[] = [];

before(async () => {
  cluster = await startCluster({ dataDir: await mkdtemp(join(tmpdir(), 'microseg-platform-')), isolated: true });
  browser = await launchChromium();
  bus = await Bus.connect({ connection: cluster.natsConnection(), identity: 'admin', name: 'platform-test', logger: quiet });
  const created = await policyApi('POST', '/apitokens', { name: 'team-b-viewer', role: 'viewer', namespace: '/acme/team-b' }, '/acme/team-b');
  assert.equal(created.status, 201, JSON.stringify(created.body));
  viewerToken = created.body.token;
});

after(async () => {
  await consoleContext?.close();
  await bus?.close(1_000);
  await browser?.close();
  await cluster?.stop();
});

async function policyApi(method: string, path: string, body?: unknown, namespace = NS): Promise<{ status: number; body: any }> {
  const res = await fetch(`${cluster.policyUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${cluster.adminToken}`, 'x-namespace': namespace, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: await res.json() };
}

async function flowlogApi(base: string, path: string, token = cluster.adminToken): Promise<{ status: number; body: any }> {
  const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: await res.json() };
}

/** Open the app in a fresh browser, get sent to the IdP, sign in, come back. */
async function visitAs(email: string, password: string, path = '/'): Promise<string> {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  try {
    const page = await context.newPage();
    await page.goto(`${cluster.gatewayUrl}${path}`);
    await page.getByLabel(/e-?mail/i).fill(email);
    await page.getByLabel(/password/i).fill(password);
    await Promise.all([page.waitForURL((u) => u.href.startsWith(cluster.gatewayUrl)), page.getByRole('button', { name: 'Sign in' }).click()]);
    await page.waitForLoadState();
    return (await page.textContent('body')) ?? '';
  } finally {
    await context.close();
  }
}

type DrawnEdge = { id: string; source: string; target: string; classes: string[]; color: string; x: number; y: number };
/** The edges Cytoscape drew, with their colour and where they are on the screen. */
async function drawnEdges(page: Page): Promise<DrawnEdge[]> {
  return page.evaluate(() => {
    const cy = (window as unknown as { microsegGraph: any }).microsegGraph;
    const box = document.getElementById('graph')!.getBoundingClientRect();
    return cy.edges().map((e: any) => ({
      id: e.id(),
      source: e.source().id(),
      target: e.target().id(),
      classes: e.classes(),
      color: e.style('line-color'),
      x: box.left + e.renderedMidpoint().x,
      y: box.top + e.renderedMidpoint().y,
    }));
  });
}

const GREEN = 'rgb(22,163,74)';
const RED = 'rgb(220,38,38)';
const flowRow = (page: Page, source: RegExp, destination: RegExp) =>
  page
    .locator('#flows tbody tr')
    .filter({ has: page.locator('td:nth-child(2)', { hasText: source }) })
    .filter({ has: page.locator('td:nth-child(3)', { hasText: destination }) });

async function consumerDrained(): Promise<boolean> {
  const info = await (await bus.jetstreamManager()).consumers.info(streams.events.name, streams.events.flowlogConsumer);
  return info.num_pending === 0 && info.num_ack_pending === 0;
}

async function countedHits(base: string, marker: string): Promise<number> {
  const { body } = await flowlogApi(base, `/api/v1/flows?namespace=${NS}&q=${marker}&limit=1000`);
  return (body.flows as Array<{ URI: string; count: number }>).filter((f) => f.URI.includes(marker)).reduce((sum, f) => sum + f.count, 0);
}

async function sendPublicRequests(marker: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const res = await insecureFetch(`${cluster.gatewayUrl}/public/${marker}`);
    await res.text();
  }
}

describe('the console', () => {
  test('Platform: the PU → IdP flow and alice → service accepted; after bob is refused, a red edge with drop reason and policy', async () => {
    assert.match(await visitAs('alice@example.com', 'alice'), /Welcome, alice@example\.com/);

    consoleContext = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
    consolePage = await consoleContext.newPage();
    const page = consolePage;
    page.on('console', (m) => {
      if (m.type() === 'error') pageProblems.push(m.text());
    });
    page.on('pageerror', (e) => pageProblems.push(e.message));

    await page.goto(cluster.flowlogUrl);
    await page.getByLabel('API token').fill('mst_not-a-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('This token is unknown, revoked or malformed.').waitFor();
    pageProblems.length = 0; // the refused token's 401, which Chromium reports
    await page.getByLabel('API token').fill(viewerToken);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('Signed in with').waitFor();
    assert.equal(await page.getByLabel('Namespace').inputValue(), '/acme/team-b', "the token's namespace, recursive");

    // The walkthrough's check: the IdP traffic is allowed.
    const idpRow = flowRow(page, /nginx-7bb7cd8db5-dgbxf/, /demo-idp/);
    await idpRow.waitFor({ timeout: 15_000 });
    assert.equal(await idpRow.locator('.result').textContent(), 'Accept');
    const aliceRow = flowRow(page, /alice@example\.com/, /private-app/);
    await aliceRow.waitFor({ timeout: 15_000 });
    assert.equal(await aliceRow.locator('.result').textContent(), 'Accept');
    assert.match((await page.locator('#summary').textContent()) ?? '', /processing unit.* and \d+ flows/);

    const edges = await drawnEdges(page);
    const toIdp = edges.find((e) => e.source.endsWith('/nginx-7bb7cd8db5-dgbxf') && e.target.endsWith('/demo-idp'));
    const alice = edges.find((e) => e.source === 'user:alice@example.com');
    assert.ok(toIdp && alice, `edges drawn: ${edges.map((e) => e.id).join(', ')}`);
    assert.deepEqual([toIdp.classes, toIdp.color], [['accept-policy'], GREEN]);
    assert.deepEqual([alice.classes, alice.color], [['accept-policy'], GREEN]);

    // Click the edge in the graph: its flow details.
    await page.mouse.click(toIdp.x, toIdp.y);
    const panel = page.locator('#panel');
    await panel.getByText('Flow details').waitFor();
    assert.match((await panel.textContent()) ?? '', /allow-app-to-idp/);
    assert.match((await panel.textContent()) ?? '', /tcp\/\d+ discovery/);
    await page.mouse.click(alice.x, alice.y);
    await panel.getByText('alice@example.com').first().waitFor();
    const aliceDetails = (await panel.textContent()) ?? '';
    assert.match(aliceDetails, /private-app-api/);
    assert.match(aliceDetails, /GET \//);

    // Bob is refused; the open page shows it without a reload (Live).
    assert.match(await visitAs('bob@example.com', 'bob'), /403/);
    const bobRow = flowRow(page, /bob@example\.com/, /private-app/);
    // His login callback (accepted) may be drawn a moment before the refusal of his GET / arrives.
    await bobRow.locator('.result', { hasText: /^Reject$/ }).waitFor({ timeout: 15_000 });
    await waitFor('a red edge from bob', async () => (await drawnEdges(page)).some((e) => e.source === 'user:bob@example.com' && e.color === RED), 10_000);
    const bob = (await drawnEdges(page)).find((e) => e.source === 'user:bob@example.com')!;
    assert.deepEqual(bob.classes, ['reject-policy']);
    await page.mouse.click(bob.x, bob.y);
    await panel.getByText('Drop reason').waitFor();
    const bobDetails = (await panel.textContent()) ?? '';
    assert.match(bobDetails, /Drop reasonapi/);
    assert.match(bobDetails, /private-app-api/);
    assert.match(bobDetails, /bob@example\.com/);

    // A node: its side panel.
    await page.locator('#flows tbody tr').first().waitFor();
    await page.getByRole('button', { name: /Accept: nginx-7bb7cd8db5-dgbxf to demo-idp/ }).click();
    await panel.getByText('Flow details').waitFor();
    await page.getByRole('button', { name: '5 m' }).click();
    await flowRow(page, /bob@example\.com/, /private-app/).waitFor();
    const drawn = (await drawnEdges(page)).find((e) => e.source === 'user:bob@example.com')!;
    await page.mouse.click(drawn.x, drawn.y);
    await panel.getByText('Drop reason').waitFor();
    await page.screenshot({ path: join(screenshots, 'platform.png'), fullPage: true });
    assert.deepEqual(pageProblems, [], 'no script error and no Content-Security-Policy violation');
  });

  test('Event logs: newest first, filters, and a live tail; a network denial says which policy refused', async () => {
    const page = consolePage;
    await page.getByRole('link', { name: 'Event logs' }).click();
    await page.waitForURL(/\/events/);
    const rows = page.locator('#events tbody tr');
    await rows.filter({ hasText: 'Login succeeded' }).first().waitFor({ timeout: 10_000 });
    const times = await page.locator('#events tbody td.time').allTextContents();
    assert.deepEqual(times, [...times].sort().reverse(), 'newest first');
    assert.ok((await rows.filter({ hasText: 'alice@example.com logged in to private-app' }).count()) >= 1);
    assert.ok((await rows.filter({ hasText: 'Processing unit registered' }).count()) >= 1);

    await page.getByLabel('Search').fill('bob@example.com');
    await waitFor('only bob', async () => (await rows.allTextContents()).every((t) => t.includes('bob@example.com')) && (await rows.count()) >= 1, 5_000);
    await page.getByLabel('Search').fill('');
    await page.getByLabel('Category').selectOption('processingunit');
    await waitFor(
      'only processing units',
      async () => (await page.locator('#events tbody td:nth-child(3)').allTextContents()).every((c) => c === 'processingunit'),
      5_000,
    );
    await page.getByLabel('Category').selectOption('');

    // Live tail: an object created through the API shows at the top, without a reload.
    await page.locator('#live-dot.on').waitFor();
    const live = await policyApi('POST', '/externalnetworks', {
      name: 'loopback-clients',
      entries: ['127.0.0.0/8', '::1'],
      servicePorts: ['any'],
      associatedTags: ['ext:name=loopback'],
    });
    assert.equal(live.status, 201, JSON.stringify(live.body));
    await rows.first().filter({ hasText: 'externalnetwork created' }).waitFor({ timeout: 10_000 });
    assert.match((await rows.first().textContent()) ?? '', /by token bootstrap-admin/);

    // Refuse incoming traffic from loopback: the denial names the policy.
    const block = await policyApi('POST', '/networkaccesspolicies', {
      name: 'block-loopback',
      action: 'Reject',
      applyPolicyMode: 'IncomingTraffic',
      subject: [['ext:name=loopback']],
      object: [['$identity=processingunit', 'type=private-app']],
    });
    assert.equal(block.status, 201, JSON.stringify(block.body));
    await waitFor('the Reject policy to apply', async () => (await insecureFetch(`${cluster.gatewayUrl}/public/hello`)).status === 403, 5_000);
    await page.getByLabel('Level').selectOption({ label: 'Warning and above' });
    const denial = rows.filter({ hasText: 'Network access denied' }).first();
    await denial.waitFor({ timeout: 10_000 });
    assert.match((await denial.textContent()) ?? '', /rejected by network policy block-loopback/);
    assert.equal(await denial.locator('.level').textContent(), 'Warning');
    await page.getByLabel('Level').selectOption({ label: 'All levels' });
    await rows.filter({ hasText: 'Login succeeded' }).first().waitFor();
    await page.screenshot({ path: join(screenshots, 'event-logs.png'), fullPage: true });

    assert.equal((await policyApi('DELETE', '/networkaccesspolicies/block-loopback')).status, 200);
    assert.equal((await policyApi('DELETE', '/externalnetworks/loopback-clients')).status, 200);
    await waitFor('access to come back', async () => (await insecureFetch(`${cluster.gatewayUrl}/public/hello`)).status === 200, 5_000);
    assert.deepEqual(pageProblems, [], 'no script error and no Content-Security-Policy violation');
  });

  test('access: the pages ask for a token; the API needs one, limited to its subtree; a revoked token stops working within seconds', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${cluster.flowlogUrl}/events`);
    await page.getByLabel('API token').waitFor();
    assert.equal(await page.locator('#console').isHidden(), true, 'nothing is shown before sign-in');
    await context.close();

    assert.equal((await fetch(`${cluster.flowlogUrl}/api/v1/flows`)).status, 401);
    assert.equal((await flowlogApi(cluster.flowlogUrl, `/api/v1/flows?namespace=${NS}`, viewerToken)).status, 200);
    assert.equal((await flowlogApi(cluster.flowlogUrl, '/api/v1/events?namespace=/acme/team-c&recursive=true', viewerToken)).status, 403);

    const shortLived = await policyApi('POST', '/apitokens', { name: 'short-lived', role: 'viewer', namespace: NS }, NS);
    assert.equal((await flowlogApi(cluster.flowlogUrl, '/api/v1/whoami', shortLived.body.token)).status, 200);
    assert.equal((await policyApi('DELETE', `/apitokens/${shortLived.body.ID}`)).status, 200);
    await waitFor(
      'the revoked token to be refused',
      async () => (await flowlogApi(cluster.flowlogUrl, '/api/v1/whoami', shortLived.body.token)).status === 401,
      10_000,
    );
  });
});

describe('nothing lost', () => {
  test('flowlog stopped, N requests, flowlog started: all N appear, counted once', async () => {
    const N = 40;
    const marker = `nothing-lost-${randomUUID().slice(0, 8)}`;
    await cluster.stopService('flowlog');
    await sendPublicRequests(marker, N);
    await cluster.startService('flowlog');
    await waitFor(`${N} hits of ${marker}`, async () => (await countedHits(cluster.flowlogUrl, marker)) >= N && (await consumerDrained()), 20_000);
    assert.equal(await countedHits(cluster.flowlogUrl, marker), N);
  });

  test('two flowlog replicas consuming together count every flow exactly once, and each streams every flow live', async () => {
    const replica = await cluster.startReplica('flowlog', 2);
    try {
      // Each replica streams every flow, although the durable consumer shares them out.
      const marker = `replicas-${randomUUID().slice(0, 8)}`;
      const streams = [cluster.flowlogUrl, replica.url].map((base) => firstLiveFlow(base, marker));
      await Promise.all(streams.map((s) => s.ready));
      await sendPublicRequests(marker, 1);
      assert.deepEqual(await Promise.all(streams.map((s) => s.flow)), [`GET /public/${marker}`, `GET /public/${marker}`]);

      const N = 120;
      const counted = `two-replicas-${randomUUID().slice(0, 8)}`;
      await sendPublicRequests(counted, N);
      await waitFor(`${N} hits of ${counted}`, async () => (await countedHits(cluster.flowlogUrl, counted)) >= N && (await consumerDrained()), 20_000);
      assert.equal(await countedHits(cluster.flowlogUrl, counted), N);
      assert.equal(await countedHits(replica.url, counted), N, 'both replicas answer alike');
    } finally {
      await replica.stop();
    }
  });
});

/** Subscribes to a replica's live stream and resolves with the URI of the first flow that carries `marker`. */
function firstLiveFlow(base: string, marker: string): { ready: Promise<void>; flow: Promise<string> } {
  let ready!: () => void;
  const readyPromise = new Promise<void>((resolve) => (ready = resolve));
  const flow = (async () => {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), 15_000);
    try {
      const res = await fetch(`${base}/api/v1/stream?namespace=${NS}`, {
        headers: { authorization: `Bearer ${cluster.adminToken}` },
        signal: controller.signal,
      });
      const decoder = new TextDecoder();
      let buffer = '';
      for await (const chunk of res.body!) {
        buffer += decoder.decode(chunk, { stream: true });
        if (buffer.includes('event: ready')) ready();
        const match = new RegExp(`"URI":"(GET /public/${marker})"`).exec(buffer);
        if (match) return match[1]!;
      }
      throw new Error('the stream ended');
    } finally {
      clearTimeout(timer);
      controller.abort();
    }
  })();
  return { ready: readyPromise, flow };
}
