// The forwarder against real sockets: an upstream HTTP server (or a raw TCP one
// for answers Node's server would not send) and a front server that forwards
// every request with Forwarder.forward, as the gateway's pipeline does.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { once } from 'node:events';
import { randomBytes, createHash } from 'node:crypto';
import { CLIENT_CLOSED, Forwarder, type ForwardResult } from './forward.ts';

const forwarder = new Forwarder({ headersTimeoutMs: 10_000 });
/** For the timeout case only: a slow machine must not turn the other cases into timeouts. */
const impatient = new Forwarder({ headersTimeoutMs: 300 });
const servers: Array<Server | ReturnType<typeof createNetServer>> = [];
after(async () => {
  for (const s of servers) {
    (s as Server).closeAllConnections?.();
    s.close();
  }
  await forwarder.close();
  await impatient.close();
});

async function listen(server: Server | ReturnType<typeof createNetServer>): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  servers.push(server);
  return (server.address() as AddressInfo).port;
}

/** A front server forwarding to `origin`; each forward's result is pushed to `results`. */
async function front(origin: string, using = forwarder): Promise<{ port: number; results: ForwardResult[]; next: () => Promise<ForwardResult> }> {
  const results: ForwardResult[] = [];
  const waiting: Array<(r: ForwardResult) => void> = [];
  const server = createServer((req, res) => {
    void using.forward(req, res, origin, req.url!, { host: 'upstream.test', 'content-length': req.headers['content-length'] ?? '0' }).then((r) => {
      if (!r.ok) {
        res.writeHead(r.kind === 'timeout' ? 504 : 502);
        res.end(r.kind);
      }
      const w = waiting.shift();
      if (w) w(r);
      else results.push(r);
    });
  });
  const port = await listen(server);
  return { port, results, next: () => (results.length > 0 ? Promise.resolve(results.shift()!) : new Promise((resolve) => waiting.push(resolve))) };
}

function get(
  port: number,
  path: string,
  init: { method?: string; body?: Buffer } = {},
): Promise<{ status: number; body: Buffer; headers: IncomingMessage['headers'] }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, path, method: init.method ?? 'GET', agent: false, headers: init.body ? { 'content-length': String(init.body.length) } : {} },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks), headers: res.headers }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(init.body);
  });
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

test('a small response arrives whole, with its status and headers, hop-by-hop ones removed', async () => {
  const upstream = createServer((_req, res) => {
    res.writeHead(201, { 'content-type': 'text/plain', 'x-app': 'yes', 'keep-alive': 'timeout=5' });
    res.end('created');
  });
  const f = await front(`http://127.0.0.1:${await listen(upstream)}`);
  const res = await get(f.port, '/small');
  assert.equal(res.status, 201);
  assert.equal(res.body.toString(), 'created');
  assert.equal(res.headers['x-app'], 'yes');
  assert.deepEqual(await f.next(), { ok: true, status: 201 });
});

test('a large response is streamed intact (several chunks, backpressure) and an empty one too', async () => {
  const big = randomBytes(8 * 1024 * 1024);
  const upstream = createServer((req, res) => {
    if (req.url === '/empty') {
      res.writeHead(204);
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    // In pieces, so that the forwarder sees many chunks.
    let at = 0;
    const more = () => {
      while (at < big.length) {
        const piece = big.subarray(at, at + 64 * 1024);
        at += piece.length;
        if (!res.write(piece)) return void res.once('drain', more);
      }
      res.end();
    };
    more();
  });
  const f = await front(`http://127.0.0.1:${await listen(upstream)}`);
  const res = await get(f.port, '/big');
  assert.equal(res.status, 200);
  assert.equal(res.body.length, big.length);
  assert.equal(sha(res.body), sha(big));
  assert.deepEqual(await f.next(), { ok: true, status: 200 });
  const empty = await get(f.port, '/empty');
  assert.equal(empty.status, 204);
  assert.equal(empty.body.length, 0);
  assert.deepEqual(await f.next(), { ok: true, status: 204 });
});

test('a request body is streamed to the application intact', async () => {
  const body = randomBytes(3 * 1024 * 1024);
  const upstream = createServer((req, res) => {
    const h = createHash('sha256');
    let n = 0;
    req.on('data', (c: Buffer) => {
      h.update(c);
      n += c.length;
    });
    req.on('end', () => res.end(`${n} ${h.digest('hex')}`));
  });
  const f = await front(`http://127.0.0.1:${await listen(upstream)}`);
  const res = await get(f.port, '/upload', { method: 'POST', body });
  assert.equal(res.body.toString(), `${body.length} ${sha(body)}`);
  await f.next();
});

test('an application that is not listening: unreachable, nothing sent to the client yet', async () => {
  const closed = createNetServer();
  const port = await listen(closed);
  closed.close();
  await once(closed, 'close');
  const f = await front(`http://127.0.0.1:${port}`);
  const res = await get(f.port, '/');
  assert.equal(res.status, 502);
  assert.deepEqual(await f.next(), { ok: false, kind: 'unreachable' });
});

test('an application that does not answer in time: timeout', async () => {
  const silent = createServer(() => undefined);
  const f = await front(`http://127.0.0.1:${await listen(silent)}`, impatient);
  const res = await get(f.port, '/');
  assert.equal(res.status, 504);
  assert.deepEqual(await f.next(), { ok: false, kind: 'timeout' });
});

test('an application whose head Node cannot pass on: unreachable (a 502), not half a response', async () => {
  // A header value with a bare CR is refused by Node's writeHead.
  const raw = createNetServer((socket: Socket) => {
    socket.once('data', () => socket.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Bad: a\rb\r\n\r\nok'));
  });
  const f = await front(`http://127.0.0.1:${await listen(raw)}`);
  const res = await get(f.port, '/');
  assert.equal(res.status, 502);
  assert.deepEqual(await f.next(), { ok: false, kind: 'unreachable' });
});

test('an application that breaks off mid-body: the client sees the connection cut, not a complete body', async () => {
  const raw = createNetServer((socket: Socket) => {
    socket.once('data', () => {
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n');
      socket.write(Buffer.alloc(1000, 97), () => socket.destroy());
    });
  });
  const f = await front(`http://127.0.0.1:${await listen(raw)}`);
  await assert.rejects(get(f.port, '/'), /aborted|ECONNRESET|socket hang up/);
  assert.deepEqual(await f.next(), { ok: true, status: 200 });
});

test('a client that goes away mid-response: the application request is aborted', async () => {
  let upstreamClosed!: () => void;
  const closedUpstream = new Promise<void>((resolve) => (upstreamClosed = resolve));
  const upstream = createServer((_req, res: ServerResponse) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('first part');
    // Never ends: only the client's going away ends this request.
    res.on('close', () => upstreamClosed());
  });
  const f = await front(`http://127.0.0.1:${await listen(upstream)}`);
  let leftAt = 0;
  await new Promise<void>((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: f.port, path: '/stream', agent: false }, (res) => {
      res.once('data', () => {
        leftAt = performance.now();
        req.destroy();
        resolve();
      });
    });
    req.on('error', () => undefined);
    req.on('close', () => resolve());
    req.end();
    setTimeout(() => reject(new Error('no first chunk')), 5_000).unref();
  });
  await closedUpstream;
  // Well before the forwarder's body timeout (10 s), which would also end it.
  assert.ok(performance.now() - leftAt < 5_000, 'the application request ended only by a timeout');
  assert.deepEqual(await f.next(), { ok: true, status: 200 });
});

test('a client that goes away before the application answers: the application request is aborted, recorded as 499', async () => {
  let arrived!: () => void;
  const arrivedUpstream = new Promise<void>((resolve) => (arrived = resolve));
  let upstreamClosed!: () => void;
  const closedUpstream = new Promise<void>((resolve) => (upstreamClosed = resolve));
  const upstream = createServer((req) => {
    arrived();
    // Never answers: only the client's going away ends this request.
    req.socket.on('close', () => upstreamClosed());
  });
  const f = await front(`http://127.0.0.1:${await listen(upstream)}`);
  const req = httpRequest({ host: '127.0.0.1', port: f.port, path: '/slow', agent: false });
  req.on('error', () => undefined);
  req.end();
  await arrivedUpstream;
  const leftAt = performance.now();
  req.destroy();
  await closedUpstream;
  assert.ok(performance.now() - leftAt < 5_000, 'the application request ended only by a timeout');
  assert.deepEqual(await f.next(), { ok: true, status: CLIENT_CLOSED });
});
