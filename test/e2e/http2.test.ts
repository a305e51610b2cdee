// HTTP/2 end to end (SPEC §3.10, §8.7): every exposed port offers h2 and http/1.1 with the same pipeline;
// Node's http2 client and Chromium get h2; a signed-in user's cookie works over h2, split into several
// `cookie` fields or not; a service whose application speaks h2c (a small gRPC-like echo, with trailers) or
// TLS (with a CA of its own, over h2 or HTTP/1.1) is reached through the gateway.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp } from 'node:fs/promises';
import {
  connect,
  createSecureServer,
  createServer,
  type ClientHttp2Session,
  type Http2SecureServer,
  type Http2Server,
  type IncomingHttpHeaders,
} from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { freePort, loginWithHttp, startCluster, waitFor, type Cluster, policyApi, serverCertificate, testCa } from '@microseg/testkit';
import { launchChromium } from './browser.ts';

const NS = '/acme/team-c/walkthrough';
let cluster: Cluster;
let browser: Browser;
let grpcPort: number;
let tlsPort: number;
const upstreams: Array<Http2Server | Http2SecureServer> = [];
/** What the test applications received. */
const received: IncomingHttpHeaders[] = [];

// A CA of the test's own, and the TLS application's certificate for the hosts its services answer to.
const ca = await testCa('e2e application CA');
const otherCa = await testCa('someone else', { usages: false });
const appCert = await serverCertificate(ca, ['secure-h2.test', 'secure-h1.test', 'untrusted.test']);

/** gRPC's message framing (compressed flag, 32-bit length, message). */
const grpcFrame = (message: Buffer) => Buffer.concat([Buffer.from([0]), Buffer.from(new Uint32Array([message.length]).buffer).reverse(), message]);

/** The gRPC-like application: h2c; echoes each message of `/echo.Echo/Say` with grpc-status in trailers. */
function startGrpcLikeApp(port: number): Promise<void> {
  const server = createServer();
  upstreams.push(server);
  server.on('stream', (stream, headers) => {
    received.push(headers);
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      if (headers[':path'] !== '/echo.Echo/Say' || headers['content-type'] !== 'application/grpc') {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '12' }, { endStream: true });
        return;
      }
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0', 'grpc-message': 'echoed' }));
      stream.end(Buffer.concat(chunks));
    });
  });
  server.listen(port, '127.0.0.1');
  return once(server, 'listening').then(() => undefined);
}

/** The TLS application: h2 and http/1.1 by ALPN, under the test CA; says which protocol it was spoken to in. */
function startTlsApp(port: number): Promise<void> {
  const server = createSecureServer({ cert: appCert.cert, key: appCert.private, allowHTTP1: true }, (req, res) => {
    received.push(req.headers);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ httpVersion: req.httpVersion, host: req.headers[':authority'] ?? req.headers.host }));
  });
  upstreams.push(server);
  server.listen(port, '127.0.0.1');
  return once(server, 'listening').then(() => undefined);
}

const api = policyApi(() => cluster, NS);

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  trailers: IncomingHttpHeaders | undefined;
  alpn: string | undefined;
}

/** One HTTP/2 request on a session of its own, to the gateway's port; `headers` may repeat a field as an array. */
async function h2(port: number, headers: Record<string, string | string[]>, body?: Buffer): Promise<Answer> {
  const session: ClientHttp2Session = connect(`https://127.0.0.1:${port}`, { rejectUnauthorized: false, servername: 'localhost' });
  try {
    await once(session, 'connect');
    const stream = session.request({ ':method': 'GET', ...headers }, { endStream: !body });
    if (body) stream.end(body);
    let trailers: IncomingHttpHeaders | undefined;
    stream.on('trailers', (t: IncomingHttpHeaders) => (trailers = t));
    const [head] = (await once(stream, 'response')) as [IncomingHttpHeaders];
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    await once(stream, 'end');
    return { status: Number(head[':status']), headers: head, body: Buffer.concat(chunks), trailers, alpn: session.alpnProtocol };
  } finally {
    session.close();
  }
}

before(async () => {
  grpcPort = await freePort();
  tlsPort = await freePort();
  cluster = await startCluster({
    dataDir: await mkdtemp(join(tmpdir(), 'microseg-http2-')),
    isolated: true,
    gatewayPorts: { application: [grpcPort, tlsPort] },
  });
  await Promise.all([startGrpcLikeApp(grpcPort), startTlsApp(tlsPort)]);
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  for (const server of upstreams) server.close();
  await cluster?.stop();
});

describe('the demo application over HTTP/2', () => {
  test("Node's http2 client gets /public/hello over h2 (ALPN), with :authority as Host", async () => {
    const port = Number(new URL(cluster.gatewayUrl).port);
    const res = await h2(port, { ':path': '/public/hello', ':authority': `localhost:${port}` });
    assert.equal(res.alpn, 'h2');
    assert.equal(res.status, 200);
    assert.match(res.body.toString(), /Hello from the public part/);
    assert.ok(res.headers['x-request-id'], 'the gateway answered');
  });

  test('a signed-in alice reaches a protected path over h2, her session cookie split over several cookie fields; the app sees her and no microseg cookie', async () => {
    const alice = await loginWithHttp(cluster.gatewayUrl, 'alice@example.com', 'alice', '/');
    const ticket = alice.browser.cookie('__Host-microseg');
    assert.ok(ticket, 'alice has a session');
    const port = Number(new URL(cluster.gatewayUrl).port);
    const res = await h2(port, {
      ':path': '/_echo',
      ':authority': `localhost:${port}`,
      accept: 'application/json',
      // HTTP/2 lets a client send each cookie as a field of its own (RFC 9113 §8.2.3).
      cookie: ['theme=dark', `__Host-microseg=${ticket}`, 'lang=en'],
      'x-user-email': 'mallory@example.com',
    });
    assert.equal(res.status, 200, res.body.toString());
    const echo = JSON.parse(res.body.toString()) as { headers: Record<string, string> };
    assert.equal(echo.headers['x-user-email'], 'alice@example.com');
    assert.equal(echo.headers.cookie, 'theme=dark; lang=en');
    assert.equal(echo.headers.host, `localhost:${port}`);
    assert.equal(echo.headers['x-forwarded-proto'], 'https');

    // Without the session: JSON gets 401, a navigation is sent to sign in.
    assert.equal((await h2(port, { ':path': '/_echo', ':authority': `localhost:${port}`, accept: 'application/json' })).status, 401);
    const navigation = await h2(port, { ':path': '/', ':authority': `localhost:${port}`, accept: 'text/html' });
    assert.equal(navigation.status, 302);
    assert.ok(String(navigation.headers.location).startsWith(cluster.idpUrl));
  });

  test(':authority and a Host header naming another service: 400, nothing forwarded', async () => {
    const port = Number(new URL(cluster.gatewayUrl).port);
    const res = await h2(port, { ':path': '/public/hello', ':authority': `localhost:${port}`, host: 'evil.example.com', accept: 'application/json' });
    assert.equal(res.status, 400);
    assert.match(JSON.parse(res.body.toString()).message, /name different hosts/);
  });

  test('Chromium signs alice in and loads the app over h2', async () => {
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    await page.goto(`${cluster.gatewayUrl}/`);
    assert.ok(page.url().startsWith(cluster.idpUrl), `expected the IdP login page, got ${page.url()}`);
    await page.getByLabel(/e-?mail/i).fill('alice@example.com');
    await page.getByLabel(/password/i).fill('alice');
    await Promise.all([page.waitForURL((u) => u.href.startsWith(cluster.gatewayUrl)), page.getByRole('button', { name: 'Sign in' }).click()]);
    await page.waitForLoadState();
    assert.match((await page.textContent('body')) ?? '', /Welcome, alice@example\.com/);
    const protocol = await page.evaluate(() => (performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming).nextHopProtocol);
    assert.equal(protocol, 'h2');
    await context.close();
  });
});

describe('services whose application speaks HTTP/2 or TLS', () => {
  before(async () => {
    const spec = await api('POST', '/httpresourcespecs', {
      name: 'h2-apps',
      associatedTags: ['api=h2-apps'],
      endpoints: [
        { URI: '/echo.Echo/*', methods: ['POST'], public: true },
        { URI: '/tls', methods: ['GET'], public: true },
      ],
    });
    assert.equal(spec.status, 201, JSON.stringify(spec.body));
    const common = { exposedPort: cluster.ports.walkthrough, selectors: [['type=walkthrough-app']], exposedAPIs: [['api=h2-apps']] };
    const services = [
      { name: 'grpc', hosts: ['grpc.test'], port: grpcPort, applicationProtocol: 'HTTP/2' },
      { name: 'secure-h2', hosts: ['secure-h2.test'], port: tlsPort, applicationProtocol: 'HTTP/2', exposedServiceIsTLS: true, applicationCA: ca.cert },
      { name: 'secure-h1', hosts: ['secure-h1.test'], port: tlsPort, exposedServiceIsTLS: true, applicationCA: ca.cert },
      { name: 'untrusted', hosts: ['untrusted.test'], port: tlsPort, applicationProtocol: 'HTTP/2', exposedServiceIsTLS: true, applicationCA: otherCa.cert },
    ];
    for (const service of services) {
      const created = await api('POST', '/services', { ...common, ...service });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.equal(created.body.applicationProtocol, service.applicationProtocol ?? 'HTTP/1.1');
    }
    await waitFor(
      'the services to be served',
      async () => (await h2(cluster.ports.walkthrough, { ':path': '/tls', ':authority': 'secure-h1.test', accept: 'application/json' })).status === 200,
      10_000,
    );
  });

  test('gRPC-like over h2c: the message echoed, grpc-status in the trailers, te: trailers and the forwarding headers at the app', async () => {
    const message = Buffer.from('hello through microseg');
    received.length = 0;
    const res = await h2(
      cluster.ports.walkthrough,
      { ':method': 'POST', ':path': '/echo.Echo/Say', ':authority': 'grpc.test', 'content-type': 'application/grpc', te: 'trailers', 'grpc-timeout': '5S' },
      grpcFrame(message),
    );
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'application/grpc');
    assert.deepEqual(res.body, grpcFrame(message));
    assert.deepEqual({ status: res.trailers?.['grpc-status'], message: res.trailers?.['grpc-message'] }, { status: '0', message: 'echoed' });
    const atApp = received.at(-1)!;
    assert.equal(atApp[':authority'], 'grpc.test');
    assert.equal(atApp.te, 'trailers');
    assert.equal(atApp['grpc-timeout'], '5S');
    assert.ok(atApp['x-forwarded-for']);
    assert.equal(atApp['x-forwarded-proto'], 'https');
  });

  test('TLS applications: verified against the service CA over h2 and HTTP/1.1; a certificate the CA did not sign: 502', async () => {
    const overH2 = await h2(cluster.ports.walkthrough, { ':path': '/tls', ':authority': 'secure-h2.test', accept: 'application/json' });
    assert.equal(overH2.status, 200);
    assert.deepEqual(JSON.parse(overH2.body.toString()), { httpVersion: '2.0', host: 'secure-h2.test' });
    const overH1 = await h2(cluster.ports.walkthrough, { ':path': '/tls', ':authority': 'secure-h1.test', accept: 'application/json' });
    assert.deepEqual(JSON.parse(overH1.body.toString()), { httpVersion: '1.1', host: 'secure-h1.test' });
    const untrusted = await h2(cluster.ports.walkthrough, { ':path': '/tls', ':authority': 'untrusted.test', accept: 'application/json' });
    assert.equal(untrusted.status, 502);
    assert.equal(JSON.parse(untrusted.body.toString()).code, 'GATEWAY_UPSTREAM_UNREACHABLE');
  });

  test('the API refuses an applicationCA without TLS, a private key as a CA, and an unknown protocol', async () => {
    const base = { exposedPort: cluster.ports.walkthrough, port: tlsPort, selectors: [['type=walkthrough-app']], hosts: ['bad.test'] };
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ name: 'bad-1', applicationCA: ca.cert }, 'applicationCA'],
      [{ name: 'bad-2', exposedServiceIsTLS: true, applicationCA: ca.private }, 'applicationCA'],
      [{ name: 'bad-3', applicationProtocol: 'h3' }, 'applicationProtocol'],
    ];
    for (const [service, attribute] of cases) {
      const res = await api('POST', '/services', { ...base, ...service });
      assert.equal(res.status, 422, JSON.stringify(res.body));
      assert.ok(JSON.stringify(res.body).includes(attribute), JSON.stringify(res.body));
      assert.ok(!JSON.stringify(res.body).includes('PRIVATE KEY'), 'the key is not echoed back');
    }
  });
});
