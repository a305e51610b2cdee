// End to end, in Chromium against a real cluster: the console's views — the Platform graph grouped by tag
// keys (kept in the address bar), a processing unit's Event logs tab, and the tables' click-to-filter
// (a click keeps a value, a Shift-click leaves it out; chips, the address bar, applied by the API).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { repoRoot, startCluster, waitFor, type Cluster } from '@microseg/testkit';
import { launchChromium } from './browser.ts';

const NS = '/acme/team-b/dev/private-app';
const PU = `pu:${NS}/nginx-7bb7cd8db5-dgbxf`;
const WALKTHROUGH_PU = 'pu:/acme/team-c/walkthrough/walkthrough-pu';
const screenshots = join(repoRoot, 'test-results');

let cluster: Cluster;
let browser: Browser;
let context: BrowserContext;
let page: Page;
const problems: string[] = [];

before(async () => {
  cluster = await startCluster({ dataDir: await mkdtemp(join(tmpdir(), 'microseg-console-views-')), isolated: true });
  browser = await launchChromium();
  await visitAs('alice@example.com', 'alice');
  await visitAs('bob@example.com', 'bob');
  context = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
  page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(e.message));
  await page.goto(`${cluster.flowlogUrl}/#namespace=/acme`);
  await page.getByLabel('API token').fill(cluster.adminToken);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText('Signed in with').waitFor();
});

after(async () => {
  await context?.close();
  await browser?.close();
  await cluster?.stop();
});

/** Open the app in a fresh browser, sign in at the IdP, come back. */
async function visitAs(email: string, password: string): Promise<void> {
  const visitor = await browser.newContext({ ignoreHTTPSErrors: true });
  try {
    const p = await visitor.newPage();
    await p.goto(`${cluster.gatewayUrl}/`);
    await p.getByLabel(/e-?mail/i).fill(email);
    await p.getByLabel(/password/i).fill(password);
    await Promise.all([p.waitForURL((u) => u.href.startsWith(cluster.gatewayUrl)), p.getByRole('button', { name: 'Sign in' }).click()]);
    await p.waitForLoadState();
  } finally {
    await visitor.close();
  }
}

async function policyApi(method: string, path: string, body: unknown, namespace: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${cluster.policyUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${cluster.adminToken}`, 'x-namespace': namespace, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

/** Every drawn node's parent chain, as group labels: `{ 'pu:…': ['$namespace: /acme/…', 'app: nginx'] }`. */
async function drawnGroups(): Promise<Record<string, string[]>> {
  return page.evaluate(() => {
    const cy = (window as unknown as { microsegGraph: any }).microsegGraph;
    const out: Record<string, string[]> = {};
    cy.nodes(':childless').forEach((n: any) => {
      if (n.hasClass('group')) return;
      out[n.id()] = n
        .ancestors()
        .map((a: any) => a.data('label'))
        .reverse();
    });
    return out;
  });
}

const flowRows = () => page.locator('#flows tbody tr');
const sources = async () => (await page.locator('#flows tbody td:nth-child(2)').allTextContents()).map((t) => t.trim());

describe('the console views', () => {
  test('Platform: grouping by tag keys draws nested groups, kept in the address bar across a reload', async () => {
    await flowRows().filter({ hasText: 'bob@example.com' }).waitFor({ timeout: 15_000 });
    await page.locator('#graph canvas').first().waitFor();
    assert.deepEqual((await drawnGroups())[PU], [], 'no groups at first');

    await page.getByLabel('Group by').fill('app');
    await page.getByLabel('Group by').press('Enter');
    await waitFor('the nginx unit in app: nginx', async () => (await drawnGroups())[PU]?.join() === 'app: nginx', 10_000);
    const byApp = await drawnGroups();
    assert.deepEqual(byApp[WALKTHROUGH_PU], [], 'a unit without the tag stays outside every group');
    assert.match(page.url(), /groupBy=app(&|$)/);

    await page.getByRole('button', { name: 'Stop grouping by app' }).click();
    await page.getByLabel('Group by').fill('$namespace then app');
    await page.getByLabel('Group by').press('Enter');
    await waitFor('nested groups', async () => (await drawnGroups())[PU]?.length === 2, 10_000);
    const nested = await drawnGroups();
    assert.deepEqual(nested[PU], [`$namespace: ${NS}`, 'app: nginx']);
    assert.deepEqual(nested[WALKTHROUGH_PU], ['$namespace: /acme/team-c/walkthrough']);
    assert.deepEqual(nested['user:alice@example.com'], [], 'users have no namespace: outside');
    const options = await page.locator('#tag-keys option').evaluateAll((list) => list.map((o) => (o as HTMLOptionElement).value));
    assert.ok(
      ['$namespace', 'app', 'type'].every((k) => options.includes(k)),
      `the box offers the graph's tag keys: ${options.join(', ')}`,
    );

    const shared = page.url();
    assert.match(shared, /groupBy=%24namespace%2Capp/);
    await page.goto('about:blank');
    await page.goto(shared);
    await waitFor('the groups again after a reload', async () => (await drawnGroups())[PU]?.length === 2, 10_000);
    assert.deepEqual(await page.locator('#group-keys .chip').allTextContents(), ['$namespace×', 'then app×']);
    await page.screenshot({ path: join(screenshots, 'platform-groups.png'), fullPage: true });
    await page.getByRole('button', { name: 'Stop grouping by $namespace' }).click();
    await page.getByRole('button', { name: 'Stop grouping by app' }).click();
    await waitFor('no groups', async () => (await drawnGroups())[PU]?.length === 0, 10_000);
  });

  test("Platform: a processing unit's Event logs tab lists its events and its decisions, and opens the Event logs filtered", async () => {
    // (Braces: the collection emit() returns is not sent back to the test.)
    await page.evaluate((id) => {
      (window as unknown as { microsegGraph: any }).microsegGraph.getElementById(id).emit('tap');
    }, PU);
    const panel = page.locator('#panel');
    await panel.getByRole('tab', { name: 'Event logs' }).click();
    const tab = panel.locator('.unit-logs');
    await tab.getByText('Processing unit registered').first().waitFor({ timeout: 10_000 });
    const events = await tab.locator('table').first().locator('tbody tr').allTextContents();
    assert.ok(events.length >= 1);
    assert.ok(
      events.every((e) => e.includes('nginx-7bb7cd8db5-dgbxf') && !e.includes('walkthrough-pu')),
      `only this unit's events: ${events.join(' | ')}`,
    );
    const decisions = tab.locator('table').nth(1).locator('tbody tr');
    await decisions.filter({ hasText: 'demo-idp' }).first().waitFor();
    const flows = await decisions.allTextContents();
    assert.ok(
      flows.every((f) => f.includes('nginx-7bb7cd8db5-dgbxf')),
      `only decisions that involve it: ${flows.join(' | ')}`,
    );
    assert.ok(flows.some((f) => /Accept.*nginx-7bb7cd8db5-dgbxf → demo-idp/.test(f)));
    assert.ok(flows.some((f) => /Reject.*bob@example\.com → nginx-7bb7cd8db5-dgbxf.*drop: api/.test(f)));
    await page.screenshot({ path: join(screenshots, 'pu-event-logs.png'), fullPage: true });

    await tab.getByRole('link', { name: 'Open in Event logs' }).click();
    await page.waitForURL(/\/events#/);
    assert.match(page.url(), /f=targetID%3D/);
    await page.locator('#filters .chip').filter({ hasText: 'targetID' }).waitFor();
    const rows = page.locator('#events tbody tr');
    await rows.filter({ hasText: 'Processing unit registered' }).first().waitFor({ timeout: 10_000 });
    assert.ok((await rows.allTextContents()).every((r) => r.includes('nginx-7bb7cd8db5-dgbxf')));
  });

  test('Event logs: a click keeps a value, a Shift-click leaves it out; chips, address bar, API, live tail', async () => {
    const crud = await policyApi('POST', '/externalnetworks', { name: 'views-crud', entries: ['198.51.100.0/24'], associatedTags: ['ext:name=crud'] }, NS);
    assert.equal(crud.status, 201, JSON.stringify(crud.body));
    await page.goto('about:blank');
    await page.goto(`${cluster.flowlogUrl}/events#namespace=/acme&window=0`);
    const rows = page.locator('#events tbody tr');
    const categories = () => page.locator('#events tbody td:nth-child(3)').allTextContents();
    await rows.filter({ hasText: 'views-crud' }).first().waitFor({ timeout: 10_000 });
    assert.ok(new Set(await categories()).size >= 3, `several categories at first: ${await categories()}`);

    const excluded = page.waitForRequest((r) => r.url().includes('/api/v1/events?') && r.url().includes('filter=category%21%3Dcrud'));
    await page
      .locator('#events')
      .getByRole('button', { name: 'crud', exact: true })
      .first()
      .click({ modifiers: ['Shift'] });
    await excluded;
    await waitFor('no crud row', async () => !(await categories()).includes('crud') && (await rows.count()) > 1, 5_000);
    await page.locator('#filters .chip.exclude').filter({ hasText: 'crud' }).waitFor();

    await page.locator('#events').getByRole('button', { name: 'authn', exact: true }).first().click();
    await waitFor('authn rows only', async () => (await categories()).every((c) => c === 'authn') && (await rows.count()) >= 2, 5_000);
    assert.match(page.url(), /f=category%21%3Dcrud&f=category%3Dauthn/);

    // The same value Shift-clicked turns "only" into "all but".
    await page
      .locator('#events')
      .getByRole('button', { name: 'authn', exact: true })
      .first()
      .click({ modifiers: ['Shift'] });
    await waitFor('neither authn nor crud', async () => (await categories()).every((c) => c !== 'authn' && c !== 'crud') && (await rows.count()) >= 1, 5_000);
    assert.equal(await page.locator('#filters .chip').count(), 2);
    await page.getByRole('button', { name: 'Clear all' }).click();
    await waitFor('everything again', async () => (await categories()).includes('crud') && (await categories()).includes('authn'), 5_000);

    // With a filter, the live tail still brings what matches (the API reads the page again).
    await page.locator('#events').getByRole('button', { name: 'crud', exact: true }).first().click();
    await waitFor('crud only', async () => (await categories()).every((c) => c === 'crud'), 5_000);
    await page.locator('#live-dot.on').waitFor();
    const created = await policyApi('POST', '/externalnetworks', { name: 'views-live', entries: ['192.0.2.0/24'], associatedTags: ['ext:name=views'] }, NS);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    await rows.first().filter({ hasText: 'views-live' }).waitFor({ timeout: 10_000 });
    assert.ok((await categories()).every((c) => c === 'crud'));
    await page.screenshot({ path: join(screenshots, 'event-logs-filters.png'), fullPage: true });
  });

  test('Platform flows: a click keeps a value, a Shift-click leaves it out; the graph follows; a reload keeps the filters', async () => {
    await page.goto(`${cluster.flowlogUrl}/#namespace=/acme`);
    await flowRows().filter({ hasText: 'bob@example.com' }).waitFor({ timeout: 10_000 });
    assert.ok((await sources()).includes('alice@example.com'));

    const excluded = page.waitForRequest((r) => r.url().includes('/api/v1/graph?') && r.url().includes('filter=source.name%21%3Dbob%40example.com'));
    await page
      .locator('#flows')
      .getByRole('button', { name: 'bob@example.com', exact: true })
      .click({ modifiers: ['Shift'] });
    await excluded;
    await waitFor('no bob', async () => !(await sources()).includes('bob@example.com') && (await sources()).includes('alice@example.com'), 5_000);
    const drawn = async () => page.evaluate(() => (window as unknown as { microsegGraph: any }).microsegGraph.nodes().map((n: any) => n.id()) as string[]);
    assert.ok(!(await drawn()).includes('user:bob@example.com'), 'bob is gone from the graph too');

    await page.locator('#flows').getByRole('button', { name: 'demo-idp', exact: true }).click();
    await waitFor('only the IdP flow', async () => (await sources()).join() === 'nginx-7bb7cd8db5-dgbxf', 5_000);
    assert.deepEqual((await drawn()).sort(), [PU, `ext:${NS}/demo-idp`].sort(), 'only what the flows touch is drawn');

    const shared = page.url();
    assert.match(shared, /f=source.name%21%3Dbob%40example.com&f=destination.name%3Ddemo-idp/);
    await page.goto('about:blank');
    await page.goto(shared);
    await waitFor('the same rows after a reload', async () => (await sources()).join() === 'nginx-7bb7cd8db5-dgbxf', 10_000);
    assert.equal(await page.locator('#filters .chip').count(), 2);
    await page.screenshot({ path: join(screenshots, 'platform-filters.png'), fullPage: true });

    await page.getByRole('button', { name: 'Remove the filter destination.name=demo-idp' }).click();
    await waitFor(
      'alice back, bob still out',
      async () => (await sources()).includes('alice@example.com') && !(await sources()).includes('bob@example.com'),
      5_000,
    );
    assert.deepEqual(problems, [], 'no script error and no Content-Security-Policy violation');
  });
});
