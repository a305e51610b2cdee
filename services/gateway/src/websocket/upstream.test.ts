// The application's side of an upgrade against raw TCP applications that answer exactly what a case needs.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { freePort } from '@microseg/testkit';
import { openUpstream, type UpstreamTarget } from './upstream.ts';

const servers: Server[] = [];
const accepted: Socket[] = [];
after(() => {
  for (const s of accepted) s.destroy();
  for (const s of servers) s.close();
});

/** An application that reads the request head, records it, then does `answer` with the socket. */
async function application(answer: (socket: Socket) => void): Promise<{ port: number; heads: string[]; sockets: Socket[] }> {
  const heads: string[] = [];
  const sockets: Socket[] = [];
  const server = createServer((socket) => {
    sockets.push(socket);
    accepted.push(socket);
    let buffered = '';
    socket.on('error', () => undefined);
    socket.on('data', (d: Buffer) => {
      if (buffered.includes('\r\n\r\n')) return;
      buffered += d.toString('latin1');
      if (buffered.includes('\r\n\r\n')) {
        heads.push(buffered.slice(0, buffered.indexOf('\r\n\r\n')));
        answer(socket);
      }
    });
  });
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { port: (server.address() as AddressInfo).port, heads, sockets };
}

const target = (port: number, init: Partial<UpstreamTarget> = {}): UpstreamTarget => ({
  tls: false,
  host: '127.0.0.1',
  port,
  path: '/ws?x=1',
  headers: { host: 'app.example.com', 'x-user-email': 'alice@example.com', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13' },
  timeoutMs: 2_000,
  ...init,
});

const SWITCH = 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n';

test('a 101 to websocket opens: the request carried the decided path and headers with Upgrade, and the first frames are kept', async () => {
  const app = await application((socket) => socket.write(Buffer.from(`${SWITCH}\x81\x02hi`, 'latin1')));
  const answer = await openUpstream(target(app.port)).answer;
  assert.equal(answer.kind, 'upgraded');
  if (answer.kind !== 'upgraded') return;
  assert.equal(answer.response.headers['sec-websocket-accept'], 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  assert.equal(answer.head.toString('latin1'), '\x81\x02hi');
  const head = app.heads[0]!;
  assert.match(head, /^GET \/ws\?x=1 HTTP\/1\.1\r\n/);
  assert.match(head, /\r\nconnection: Upgrade\r\n/i);
  assert.match(head, /\r\nupgrade: websocket(\r\n|$)/i);
  assert.match(head, /\r\nx-user-email: alice@example.com\r\n/i);
  answer.socket.destroy();
});

test('the application refuses (426): its answer is relayed, and the connection closes after it (nothing more is ever sent to it)', async () => {
  const app = await application((socket) => socket.write('HTTP/1.1 426 Upgrade Required\r\nContent-Length: 4\r\nSec-WebSocket-Version: 13\r\n\r\nnope'));
  const answer = await openUpstream(target(app.port)).answer;
  assert.equal(answer.kind, 'response');
  if (answer.kind !== 'response') return;
  assert.equal(answer.response.statusCode, 426);
  let body = '';
  for await (const chunk of answer.response) body += String(chunk);
  assert.equal(body, 'nope');
  const socket = app.sockets[0]!;
  if (!socket.destroyed) await once(socket, 'close');
  assert.equal(app.heads.length, 1, 'one request only');
});

test('a 101 to another protocol, a refused connection, no answer in time: failed (unreachable, unreachable, timeout)', async () => {
  const h2c = await application((socket) => socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n'));
  assert.deepEqual(await openUpstream(target(h2c.port)).answer, { kind: 'failed', reason: 'unreachable' });
  assert.deepEqual(await openUpstream(target(await freePort())).answer, { kind: 'failed', reason: 'unreachable' });
  const silent = await application(() => undefined);
  const started = performance.now();
  assert.deepEqual(await openUpstream(target(silent.port, { timeoutMs: 200 })).answer, { kind: 'failed', reason: 'timeout' });
  assert.ok(performance.now() - started < 1_500);
});

test('abort (the client went away): the answer is "failed" and the connection to the application is cut', async () => {
  let headRead: (socket: Socket) => void = () => undefined;
  const reached = new Promise<Socket>((resolve) => (headRead = resolve));
  const app = await application((socket) => headRead(socket));
  const upgrade = openUpstream(target(app.port));
  const appSocket = await reached;
  upgrade.abort();
  assert.deepEqual(await upgrade.answer, { kind: 'failed', reason: 'unreachable' });
  await once(appSocket, 'close');
});
