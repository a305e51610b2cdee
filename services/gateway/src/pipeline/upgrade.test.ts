import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { checkOrigin, checkUpgrade, handshakeProblem, isForeignOrigin, responseOn } from './upgrade.ts';
import { contextFor, fakeDeps, FakeResponse, fakeRequest, HOST } from './testing/fakes.ts';

const HANDSHAKE = { upgrade: 'websocket', connection: 'Upgrade', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' };

test('a WebSocket handshake passes; anything else an upgrade may be is refused with the reason', () => {
  assert.equal(handshakeProblem(fakeRequest({ headers: HANDSHAKE })), undefined);
  assert.equal(handshakeProblem(fakeRequest({ headers: { ...HANDSHAKE, upgrade: 'WebSocket' } })), undefined, 'any case');
  const refused: Array<[string, Parameters<typeof fakeRequest>[0]]> = [
    ['h2c', { headers: { ...HANDSHAKE, upgrade: 'h2c', 'http2-settings': 'AAMAAABkAARAAAAAAAIAAAAA' } }],
    ['TLS', { headers: { ...HANDSHAKE, upgrade: 'TLS/1.2' } }],
    ['two protocols', { headers: { ...HANDSHAKE, upgrade: 'websocket, h2c' } }],
    ['a versioned token', { headers: { ...HANDSHAKE, upgrade: 'websocket/13' } }],
    ['POST', { method: 'POST', headers: HANDSHAKE }],
    ['HTTP/1.0', { httpVersion: '1.0', headers: HANDSHAKE }],
    ['version 8', { headers: { ...HANDSHAKE, 'sec-websocket-version': '8' } }],
    ['no key', { headers: { upgrade: 'websocket', connection: 'Upgrade', 'sec-websocket-version': '13' } }],
    ['a key that is not 16 bytes', { headers: { ...HANDSHAKE, 'sec-websocket-key': 'c2hvcnQ=' } }],
    ['a body (Content-Length)', { headers: { ...HANDSHAKE, 'content-length': '20' } }],
    ['a body (chunked)', { headers: { ...HANDSHAKE, 'transfer-encoding': 'chunked' } }],
  ];
  for (const [what, init] of refused) assert.ok(handshakeProblem(fakeRequest(init)), what);
  assert.equal(handshakeProblem(fakeRequest({ headers: { ...HANDSHAKE, 'content-length': '0' } })), undefined, 'an empty body is no body');
});

test('Origin: the service’s own https origin, or none (not a browser); any other origin, `null` or a cross-site fetch is foreign', () => {
  const host = 'app.example.com:8443';
  assert.equal(isForeignOrigin({ origin: 'https://app.example.com:8443' }, host), false);
  assert.equal(isForeignOrigin({}, host), false, 'no Origin: not a browser page');
  assert.equal(isForeignOrigin({ origin: 'https://app.example.com:8443', 'sec-fetch-site': 'same-origin' }, host), false);
  assert.equal(isForeignOrigin({ origin: 'https://app.example.com' }, 'app.example.com:443'), false, '443 is left out of an origin');
  for (const origin of [
    'https://evil.example',
    'https://app.example.com',
    'https://app.example.com:9443',
    'http://app.example.com:8443',
    'https://app.example.com.evil.example:8443',
    'https://APP.example.com:8443',
    'https://app.example.com:8443/',
    'null',
    'not a url',
    '',
  ])
    assert.equal(isForeignOrigin({ origin }, host), true, origin);
  for (const site of ['same-site', 'cross-site', 'none'])
    assert.equal(isForeignOrigin({ origin: 'https://app.example.com:8443', 'sec-fetch-site': site }, host), true, `Sec-Fetch-Site: ${site}`);
});

test('checkUpgrade: 400 for what is not a WebSocket handshake or is on an own endpoint; checkOrigin: 403 for a foreign origin, naming the user; each a rejected flow', async () => {
  const cases: Array<[number, string, Record<string, string>, string]> = [
    [400, 'GATEWAY_BAD_REQUEST', { ...HANDSHAKE, upgrade: 'h2c' }, '/ws'],
    [400, 'GATEWAY_BAD_REQUEST', HANDSHAKE, '/aporeto/oidc/callback'],
    [400, 'GATEWAY_BAD_REQUEST', HANDSHAKE, '/aporeto/oidc/logout'],
  ];
  for (const [status, code, headers, path] of cases) {
    const deps = fakeDeps();
    const res = new FakeResponse();
    assert.equal(await checkUpgrade(deps, contextFor(fakeRequest({ url: path, headers }), res, { path })), true, path);
    assert.equal(res.statusCode, status, `${path} ${JSON.stringify(headers)}`);
    assert.equal(res.json().code, code);
    assert.equal(deps.flows.recorded[0]?.accepted, false);
  }
  const ok = fakeRequest({ url: '/ws', headers: { ...HANDSHAKE, origin: 'https://evil.example' } });
  assert.equal(await checkUpgrade(fakeDeps(), contextFor(ok, new FakeResponse(), { path: '/ws' })), false, 'the Origin is not its business');

  const deps = fakeDeps();
  const res = new FakeResponse();
  const session = { subject: 'alice@example.com', tags: ['email=alice@example.com'] };
  const foreign = fakeRequest({ url: '/ws', headers: { ...HANDSHAKE, origin: 'https://evil.example' } });
  assert.equal(await checkOrigin(deps, contextFor(foreign, res, { path: '/ws', session })), true);
  assert.equal(res.statusCode, 403);
  assert.equal(res.json().code, 'GATEWAY_CROSS_ORIGIN_REQUEST');
  assert.deepEqual(
    deps.flows.recorded.map((f) => [f.accepted, f.dropReason, f.user]),
    [[false, 'invalid', 'alice@example.com']],
  );
  const own = fakeRequest({ url: '/ws', headers: { ...HANDSHAKE, origin: `https://${HOST}` } });
  assert.equal(await checkOrigin(fakeDeps(), contextFor(own, new FakeResponse(), { path: '/ws', session })), false, 'passes on');
});

// --- responseOn, on a real server's upgrade sockets ---------------------------------------------

const servers: Server[] = [];
after(() => {
  for (const s of servers) s.close();
});

async function upgradeServer(answer: (req: IncomingMessage, socket: Duplex) => void): Promise<number> {
  const server = createServer();
  servers.push(server);
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (head.length > 0) socket.unshift(head);
    answer(req, socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

/** Sends `bytes` and reads until the server closes the connection (or 2 s). */
function exchange(port: number, bytes: string): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(bytes));
    let text = '';
    const timer = setTimeout(() => (socket.destroy(), resolve({ text, closed: false })), 2_000);
    socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
    socket.on('close', () => (clearTimeout(timer), resolve({ text, closed: true })));
  });
}

const upgradeRequest = (path: string) =>
  `GET ${path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`;

test('responseOn: a refusal is the last thing on the connection (Connection: close); bytes after the handshake are never read as a request', async () => {
  let requests = 0;
  const port = await upgradeServer((req, socket) => {
    requests++;
    const res = responseOn(req, socket);
    res.writeHead(401, { 'content-type': 'application/json' });
    res.end('{"code":"GATEWAY_UNAUTHENTICATED"}');
  });
  const { text, closed } = await exchange(port, `${upgradeRequest('/ws')}GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n`);
  assert.ok(closed, 'the gateway closed the connection');
  assert.match(text, /^HTTP\/1\.1 401 /);
  assert.match(text, /\r\nConnection: close\r\n/);
  assert.equal(text.match(/HTTP\/1\.1 /g)?.length, 1, 'one answer');
  assert.equal(requests, 1);
});

test('responseOn: after a 101 the socket stays open and is the caller’s', async () => {
  const port = await upgradeServer((req, socket) => {
    const res = responseOn(req, socket);
    res.writeHead(101, { connection: 'Upgrade', upgrade: 'websocket' });
    res.end();
    res.once('finish', () => {
      socket.write('after the switch');
      socket.end();
    });
  });
  const { text, closed } = await exchange(port, upgradeRequest('/ws'));
  assert.ok(closed);
  assert.match(text, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
  assert.ok(!/Transfer-Encoding|Content-Length|Connection: close/i.test(text.slice(0, text.indexOf('\r\n\r\n'))), text);
  assert.ok(text.endsWith('\r\n\r\nafter the switch'), text);
});
