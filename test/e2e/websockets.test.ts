// WebSockets through the gateway (SPEC §8.6), with Chromium: alice's page opens a socket to the demo
// application's `/ws` echo and exchanges messages; without a session the upgrade is refused with 401 and with
// bob's with 403, before any upgrade; her logout (in another tab), an administrator's revocation and a policy
// change that takes her access away each close an open socket within a second, with a Close frame that says
// why. Timings are measured from the action to the page's close event, with no sleeps.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { loginWithHttp, startCluster, type Cluster, policyApi } from '@microseg/testkit';
import { launchChromium } from './browser.ts';

const NS = '/acme/team-b/dev/private-app';
let cluster: Cluster;
let browser: Browser;

before(async () => {
  cluster = await startCluster({ dataDir: await mkdtemp(join(tmpdir(), 'microseg-websockets-')), isolated: true });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await cluster?.stop();
});

const api = policyApi(() => cluster, NS);

/** A browser context where alice signed in at the demo IdP and came back to the application. */
async function aliceSignedIn(): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  await page.goto(`${cluster.gatewayUrl}/`);
  await page.getByLabel(/e-?mail/i).fill('alice@example.com');
  await page.getByLabel(/password/i).fill('alice');
  await Promise.all([page.waitForURL((u) => u.href.startsWith(cluster.gatewayUrl)), page.getByRole('button', { name: 'Sign in' }).click()]);
  await page.getByText('Welcome, alice@example.com').waitFor();
  return { context, page };
}

interface Closed {
  code: number;
  reason: string;
}

/**
 * Opens `window.socket` to the application's `/ws` from the page (the page's origin, the browser's cookies)
 * and resolves with its first message; `window.socketClosed` resolves with the close event.
 */
async function openSocket(page: Page): Promise<{ type: string; user: string | null }> {
  const url = `${cluster.gatewayUrl.replace('https:', 'wss:')}/ws`;
  return page.evaluate(
    (wsUrl) =>
      new Promise<{ type: string; user: string | null }>((resolve, reject) => {
        const socket = new WebSocket(wsUrl);
        const w = window as unknown as { socket: WebSocket; socketClosed: Promise<Closed>; inbox: string[]; waiters: Array<(m: string) => void> };
        w.socket = socket;
        w.inbox = [];
        w.waiters = [];
        w.socketClosed = new Promise((done) => socket.addEventListener('close', (e) => done({ code: e.code, reason: e.reason })));
        socket.addEventListener('message', (e) => {
          const waiter = w.waiters.shift();
          if (waiter) waiter(String(e.data));
          else w.inbox.push(String(e.data));
        });
        socket.addEventListener('open', () => {
          const first = w.inbox.shift();
          if (first) resolve(JSON.parse(first));
          else w.waiters.push((m) => resolve(JSON.parse(m)));
        });
        socket.addEventListener('close', (e) => reject(new Error(`closed before it opened: ${e.code}`)));
        // Refused by the page's own rules (CSP) the socket is closed without a close event.
        if (socket.readyState === WebSocket.CLOSED) reject(new Error('refused by the page'));
      }),
    url,
  );
}

/** Sends `text` on the page's socket and resolves with the next message. */
function echo(page: Page, text: string): Promise<string> {
  return page.evaluate(
    (message) =>
      new Promise<string>((resolve) => {
        const w = window as unknown as { socket: WebSocket; inbox: string[]; waiters: Array<(m: string) => void> };
        w.waiters.push(resolve);
        w.socket.send(message);
      }),
    text,
  );
}

const socketClosed = (page: Page): Promise<Closed> => page.evaluate(() => (window as unknown as { socketClosed: Promise<Closed> }).socketClosed);

/** A WebSocket handshake from Node, as a browser on the application's own page would send it. */
function handshake(cookie?: string): Promise<{ status: number; upgraded: boolean; body: string }> {
  const { port } = new URL(cluster.gatewayUrl);
  return new Promise((resolve, reject) => {
    const req = httpsRequest({
      host: '127.0.0.1',
      port,
      path: '/ws',
      servername: 'localhost',
      rejectUnauthorized: false,
      headers: {
        host: `localhost:${port}`,
        origin: cluster.gatewayUrl,
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
        ...(cookie ? { cookie: `__Host-microseg=${cookie}` } : {}),
      },
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode ?? 0, upgraded: true, body: '' });
    });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, upgraded: false, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Runs `action` and says how long after its start the page's socket closed, and how. */
async function closedWithin(page: Page, action: () => Promise<unknown>): Promise<Closed & { afterMs: number }> {
  const closed = socketClosed(page);
  const started = performance.now();
  await action();
  const event = await closed;
  return { ...event, afterMs: performance.now() - started };
}

test("alice's page opens a WebSocket through the gateway: the application hears who she is, and messages pass both ways", { timeout: 120_000 }, async () => {
  const { context, page } = await aliceSignedIn();
  try {
    const hello = await openSocket(page);
    assert.deepEqual(hello, { type: 'hello', user: 'alice@example.com' });
    for (const text of ['hello', 'ünïcödé ✓', 'x'.repeat(70_000)]) assert.equal(await echo(page, text), text);
  } finally {
    await context.close();
  }
});

test('no session: 401 before any upgrade (the page cannot open it either); bob: 403 before any upgrade', { timeout: 120_000 }, async () => {
  const anonymous = await handshake();
  assert.deepEqual([anonymous.status, anonymous.upgraded], [401, false]);
  assert.equal(JSON.parse(anonymous.body).code, 'GATEWAY_UNAUTHENTICATED');

  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  try {
    const page = await context.newPage();
    await page.goto(`${cluster.gatewayUrl}/public/hello`);
    await assert.rejects(openSocket(page), /closed before it opened: 1006/);
  } finally {
    await context.close();
  }

  const bob = await loginWithHttp(cluster.gatewayUrl, 'bob@example.com', 'bob');
  const refused = await handshake(bob.browser.cookie('__Host-microseg'));
  assert.deepEqual([refused.status, refused.upgraded], [403, false]);
  assert.equal(JSON.parse(refused.body).code, 'GATEWAY_FORBIDDEN');
});

test('logging out in another tab closes the open socket within a second, saying the session ended', { timeout: 120_000 }, async () => {
  const { context, page } = await aliceSignedIn();
  try {
    await openSocket(page);
    const other = await context.newPage();
    await other.goto(`${cluster.gatewayUrl}/aporeto/oidc/logout`);
    // Timed from the logout's POST leaving the browser (the click's own handling is the browser's).
    const posted = other.waitForRequest((r) => r.method() === 'POST' && new URL(r.url()).pathname === '/aporeto/oidc/logout').then(() => performance.now());
    const whenClosed = socketClosed(page);
    await other.getByRole('button', { name: 'Sign out' }).click();
    const event = await whenClosed;
    const closed = { ...event, afterMs: performance.now() - (await posted) };
    console.log(`logout closed the socket in ${Math.round(closed.afterMs)} ms`);
    assert.deepEqual([closed.code, closed.reason], [1008, 'The session ended.']);
    assert.ok(closed.afterMs < 1_000, `closed after ${closed.afterMs} ms`);
  } finally {
    await context.close();
  }
});

test("an administrator's revocation closes the open socket within a second", { timeout: 120_000 }, async () => {
  const { context, page } = await aliceSignedIn();
  try {
    await openSocket(page);
    const closed = await closedWithin(page, async () => assert.equal((await api('DELETE', '/sessions?user=alice@example.com')).status, 200));
    console.log(`revocation closed the socket in ${Math.round(closed.afterMs)} ms`);
    assert.deepEqual([closed.code, closed.reason], [1008, 'The session ended.']);
    assert.ok(closed.afterMs < 1_000, `closed after ${closed.afterMs} ms`);
  } finally {
    await context.close();
  }
});

test('a policy change that takes her access away closes the socket within a second; a change that does not keeps it', { timeout: 120_000 }, async () => {
  const original = await api('GET', '/httpresourcespecs/private-app-api');
  assert.equal(original.status, 200);
  const { context, page } = await aliceSignedIn();
  try {
    await openSocket(page);
    // A change elsewhere: every decision is asked again, and hers still holds.
    const unrelated = await api('POST', '/externalnetworks', { name: 'unrelated', entries: ['192.0.2.0/24'], associatedTags: ['ext:name=unrelated'] });
    assert.equal(unrelated.status, 201, JSON.stringify(unrelated.body));
    assert.equal(await echo(page, 'still open'), 'still open');

    const closed = await closedWithin(page, async () => {
      const changed = await api('PATCH', '/httpresourcespecs/private-app-api', {
        endpoints: [
          { URI: '/public/*', methods: ['GET'], public: true },
          { URI: '/*', methods: ['GET', 'POST'], allowedScopes: [['email=somebody-else@example.com']] },
        ],
      });
      assert.equal(changed.status, 200, JSON.stringify(changed.body));
    });
    console.log(`the policy change closed the socket in ${Math.round(closed.afterMs)} ms`);
    assert.deepEqual([closed.code, closed.reason], [1008, 'Access is no longer allowed.']);
    assert.ok(closed.afterMs < 1_000, `closed after ${closed.afterMs} ms`);
  } finally {
    await context.close();
    const restored = await api('PATCH', '/httpresourcespecs/private-app-api', { endpoints: original.body.endpoints });
    assert.equal(restored.status, 200, JSON.stringify(restored.body));
  }
});
