// The exposed server against real sockets: both protocols reach one handler; HTTP/1.1 keeps its limits; the
// HTTP/2 limits hold (rapid reset, idle sessions, requests that never end, header lists), with small limits so
// that the cases run in moments.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect as http2Connect } from 'node:http2';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { generate } from 'selfsigned';
import { h2 } from '@microseg/testkit';
import { createExposedServer, HTTP1_LIMITS, HTTP2_LIMITS, type GatewayRequestHandler, type Http2Limits } from './exposed-server.ts';

const pems = await generate([{ name: 'commonName', value: 'localhost' }], { keyType: 'ec', curve: 'P-256' });
const servers: Array<ReturnType<typeof createExposedServer>> = [];
after(() => {
  for (const s of servers) {
    s.destroyConnections();
    s.server.close();
  }
});

async function start(
  handler: GatewayRequestHandler,
  limits: Partial<Http2Limits> = {},
): Promise<{ port: number; exposed: ReturnType<typeof createExposedServer> }> {
  const exposed = createExposedServer({ cert: pems.cert, key: pems.private, minVersion: 'TLSv1.2' }, handler, { ...HTTP2_LIMITS, ...limits });
  servers.push(exposed);
  exposed.server.listen(0, '127.0.0.1');
  await once(exposed.server, 'listening');
  return { port: (exposed.server.address() as AddressInfo).port, exposed };
}

const versionHandler: GatewayRequestHandler = (req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain' });
  res.end(req.httpVersion);
};

function h1Get(port: number, alpn?: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      { host: '127.0.0.1', port, path: '/', rejectUnauthorized: false, agent: false, ...(alpn ? { ALPNProtocols: alpn } : {}) },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve(body));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

async function h2Get(port: number): Promise<{ version: string; alpn: string | undefined }> {
  const session = http2Connect(`https://localhost:${port}`, { rejectUnauthorized: false });
  try {
    const stream = session.request({ ':path': '/' });
    let body = '';
    stream.on('data', (c: Buffer) => (body += c.toString()));
    await once(stream, 'end');
    return { version: body, alpn: session.alpnProtocol };
  } finally {
    session.close();
  }
}

test('one handler for both protocols: h2 by ALPN, http/1.1 by ALPN, and HTTP/1.1 for a client that names neither', async () => {
  const { port } = await start(versionHandler);
  assert.deepEqual(await h2Get(port), { version: '2.0', alpn: 'h2' });
  assert.equal(await h1Get(port, ['http/1.1']), '1.1');
  assert.equal(await h1Get(port), '1.1');
  // A client that offers only protocols the server does not speak is refused in the handshake.
  const socket = tlsConnect({ host: '127.0.0.1', port, ALPNProtocols: ['spdy/3'], rejectUnauthorized: false });
  const [err] = (await once(socket, 'error')) as [Error];
  assert.match(err.message, /no application protocol|alert number 120/i);
});

test('HTTP/1.1 keeps the limits it had before HTTP/2 was offered', async () => {
  const { exposed } = await start(versionHandler);
  const s = exposed.server as unknown as Record<string, unknown>;
  for (const [name, value] of Object.entries(HTTP1_LIMITS)) assert.equal(s[name], value, name);
});

test('rapid reset: a session whose client cancels more streams before their answer than allowed gets GOAWAY ENHANCE_YOUR_CALM', async () => {
  let handled = 0;
  // Never answers: every stream is cancelled before its answer.
  const { port } = await start(() => void handled++, { maxEarlyResets: 20 });
  const raw = await h2.RawH2.open(port);
  let id = 1;
  for (let i = 0; i < 500 && !raw.closed; i++, id += 2) {
    raw.write(h2.frame(h2.FRAME.HEADERS, h2.FLAG.END_HEADERS | h2.FLAG.END_STREAM, id, h2.request('localhost', '/x')), h2.rstStream(id, h2.ERROR.CANCEL));
    // Let the server read between bursts, as a network would.
    if (i % 10 === 9) await new Promise((r) => setTimeout(r, 1));
  }
  await raw.until((f) => f.type === h2.FRAME.GOAWAY, 5_000);
  assert.equal(raw.goaway()?.code, h2.ERROR.ENHANCE_YOUR_CALM);
  assert.ok(handled < 100, `${handled} requests reached the handler`);
  raw.close();
});

test('a browser that cancels a few streams keeps its session', async () => {
  const { port } = await start((req, res) => (req.url === '/slow' ? undefined : res.end('ok')), { maxEarlyResets: 20 });
  const raw = await h2.RawH2.open(port);
  for (let id = 1; id <= 19; id += 2)
    raw.write(h2.frame(h2.FRAME.HEADERS, h2.FLAG.END_HEADERS | h2.FLAG.END_STREAM, id, h2.request('localhost', '/slow')), h2.rstStream(id, h2.ERROR.CANCEL));
  raw.write(h2.frame(h2.FRAME.HEADERS, h2.FLAG.END_HEADERS | h2.FLAG.END_STREAM, 21, h2.request('localhost', '/')));
  await raw.until((f) => f.type === h2.FRAME.HEADERS && f.streamId === 21, 5_000);
  assert.equal(raw.goaway(), undefined);
  raw.close();
});

test('an idle session is closed, and so is one whose header block never ends (Slowloris); one with an open stream (a long poll) is kept', async () => {
  const { port } = await start((req, res) => (req.url === '/poll' ? undefined : res.end('ok')), { idleSessionMs: 200 });
  const idle = await h2.RawH2.open(port);
  const slow = await h2.RawH2.open(port);
  const polling = await h2.RawH2.open(port);
  polling.write(h2.frame(h2.FRAME.HEADERS, h2.FLAG.END_HEADERS | h2.FLAG.END_STREAM, 1, h2.request('localhost', '/poll')));
  slow.write(h2.frame(h2.FRAME.HEADERS, h2.FLAG.END_STREAM, 1, h2.request('localhost', '/slow').subarray(0, 20)));
  await idle.until((f) => f.type === h2.FRAME.GOAWAY, 3_000);
  assert.equal(idle.goaway()?.code, h2.ERROR.NO_ERROR);
  await slow.until(() => false, 3_000).catch(() => undefined);
  assert.equal(slow.closed, true, 'the half-sent header block does not hold the connection');
  // Three idle periods later the polling session is still there.
  await new Promise((r) => setTimeout(r, 600));
  assert.equal(polling.goaway(), undefined);
  assert.equal(polling.closed, false);
  idle.close();
  slow.close();
  polling.close();
});

test('a request whose body does not end in time is reset (CANCEL), as HTTP/1.1 answers 408', async () => {
  const { port } = await start((req, res) => req.on('end', () => res.end('ok')).resume(), { requestTimeoutMs: 300 });
  const raw = await h2.RawH2.open(port);
  // Headers without END_STREAM, then one byte of body, then nothing.
  raw.write(
    h2.frame(h2.FRAME.HEADERS, h2.FLAG.END_HEADERS, 1, h2.request('localhost', '/upload', [], 'POST')),
    h2.frame(h2.FRAME.DATA, 0, 1, Buffer.from('x')),
  );
  await raw.until((f) => f.type === h2.FRAME.RST_STREAM && f.streamId === 1, 3_000);
  assert.equal(raw.reset(1), h2.ERROR.CANCEL);
  // A body that ends in time is answered.
  raw.write(
    h2.frame(h2.FRAME.HEADERS, h2.FLAG.END_HEADERS, 3, h2.request('localhost', '/upload', [], 'POST')),
    h2.frame(h2.FRAME.DATA, h2.FLAG.END_STREAM, 3, Buffer.from('x')),
  );
  await raw.until((f) => f.type === h2.FRAME.HEADERS && f.streamId === 3, 3_000);
  raw.close();
});

test('a header list over the limit, in size or in fields, resets its stream (ENHANCE_YOUR_CALM); the session goes on', async () => {
  const { port } = await start((_req, res) => res.end('ok'));
  const raw = await h2.RawH2.open(port);
  const big = h2.request('localhost', '/', [['x-big', 'a'.repeat(HTTP2_LIMITS.maxHeaderListSize)]]);
  // Split into frames of the default maximum size.
  const parts: Buffer[] = [];
  for (let i = 0; i < big.length; i += 16_384) parts.push(big.subarray(i, i + 16_384));
  parts.forEach((p, i) =>
    raw.write(
      h2.frame(
        i === 0 ? h2.FRAME.HEADERS : h2.FRAME.CONTINUATION,
        (i === 0 ? h2.FLAG.END_STREAM : 0) | (i === parts.length - 1 ? h2.FLAG.END_HEADERS : 0),
        1,
        p,
      ),
    ),
  );
  const many = Array.from({ length: HTTP2_LIMITS.maxHeaderListPairs + 1 }, (_, i) => [`x-h${i}`, 'v'] as const);
  raw.write(h2.frame(h2.FRAME.HEADERS, h2.FLAG.END_HEADERS | h2.FLAG.END_STREAM, 3, h2.request('localhost', '/', many)));
  raw.write(h2.frame(h2.FRAME.HEADERS, h2.FLAG.END_HEADERS | h2.FLAG.END_STREAM, 5, h2.request('localhost', '/')));
  await raw.until((f) => f.type === h2.FRAME.HEADERS && f.streamId === 5, 3_000);
  assert.equal(raw.reset(1), h2.ERROR.ENHANCE_YOUR_CALM);
  assert.equal(raw.reset(3), h2.ERROR.ENHANCE_YOUR_CALM);
  assert.equal(raw.answered(1) || raw.answered(3), false);
  raw.close();
});

test('destroyConnections ends HTTP/1.1 connections and HTTP/2 sessions alike, with requests in flight', async () => {
  let inFlight = 0;
  let arrived: () => void = () => undefined;
  const { port, exposed } = await start(() => {
    // Never answered.
    if (++inFlight === 2) arrived();
  });
  const bothArrived = new Promise<void>((resolve) => (arrived = resolve));
  const raw = await h2.RawH2.open(port);
  raw.write(h2.frame(h2.FRAME.HEADERS, h2.FLAG.END_HEADERS | h2.FLAG.END_STREAM, 1, h2.request('localhost', '/')));
  const plain = tlsConnect({ host: '127.0.0.1', port, ALPNProtocols: ['http/1.1'], rejectUnauthorized: false });
  plain.on('error', () => undefined);
  await once(plain, 'secureConnect');
  plain.write('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n');
  await bothArrived;
  exposed.destroyConnections();
  await Promise.all([once(plain, 'close'), raw.until(() => false, 3_000).catch(() => undefined)]);
  assert.equal(raw.closed, true);
});
