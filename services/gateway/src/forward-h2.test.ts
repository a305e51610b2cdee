// Forwarding to applications that speak HTTP/2 (h2c, h2 over TLS) and to TLS applications with their own CA,
// against real sockets: a front server (the gateway's exposed server) forwards every request with
// Forwarder.forward, as the pipeline does, to the application a test chose.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createHash } from 'node:crypto';
import {
  connect as http2Connect,
  constants,
  createSecureServer as createH2SecureServer,
  createServer as createH2cServer,
  type Http2Server,
  type Http2SecureServer,
  type IncomingHttpHeaders,
  type ServerHttp2Stream,
} from 'node:http2';
import { createServer as createHttpsServer, request as httpsRequest, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { selfSignedEc, serverCertificate, testCa } from '@microseg/testkit';
import { createExposedServer } from './exposed-server.ts';
import { Forwarder, type ForwardResult, type UpstreamOptions } from './forward.ts';

const ca = await testCa('test application CA');
const otherCa = await testCa('another CA', { usages: false });
// For the host the client asked for (app.example.com), as undici checks it for HTTP/1.1 too.
const leaf = await serverCertificate(ca, ['app.example.com']);
const frontCert = await selfSignedEc('localhost');

const forwarder = new Forwarder({ headersTimeoutMs: 10_000 });
const impatient = new Forwarder({ headersTimeoutMs: 300 });
const closers: Array<() => void> = [];
after(async () => {
  for (const close of closers.reverse()) close();
  await forwarder.close();
  await impatient.close();
});

interface Seen {
  headers: IncomingHttpHeaders;
  body: string;
}

/** An HTTP/2 application: echoes what it received as JSON; `/grpc` answers with trailers, `/never` never answers. */
function h2App(server: Http2Server | Http2SecureServer, seen: Seen[], sessions: { count: number }): void {
  server.on('session', () => sessions.count++);
  server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      const body = Buffer.concat(chunks);
      seen.push({ headers, body: body.toString() });
      if (headers[':path'] === '/never') return;
      if (headers[':path'] === '/grpc') {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0', 'grpc-message': 'fine' }));
        stream.end(body);
        return;
      }
      stream.respond({ ':status': 201, 'content-type': 'application/json', 'x-app': 'h2', 'set-cookie': '__Host-microseg=forged; Path=/; Secure' });
      stream.end(JSON.stringify({ path: headers[':path'], sha: createHash('sha256').update(body).digest('hex') }));
    });
  });
}

async function listen(server: Http2Server | Http2SecureServer | HttpsServer): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  closers.push(() => server.close());
  return (server.address() as AddressInfo).port;
}

/** The front: every request forwarded to `origin` with `upstream`; results kept. */
async function front(origin: string, upstream: UpstreamOptions, using = forwarder): Promise<{ port: number; results: ForwardResult[] }> {
  const results: ForwardResult[] = [];
  const exposed = createExposedServer({ cert: frontCert.cert, key: frontCert.private }, (req, res) => {
    void using.forward(req, res, origin, req.url ?? '/', { host: 'app.example.com', 'x-request-id': 'r1' }, upstream).then((r) => {
      results.push(r);
      if (!r.ok) {
        res.writeHead(r.kind === 'timeout' ? 504 : 502);
        res.end(r.kind);
      }
    });
  });
  closers.push(() => exposed.destroyConnections());
  return { port: await listen(exposed.server), results };
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  trailers: IncomingHttpHeaders | undefined;
}

async function h2Request(port: number, path: string, init: { method?: string; body?: Buffer; headers?: Record<string, string> } = {}): Promise<Answer> {
  const session = http2Connect(`https://localhost:${port}`, { rejectUnauthorized: false });
  try {
    const stream = session.request({ ':path': path, ':method': init.method ?? 'GET', ...init.headers }, { endStream: !init.body });
    if (init.body) stream.end(init.body);
    let trailers: IncomingHttpHeaders | undefined;
    stream.on('trailers', (t: IncomingHttpHeaders) => (trailers = t));
    const [headers] = (await once(stream, 'response')) as [IncomingHttpHeaders];
    let body = '';
    stream.on('data', (c: Buffer) => (body += c.toString()));
    await once(stream, 'end');
    return { status: Number(headers[':status']), headers, body, trailers };
  } finally {
    session.close();
  }
}

function h1Request(port: number, path: string, body?: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port,
        path,
        method: body ? 'POST' : 'GET',
        rejectUnauthorized: false,
        agent: false,
        headers: body ? { 'content-length': String(body.length) } : {},
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

test('h2c: an HTTP/2 client reaches an h2c application — status, headers, body, :authority from Host; no pseudo-header as a header; one session for many requests', async () => {
  const seen: Seen[] = [];
  const sessions = { count: 0 };
  const app = createH2cServer();
  h2App(app, seen, sessions);
  const f = await front(`http://127.0.0.1:${await listen(app)}`, { http2: true });
  const a = await h2Request(f.port, '/docs?q=1');
  const b = await h2Request(f.port, '/other');
  assert.equal(a.status, 201);
  assert.equal(a.headers['x-app'], 'h2');
  assert.equal(a.headers['set-cookie'], undefined, "the application cannot set microseg's cookie");
  assert.equal(JSON.parse(a.body).path, '/docs?q=1');
  assert.equal(b.status, 201);
  assert.equal(seen[0]!.headers[':authority'], 'app.example.com');
  assert.equal(seen[0]!.headers[':scheme'], 'http');
  assert.equal(seen[0]!.headers.host, undefined);
  assert.equal(seen[0]!.headers['x-request-id'], 'r1');
  assert.equal(sessions.count, 1, 'one session to the application for both requests');
  assert.deepEqual(f.results, [
    { ok: true, status: 201 },
    { ok: true, status: 201 },
  ]);
});

test('h2c (gRPC-like): trailers reach the HTTP/2 client, `te: trailers` reaches the application, a streamed body arrives whole', async () => {
  const seen: Seen[] = [];
  const app = createH2cServer();
  h2App(app, seen, { count: 0 });
  const f = await front(`http://127.0.0.1:${await listen(app)}`, { http2: true });
  const message = Buffer.alloc(100_000, 7);
  const res = await h2Request(f.port, '/grpc', { method: 'POST', body: message, headers: { 'content-type': 'application/grpc', te: 'trailers' } });
  assert.equal(res.status, 200);
  assert.equal(res.headers['content-type'], 'application/grpc');
  assert.equal(res.body.length, message.length);
  assert.deepEqual({ status: res.trailers?.['grpc-status'], message: res.trailers?.['grpc-message'] }, { status: '0', message: 'fine' });
  assert.equal(seen[0]!.headers.te, 'trailers');
  assert.equal(seen[0]!.body.length, message.length);
});

test('h2c: an HTTP/1.1 client reaches it too, its body forwarded', async () => {
  const seen: Seen[] = [];
  const app = createH2cServer();
  h2App(app, seen, { count: 0 });
  const f = await front(`http://127.0.0.1:${await listen(app)}`, { http2: true });
  const body = Buffer.from('hello over HTTP/1.1');
  const res = await h1Request(f.port, '/upload', body);
  assert.equal(res.status, 201);
  assert.equal(JSON.parse(res.body).sha, createHash('sha256').update(body).digest('hex'));
  assert.equal(seen[0]!.headers[':method'], 'POST');
});

test('h2 over TLS: the application certificate is verified against the service CA; the system CAs or another CA do not trust it (502)', async () => {
  const app = createH2SecureServer({ cert: leaf.cert, key: leaf.private });
  h2App(app, [], { count: 0 });
  const origin = `https://127.0.0.1:${await listen(app)}`;
  assert.equal((await h2Request((await front(origin, { http2: true, ca: ca.cert })).port, '/tls')).status, 201);
  for (const upstream of [{ http2: true }, { http2: true, ca: otherCa.cert }]) {
    const f = await front(origin, upstream);
    assert.equal((await h2Request(f.port, '/tls')).status, 502);
    assert.deepEqual(f.results, [{ ok: false, kind: 'unreachable' }]);
  }
});

test('HTTP/1.1 over TLS with the service CA: trusted; with another CA: 502', async () => {
  const app = createHttpsServer({ cert: leaf.cert, key: leaf.private }, (_req, res) => res.end('tls app'));
  const origin = `https://127.0.0.1:${await listen(app)}`;
  assert.deepEqual(await h1Request((await front(origin, { ca: ca.cert })).port, '/'), { status: 200, body: 'tls app' });
  assert.equal((await h1Request((await front(origin, { ca: otherCa.cert })).port, '/')).status, 502);
});

test('HTTP/2 application down: 502; too slow: 504; the client gone first: 499, the application stream cancelled', async () => {
  const closed = createH2cServer();
  const closedPort = await listen(closed);
  closed.close();
  const down = await front(`http://127.0.0.1:${closedPort}`, { http2: true });
  assert.equal((await h2Request(down.port, '/')).status, 502);
  assert.deepEqual(down.results, [{ ok: false, kind: 'unreachable' }]);

  const seen: Seen[] = [];
  const app = createH2cServer();
  h2App(app, seen, { count: 0 });
  let cancelled = 0;
  app.on('stream', (s: ServerHttp2Stream) => s.on('close', () => s.rstCode === constants.NGHTTP2_CANCEL && cancelled++));
  const origin = `http://127.0.0.1:${await listen(app)}`;
  const slow = await front(origin, { http2: true }, impatient);
  assert.equal((await h2Request(slow.port, '/never')).status, 504);
  assert.deepEqual(slow.results, [{ ok: false, kind: 'timeout' }]);

  const gone = await front(origin, { http2: true });
  const session = http2Connect(`https://localhost:${gone.port}`, { rejectUnauthorized: false });
  const stream = session.request({ ':path': '/never' });
  while (!seen.some((s) => s.headers[':path'] === '/never' && s !== seen[0])) await new Promise((r) => setTimeout(r, 10));
  stream.close(constants.NGHTTP2_CANCEL);
  while (gone.results.length === 0) await new Promise((r) => setTimeout(r, 10));
  session.close();
  assert.deepEqual(gone.results, [{ ok: true, status: 499 }]);
  while (cancelled < 2) await new Promise((r) => setTimeout(r, 10));
});

test('HTTP/1.1 over TLS stays HTTP/1.1 when the application also offers h2 by ALPN', async () => {
  const app = createH2SecureServer({ cert: leaf.cert, key: leaf.private, allowHTTP1: true }, (req, res) => res.end(req.httpVersion));
  const origin = `https://127.0.0.1:${await listen(app)}`;
  assert.deepEqual(await h1Request((await front(origin, { ca: ca.cert })).port, '/'), { status: 200, body: '1.1' });
  assert.equal((await h2Request((await front(origin, { http2: true, ca: ca.cert })).port, '/')).body, '2.0');
});
