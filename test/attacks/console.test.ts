// Attacks on the console's views (flowlog): filters that try to read outside the token's subtree or reach
// properties the records do not have, unbounded filters, and markup in everything the console shows —
// request paths, tags, filter values and group keys in the address bar — which must stay inert text.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { loginWithHttp, repoRoot, startCluster, waitFor, type Cluster } from '@microseg/testkit';
import { launchChromium } from '../e2e/browser.ts';

const NS = '/acme/team-b/dev/private-app';
const TEAM_B = '/acme/team-b';
const TEAM_C = '/acme/team-c/walkthrough';
/** Request paths with markup, sent raw (a browser would escape them); the gateway forwards them to the public path. */
const HOSTILE_PATHS = ['/public/<script>window.__xss=1</script>', '/public/"onmouseover="window.__xss=2"', '/public/<img/src=x/onerror=window.__xss=3>'];
const HOSTILE_TAG = '<img/src=x/onerror=window.__xss=4>';

let cluster: Cluster;
let browser: Browser;
let viewerB: string;
/** The ID of an object of team-c, which team-b's viewer must not learn anything about. */
let teamCObjectId: string;

before(async () => {
  cluster = await startCluster({ dataDir: await mkdtemp(join(tmpdir(), 'microseg-attacks-console-')), isolated: true });
  browser = await launchChromium();
  viewerB = (await policyApi('POST', '/apitokens', { name: 'team-b-viewer', role: 'viewer', namespace: TEAM_B }, TEAM_B)).body.token;
  const hostile = await policyApi(
    'POST',
    '/externalnetworks',
    { name: 'hostile-tags', entries: ['198.51.100.0/24'], associatedTags: [`app=${HOSTILE_TAG}`, '"onmouseover="window.__xss=5"', 'ext:name=hostile'] },
    NS,
  );
  assert.equal(hostile.status, 201, JSON.stringify(hostile.body));
  const secret = await policyApi(
    'POST',
    '/externalnetworks',
    { name: 'team-c-secret', entries: ['192.0.2.0/24'], associatedTags: ['ext:name=secret'] },
    TEAM_C,
  );
  assert.equal(secret.status, 201, JSON.stringify(secret.body));
  teamCObjectId = secret.body.ID;
  await loginWithHttp(cluster.gatewayUrl, 'alice@example.com', 'alice');
  for (const path of HOSTILE_PATHS) assert.match(await rawGet(path), /^HTTP\/1\.1 404/, 'forwarded to the app, which has no such page');
  await waitFor(
    'the hostile paths stored as flows',
    async () => (await flowlog(`/api/v1/flows?namespace=${NS}&q=__xss&limit=100`)).body.flows?.length >= 3,
    15_000,
  );
});

after(async () => {
  await browser?.close();
  await cluster?.stop();
});

async function policyApi(method: string, path: string, body: unknown, namespace: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${cluster.policyUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${cluster.adminToken}`, 'x-namespace': namespace, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

async function flowlog(path: string, token = cluster.adminToken): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(`${cluster.flowlogUrl}${path}`, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: await res.json(), headers: res.headers };
}

/** A GET with the request target exactly as given (no client-side escaping), over TLS to the gateway. */
async function rawGet(path: string): Promise<string> {
  const url = new URL(cluster.gatewayUrl);
  const socket = tlsConnect({ host: url.hostname, port: Number(url.port), servername: url.hostname, rejectUnauthorized: false });
  await new Promise((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
  socket.write(`GET ${path} HTTP/1.1\r\nHost: ${url.host}\r\nConnection: close\r\n\r\n`);
  let answer = '';
  for await (const chunk of socket) answer += String(chunk);
  return answer;
}

const q = (filter: string) => `filter=${encodeURIComponent(filter)}`;

describe('filters stay inside the token’s subtree', () => {
  test('a filter naming another namespace, or an object of another namespace, finds nothing; the admin control sees it', async () => {
    const control = await flowlog(`/api/v1/events?namespace=${TEAM_C}&${q(`targetID=${teamCObjectId}`)}`);
    assert.equal(control.body.events.length, 1, 'the team-c object has its event (admin)');
    for (const path of [
      `/api/v1/events?recursive=true&${q(`targetID=${teamCObjectId}`)}`,
      `/api/v1/events?recursive=true&${q('namespace=/acme/team-c/walkthrough')}`,
      `/api/v1/flows?recursive=true&${q('namespace=/acme/team-c/walkthrough')}`,
      `/api/v1/flows?recursive=true&${q('processingUnit=walkthrough-pu')}`,
    ]) {
      const res = await flowlog(path, viewerB);
      assert.equal(res.status, 200, path);
      assert.deepEqual(res.body.events ?? res.body.flows, [], path);
    }
    for (const filter of [`namespace!=${NS}`, 'targetIdentity=externalnetwork']) {
      const events: Array<{ namespace: string; content: string }> = (await flowlog(`/api/v1/events?recursive=true&${q(filter)}&limit=1000`, viewerB)).body
        .events;
      assert.ok(
        events.every((e) => (e.namespace.startsWith(`${TEAM_B}/`) || e.namespace === TEAM_B) && !e.content.includes('team-c-secret')),
        `${filter}: never outside the selection`,
      );
    }
    const graph = await flowlog(`/api/v1/graph?recursive=true&${q('namespace=/acme/team-c/walkthrough')}`, viewerB);
    assert.deepEqual([graph.status, graph.body.nodes, graph.body.edges], [200, [], []]);
  });

  test('the selection itself outside the subtree is 403 whatever the filters; filters cannot name the selection', async () => {
    const outside = await flowlog(`/api/v1/events?namespace=/acme&recursive=true&${q(`targetID=${teamCObjectId}`)}`, viewerB);
    assert.deepEqual([outside.status, outside.body.code], [403, 'FLOWLOG_FORBIDDEN']);
    for (const filter of ['recursive=true', 'namespace.recursive=true', '__proto__=x', 'constructor=x', 'source.__proto__=x', 'toString!=x']) {
      const res = await flowlog(`/api/v1/flows?${q(filter)}`, viewerB);
      assert.deepEqual([res.status, res.body.code], [400, 'BAD_REQUEST'], filter);
      assert.match(res.body.message, /^filter: unknown field/, filter);
    }
    const twice = await flowlog(`/api/v1/flows?namespace=${TEAM_B}&namespace=${TEAM_C}`, viewerB);
    assert.equal(twice.status, 400, 'a namespace given twice is refused, not read as either');
  });

  test('filters are bounded: at most 20, each at most 300 characters', async () => {
    const many = Array.from({ length: 21 }, (_, i) => q(`user=u${i}`)).join('&');
    assert.match((await flowlog(`/api/v1/flows?${many}`, viewerB)).body.message, /at most 20 filters/);
    assert.match((await flowlog(`/api/v1/events?${q(`title=${'x'.repeat(301)}`)}`, viewerB)).body.message, /at most 300 characters/);
    assert.equal((await flowlog(`/api/v1/graph?groupBy=a,b,c,d`, viewerB)).status, 400);
  });

  test('a markup filter field comes back as JSON that no browser renders', async () => {
    const res = await flowlog(`/api/v1/events?${q('<script>alert(1)</script>=x')}`, viewerB);
    assert.equal(res.status, 400);
    assert.match(String(res.headers.get('content-type')), /^application\/json/);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.match(String(res.headers.get('content-security-policy')), /default-src 'none'/);
  });
});

describe('markup in the data and in the address bar stays text', () => {
  let context: BrowserContext;
  let page: Page;
  const dialogs: string[] = [];

  before(async () => {
    context = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
    // Anything that runs, or that the CSP had to stop, is counted.
    await context.addInitScript(() => {
      (window as any).__violations = [];
      document.addEventListener('securitypolicyviolation', (e) => (window as any).__violations.push(`${e.violatedDirective} ${e.sample}`));
    });
    page = await context.newPage();
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    await page.goto(cluster.flowlogUrl);
    await page.getByLabel('API token').fill(viewerB);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('Signed in with').waitFor();
  });

  after(async () => {
    await context?.close();
  });

  /** Nothing ran, nothing was blocked, no element was made from the data. */
  async function assertInert(where: string): Promise<void> {
    const found = await page.evaluate(() => ({
      xss: (window as any).__xss,
      violations: (window as any).__violations,
      injected: document.querySelectorAll('img[src="x"], [onerror], [onmouseover], body script:not([src])').length,
    }));
    assert.deepEqual(found, { xss: undefined, violations: [], injected: 0 }, where);
    assert.deepEqual(dialogs, [], where);
  }

  test('hostile request paths in the flow table, clicked into a filter, and that filter in the address bar after a reload', async () => {
    await page.goto('about:blank');
    // Accepted flows only (`dropReason=` empty): the edge from "somewhere" then holds just the hostile paths.
    await page.goto(`${cluster.flowlogUrl}/#namespace=${TEAM_B}&view=table&f=dropReason%3D`);
    const uriButton = page.locator('#flows').getByRole('button', { name: 'GET /public/<script>window.__xss=1</script>', exact: true });
    await uriButton.waitFor({ timeout: 15_000 });
    for (const path of HOSTILE_PATHS)
      await page
        .locator('#flows')
        .getByRole('button', { name: `GET ${path}`, exact: true })
        .waitFor();
    await uriButton.click();
    await page.locator('#filters .chip .value', { hasText: 'GET /public/<script>window.__xss=1</script>' }).waitFor();
    await waitFor('one row', async () => (await page.locator('#flows tbody tr').count()) === 1, 5_000);
    await assertInert('after the click');

    const shared = page.url();
    assert.match(shared, /f=URI%3DGET\+%2Fpublic%2F%3Cscript%3E/);
    await page.goto('about:blank');
    await page.goto(shared);
    await page.locator('#filters .chip .value', { hasText: 'GET /public/<script>window.__xss=1</script>' }).waitFor();
    await waitFor(
      'one row again',
      async () => (await page.locator('#flows tbody td:nth-child(4)').allTextContents()).join() === `GET ${HOSTILE_PATHS[0]}`,
      5_000,
    );
    await assertInert('after the reload');
  });

  test('filter values and fields, group keys and the namespace crafted in a link: shown as text, refused by the API as text', async () => {
    const link = new URLSearchParams();
    link.set('namespace', TEAM_B);
    link.append('f', `user=${HOSTILE_TAG}`);
    link.append('f', '"onmouseover=window.__xss=6');
    link.append('f', '<script>window.__xss=7</script>=x');
    link.set('groupBy', '<script>alert(8)</script>,app');
    await page.goto('about:blank');
    await page.goto(`${cluster.flowlogUrl}/#${link.toString()}`);
    await page.locator('#warnings', { hasText: 'Cannot load the graph: filter: unknown field "\\"onmouseover"' }).waitFor({ timeout: 10_000 });
    const chips = await page.locator('#filters .chip').allTextContents();
    assert.deepEqual(chips, [`user = ${HOSTILE_TAG}×`, '"onmouseover = window.__xss=6×', '<script>window.__xss = 7</script>=x×']);
    assert.deepEqual(await page.locator('#group-keys .chip').allTextContents(), ['<script>alert(8)</script>×', 'then app×']);
    await assertInert('platform');

    const events = new URLSearchParams({ namespace: TEAM_B, recursive: 'true', window: '0' });
    events.append('f', `title=${HOSTILE_TAG}`);
    events.append('f', '<img/src=x/onerror=window.__xss=9>=1');
    await page.goto(`${cluster.flowlogUrl}/events#${events.toString()}`);
    await page.locator('#status', { hasText: 'unknown field "<img/src' }).waitFor({ timeout: 10_000 });
    await page.getByRole('button', { name: 'Remove the filter <img/src=x/onerror=window.__xss=9>=1' }).click();
    await page.locator('#status', { hasText: 'No events' }).waitFor({ timeout: 10_000 });
    await assertInert('event logs');
  });

  test('tags with markup: grouped by, offered as keys, listed in the Tags tab — all as text', async () => {
    await page.goto('about:blank');
    await page.goto(`${cluster.flowlogUrl}/#namespace=${NS}&groupBy=app`);
    const node = `ext:${NS}/hostile-tags`;
    await waitFor(
      'the hostile group',
      async () =>
        page.evaluate((id) => {
          const cy = (window as any).microsegGraph;
          return cy?.getElementById(id).parent().data('label');
        }, node),
      10_000,
    );
    const label = await page.evaluate((id) => (window as any).microsegGraph.getElementById(id).parent().data('label'), node);
    assert.equal(label, `app: ${HOSTILE_TAG}`);
    const keys = await page.locator('#tag-keys option').evaluateAll((list) => list.map((o) => (o as HTMLOptionElement).value));
    assert.ok(keys.includes('"onmouseover'), keys.join(', '));
    await page.evaluate((id) => {
      (window as any).microsegGraph.getElementById(id).emit('tap');
    }, node);
    await page.locator('#panel').getByRole('tab', { name: 'Tags' }).click();
    await page.locator('#panel .tag', { hasText: `app=${HOSTILE_TAG}` }).waitFor();
    await page.locator('#panel .tag', { hasText: '"onmouseover="window.__xss=5"' }).waitFor();
    await page.screenshot({ path: join(repoRoot, 'test-results', 'console-markup.png'), fullPage: true });
    await assertInert('groups and tags');
  });
});
