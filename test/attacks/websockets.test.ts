// Attacks on the gateway's WebSockets (SPEC §8.6): a page of another origin opening a socket with the user's
// cookie (Cross-Site WebSocket Hijacking, in Chromium and in raw bytes), upgrades to other protocols, requests
// smuggled behind an upgrade the gateway or the application refused, a body on a handshake, client-sent
// identity headers, the gateway's own endpoints, and socket exhaustion. The application behind the gateway
// records every byte it receives, so each case asserts what reached it — usually nothing.
// test/attacks/README.md lists each case and its source.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type TLSSocket } from 'node:tls';
import type { Browser } from 'playwright-core';
import { freePort, insecureFetch, loginWithHttp, startCluster, waitFor, type Cluster } from '@microseg/testkit';
import { launchChromium } from '../e2e/browser.ts';
import { exposeRecorder, http1, marker, rawRequest, type RawResponse } from './gateway-kit.ts';
import { clientText, HANDSHAKE, readFrame, SocketApplication } from './websocket-kit.ts';

const SESSION = '__Host-microseg';
/** GATEWAY_WEBSOCKETS_PER_SESSION for this cluster. */
const PER_SESSION = 3;

let cluster: Cluster;
let dataDir: string;
let app: SocketApplication;
let browser: Browser;
/** The recording application's service: https://localhost:<walkthrough port>. */
let host: string;
let origin: string;
/** alice's ticket for that service. */
let alice: string;

before(async () => {
  const appPort = await freePort();
  cluster = await startCluster({
    dataDir: (dataDir = await mkdtemp(join(tmpdir(), 'microseg-attacks-websockets-'))),
    isolated: true,
    gatewayPorts: { application: [appPort] },
    env: { GATEWAY_WEBSOCKETS_PER_SESSION: String(PER_SESSION) },
  });
  app = new SocketApplication((path) => (path.startsWith('/public/cswsh') ? hijackingPage() : undefined));
  await app.start(appPort);
  await exposeRecorder(cluster, app);
  host = `localhost:${cluster.ports.walkthrough}`;
  origin = `https://${host}`;
  await waitFor('the recording service to be served', async () => (await insecureFetch(`${origin}/public/cswsh`)).status === 200, 10_000, 50);
  const login = await loginWithHttp(origin, 'alice@example.com', 'alice');
  assert.equal(login.response.status, 200, login.body);
  alice = login.browser.cookie(SESSION)!;
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await app?.stop();
  await cluster?.stop();
});

/** Another tenant's page (same host, another port: same-site, so the browser sends the victim's cookie) that opens a socket to the demo application. */
function hijackingPage(): string {
  const victim = `${cluster.gatewayUrl.replace('https:', 'wss:')}/ws`;
  return `<!doctype html><title>start</title><script>
const socket = new WebSocket(${JSON.stringify(victim)});
socket.onmessage = (e) => { document.title = 'stolen: ' + e.data; };
socket.onclose = (e) => { if (!document.title.startsWith('stolen')) document.title = 'closed: ' + e.code; };
</script>`;
}

const send = (bytes: string | Buffer, options?: Parameters<typeof rawRequest>[2]) => rawRequest(cluster.ports.walkthrough, bytes, options);
const handshake = (target: string, headers: string[] = [], body = '') => http1(`GET ${target} HTTP/1.1`, [`Host: ${host}`, ...HANDSHAKE, ...headers], body);
const aliceCookie = () => `Cookie: ${SESSION}=${alice}`;

function statusIs(res: RawResponse, expected: number, what: string): void {
  assert.equal(res.status, expected, `${what}: ${res.text.slice(0, 300)}`);
}

function nothingArrived(m: string, why = ''): void {
  assert.ok(!app.sawBytes(m), `the application received ${m}${why ? ` (${why})` : ''}`);
}

/** An upgraded connection of alice's, opened with `headers` more; resolves once the 101 is read. */
function openRaw(target: string, headers: string[] = []): Promise<{ socket: TLSSocket; head: string; frames: () => Buffer }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: cluster.ports.walkthrough, servername: 'localhost', rejectUnauthorized: false });
    let buffered = Buffer.alloc(0);
    let head: string | undefined;
    socket.once('secureConnect', () => socket.write(handshake(target, [`Origin: ${origin}`, aliceCookie(), ...headers])));
    socket.on('data', (d: Buffer) => {
      buffered = Buffer.concat([buffered, d]);
      if (head !== undefined) return;
      const end = buffered.indexOf('\r\n\r\n');
      if (end === -1) return;
      head = buffered.subarray(0, end).toString('latin1');
      buffered = buffered.subarray(end + 4);
      if (!head.startsWith('HTTP/1.1 101 ')) reject(new Error(head));
      else resolve({ socket, head, frames: () => buffered });
    });
    socket.once('error', reject);
  });
}

describe('Cross-Site WebSocket Hijacking', () => {
  test("another tenant's page, with alice signed in, opens a socket to her application: the browser sends her cookie, the gateway refuses the handshake (403) naming her, the page reads nothing", async () => {
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    try {
      const page = await context.newPage();
      await page.goto(`${cluster.gatewayUrl}/`);
      await page.getByLabel(/e-?mail/i).fill('alice@example.com');
      await page.getByLabel(/password/i).fill('alice');
      await Promise.all([page.waitForURL((u) => u.href.startsWith(cluster.gatewayUrl)), page.getByRole('button', { name: 'Sign in' }).click()]);
      const cookies = await context.cookies(cluster.gatewayUrl);
      assert.ok(
        cookies.some((c) => c.name === SESSION && c.value),
        'alice is signed in to the demo application',
      );

      // What the browser sends and gets, from Chromium's own network events.
      const cdp = await context.newCDPSession(page);
      await cdp.send('Network.enable');
      const handshakes = new Map<string, Record<string, string>>();
      cdp.on('Network.webSocketWillSendHandshakeRequest', (e) => handshakes.set(e.requestId, e.request.headers));
      const failures: string[] = [];
      cdp.on('Network.webSocketFrameError', (e) => failures.push(e.errorMessage));

      await page.goto(`${origin}/public/cswsh`);
      await page.waitForFunction(() => document.title !== 'start', undefined, { timeout: 10_000 });
      assert.equal(await page.title(), 'closed: 1006', 'the page read nothing');
      assert.deepEqual(failures, ['Error during WebSocket handshake: Unexpected response code: 403']);
      assert.equal(handshakes.size, 1);
      const [headers] = [...handshakes.values()];
      assert.equal(headers!.Origin ?? headers!.origin, origin, 'the handshake came from the tenant page');
      // Her cookie went with it: the gateway's access log names her on the refused handshake.
      await waitFor(
        "the refusal, with alice's name, in the gateway's log",
        async () =>
          (await readFile(join(dataDir, 'logs', 'gateway.log'), 'utf8'))
            .split('\n')
            .filter(Boolean)
            .map((line) => JSON.parse(line))
            .some((l) => l.msg === 'request' && l.path === '/ws' && l.status === 403 && l.user === 'alice@example.com'),
        5_000,
        50,
      );
    } finally {
      await context.close();
    }
  });

  test('raw: a foreign Origin with alice’s cookie — another site, another port or scheme of the host, `null`, a look-alike — 403, nothing reaches the application', async () => {
    for (const foreign of [
      'https://evil.example',
      cluster.gatewayUrl,
      `http://${host}`,
      'null',
      `https://${host}.evil.example`,
      `${origin}/`,
      `${origin}, https://evil.example`,
    ]) {
      const m = marker();
      statusIs(await send(handshake(`/ws?m=${m}`, [`Origin: ${foreign}`, aliceCookie()])), 403, `Origin: ${foreign}`);
      nothingArrived(m, foreign);
    }
    const m = marker();
    statusIs(await send(handshake(`/ws?m=${m}`, [`Origin: ${origin}`, 'Sec-Fetch-Site: same-site', aliceCookie()])), 403, 'Sec-Fetch-Site: same-site');
    nothingArrived(m);
  });
});

describe('what an upgrade may be', () => {
  test('an upgrade to another protocol (h2c, TLS, a list, a versioned token) or another method is 400, with or without a session; nothing arrives', async () => {
    for (const [upgrade, method] of [
      ['h2c', 'GET'],
      ['TLS/1.2', 'GET'],
      ['websocket, h2c', 'GET'],
      ['websocket/13', 'GET'],
      ['websocket', 'POST'],
    ] as const) {
      const m = marker();
      const bytes = http1(`${method} /ws?m=${m} HTTP/1.1`, [
        `Host: ${host}`,
        `Upgrade: ${upgrade}`,
        'Connection: Upgrade, HTTP2-Settings',
        'HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA',
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
        'Sec-WebSocket-Version: 13',
        aliceCookie(),
      ]);
      statusIs(await send(bytes), 400, `${method} Upgrade: ${upgrade}`);
      nothingArrived(m, upgrade);
    }
  });

  test("an upgrade on the gateway's own endpoints (callback, logout) is 400; nothing arrives", async () => {
    for (const path of ['/aporeto/oidc/callback', '/aporeto/oidc/logout', '/aporeto/oidc/backchannel-logout']) {
      const m = marker();
      statusIs(await send(handshake(`${path}?m=${m}`, [`Origin: ${origin}`, aliceCookie()])), 400, path);
      nothingArrived(m, path);
    }
  });
});

describe('smuggling behind an upgrade', () => {
  test('a request sent right behind a handshake the gateway refuses (no session, a bad version) is never read: one answer, the connection closed, nothing arrives', async () => {
    for (const [what, extra, status] of [
      ['no session', [`Origin: ${origin}`], 401],
      ['version 8', [`Origin: ${origin}`, aliceCookie(), 'Sec-WebSocket-Version: 8'], 400],
    ] as const) {
      const m = marker('smuggled-');
      const res = await send(`${handshake('/ws', [...extra])}${http1(`GET /public/x?m=${m} HTTP/1.1`, [`Host: ${host}`])}`, { all: true });
      assert.equal(res.status, status, `${what}: ${res.text.slice(0, 200)}`);
      assert.equal(res.responses, 1, `${what}: one answer only`);
      assert.ok(res.closed, `${what}: the gateway closed the connection`);
      nothingArrived(m, what);
    }
  });

  test('a body on a handshake (Content-Length or chunked, carrying a request) is 400; nothing arrives', async () => {
    for (const framing of ['Content-Length', 'Transfer-Encoding'] as const) {
      const m = marker('smuggled-');
      const inner = http1(`GET /public/x?m=${m} HTTP/1.1`, [`Host: ${host}`]);
      const body = framing === 'Content-Length' ? inner : `${inner.length.toString(16)}\r\n${inner}\r\n0\r\n\r\n`;
      const header = framing === 'Content-Length' ? `Content-Length: ${inner.length}` : 'Transfer-Encoding: chunked';
      const res = await send(handshake('/ws', [`Origin: ${origin}`, aliceCookie(), header], body), { all: true });
      assert.equal(res.status, 400, `${framing}: ${res.text.slice(0, 200)}`);
      assert.equal(res.responses, 1);
      nothingArrived(m, framing);
    }
  });

  test('the application refuses the upgrade (426) but keeps its connection open: its answer reaches the client, the connection is closed, and what the client sends after it never reaches the application', async () => {
    const m = marker('smuggled-');
    const early = marker('smuggled-');
    const socket = connect({ host: '127.0.0.1', port: cluster.ports.walkthrough, servername: 'localhost', rejectUnauthorized: false });
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => undefined);
    await new Promise((resolve) => socket.once('secureConnect', resolve));
    // The handshake with a request right behind it, then another once the answer came.
    socket.write(`${handshake('/refuse/ws', [`Origin: ${origin}`, aliceCookie()])}${http1(`GET /public/x?m=${early} HTTP/1.1`, [`Host: ${host}`])}`);
    await waitFor('the answer', async () => text.includes('\r\n\r\n'), 5_000, 10);
    if (!socket.destroyed) socket.write(http1(`GET /public/x?m=${m} HTTP/1.1`, [`Host: ${host}`]));
    await closed;
    assert.match(text, /^HTTP\/1\.1 426 /);
    assert.equal(text.match(/HTTP\/1\.1 \d{3} /g)?.length, 1, 'one answer');
    assert.equal(app.withTarget('/refuse/ws').length, 1, 'the handshake reached the application');
    nothingArrived(early, 'in the same packet');
    nothingArrived(m, 'after the answer');
  });
});

describe('identity on an upgrade', () => {
  test("client-sent identity headers (and assertions) are removed from the handshake the application receives; it gets alice's, and the gateway's signed assertion", async () => {
    const m = marker();
    const { socket, head, frames } = await openRaw(`/ws?m=${m}`, [
      'X-User-Email: mallory@example.com',
      'X_User_Email: mallory@example.com',
      'x-user-email: mallory@example.com',
      'X-Forwarded-For: 10.6.6.6',
      'Forwarded: for=10.6.6.6',
      'X-Request-Id: chosen-by-mallory',
      'X-Microseg-Jwt-Assertion: forged.by.mallory',
      'X_Microseg_Jwt_Assertion: forged.by.mallory',
      'Connection: Upgrade, X-Keep-Me',
    ]);
    try {
      assert.match(head, /\r\nsec-websocket-accept: /i);
      const [received] = app.withTarget(m);
      assert.ok(received, 'the handshake reached the application');
      const values = (name: string) =>
        received.rawHeaders.flatMap((v, i) => (i % 2 === 0 && v.toLowerCase().replaceAll('_', '-') === name ? [received.rawHeaders[i + 1]!] : []));
      assert.deepEqual(values('x-user-email'), ['alice@example.com']);
      assert.deepEqual(values('x-forwarded-for'), ['127.0.0.1']);
      assert.deepEqual(values('forwarded'), []);
      assert.notDeepEqual(values('x-request-id'), ['chosen-by-mallory']);
      assert.deepEqual(values('cookie'), [], 'no microseg cookie');
      // The gateway's signed identity assertion (SPEC §8.4), one, and not the client's.
      const assertions = values('x-microseg-jwt-assertion');
      assert.equal(assertions.length, 1, 'one assertion');
      assert.notEqual(assertions[0], 'forged.by.mallory');
      assert.equal(JSON.parse(Buffer.from(assertions[0]!.split('.')[1]!, 'base64url').toString()).email, 'alice@example.com');
      assert.ok(!app.sawBytes(alice), "alice's ticket never reaches the application");
      // And the socket works: a frame goes there and back.
      socket.write(clientText('ping'));
      await waitFor('the echo', async () => readFrame(frames())?.payload.toString() === 'ping', 5_000, 10);
    } finally {
      socket.destroy();
    }
  });
});

describe('exhaustion', () => {
  test(`one session holds at most ${PER_SESSION} sockets (429 past it, nothing arrives); closing one frees its place`, async () => {
    const open = [];
    for (let i = 0; i < PER_SESSION; i++) open.push(await openRaw('/ws'));
    const m = marker();
    statusIs(await send(handshake(`/ws?m=${m}`, [`Origin: ${origin}`, aliceCookie()])), 429, 'one socket too many');
    nothingArrived(m);
    const first = open.shift()!;
    const gone = new Promise((resolve) => first.socket.once('close', resolve));
    first.socket.destroy();
    await gone;
    await waitFor(
      'the place to be free',
      async () =>
        await openRaw('/ws')
          .then((o) => (open.push(o), true))
          .catch(() => false),
      5_000,
      20,
    );
    for (const o of open) o.socket.destroy();
  });
});
