// The tunnel between two pairs of real TCP sockets: the test holds the client's far end and the application's.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { Tunnel } from './tunnel.ts';

const servers: Server[] = [];
after(() => {
  for (const s of servers) s.close();
});

/** Two connected sockets: [the end the test holds, the end the tunnel gets]. */
async function pair(): Promise<[Socket, Socket]> {
  const server = createServer();
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const far = connect((server.address() as AddressInfo).port, '127.0.0.1');
  await once(far, 'connect');
  const [near] = await accepted;
  return [far, near];
}

/** Everything a socket receives until it closes; `atLeast(n)` resolves once n bytes came. */
function collect(socket: Socket): { bytes: () => Buffer; atLeast: (n: number) => Promise<void>; closed: Promise<void> } {
  const chunks: Buffer[] = [];
  const waiting: Array<{ n: number; resolve: () => void }> = [];
  const length = () => chunks.reduce((sum, c) => sum + c.length, 0);
  socket.on('data', (d: Buffer) => {
    chunks.push(d);
    for (const w of waiting.filter((w) => length() >= w.n)) {
      waiting.splice(waiting.indexOf(w), 1);
      w.resolve();
    }
  });
  socket.on('error', () => undefined);
  return {
    bytes: () => Buffer.concat(chunks),
    atLeast: (n) => (length() >= n ? Promise.resolve() : new Promise((resolve) => waiting.push({ n, resolve }))),
    closed: once(socket, 'close').then(() => undefined),
  };
}

/** An unmasked text frame (what an application sends), or a masked one (what a browser sends). */
function textFrame(text: string, masked = false): Buffer {
  const payload = Buffer.from(text);
  if (!masked) return Buffer.concat([Buffer.from([0x81, payload.length]), payload]);
  const key = Buffer.from([9, 8, 7, 6]);
  return Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), key, Buffer.from(payload.map((b, i) => b ^ key[i % 4]!))]);
}

/** Close code and reason of the last Close frame in `bytes` (frames read in order, unmasked when needed). */
function closeOf(bytes: Buffer): { code: number; reason: string; masked: boolean } | undefined {
  let found: { code: number; reason: string; masked: boolean } | undefined;
  for (let at = 0; at + 2 <= bytes.length;) {
    const masked = (bytes[at + 1]! & 0x80) !== 0;
    const length = bytes[at + 1]! & 0x7f; // short frames only in these tests
    const start = at + (masked ? 6 : 2);
    let payload = bytes.subarray(start, start + length);
    if (masked) {
      const key = bytes.subarray(at + 2, at + 6);
      payload = Buffer.from(payload.map((b, i) => b ^ key[i % 4]!));
    }
    if ((bytes[at]! & 0x0f) === 0x8) found = { code: payload.readUInt16BE(0), reason: payload.subarray(2).toString(), masked };
    at = start + length;
  }
  return found;
}

test('bytes pass both ways, the application’s first bytes first; when one side ends the other does, and the tunnel says who closed', async () => {
  const [browser, clientEnd] = await pair();
  const [application, upstreamEnd] = await pair();
  const atBrowser = collect(browser);
  const atApplication = collect(application);
  const tunnel = new Tunnel(clientEnd, upstreamEnd, textFrame('hello'));
  browser.write(textFrame('ping', true));
  await atApplication.atLeast(textFrame('ping', true).length);
  application.write(textFrame('pong'));
  await atBrowser.atLeast(textFrame('hello').length + textFrame('pong').length);
  assert.deepEqual(atBrowser.bytes(), Buffer.concat([textFrame('hello'), textFrame('pong')]));
  assert.deepEqual(atApplication.bytes(), textFrame('ping', true));
  application.end();
  await Promise.all([atBrowser.closed, atApplication.closed]);
  const end = await tunnel.ended;
  assert.deepEqual(end, { reason: undefined, bytesIn: textFrame('ping', true).length, bytesOut: textFrame('hello').length + textFrame('pong').length });
});

test('closed by the gateway between frames: each side gets a Close frame with the reason (masked towards the application), then the end; nothing passes after', async () => {
  const [browser, clientEnd] = await pair();
  const [application, upstreamEnd] = await pair();
  const atBrowser = collect(browser);
  const atApplication = collect(application);
  const tunnel = new Tunnel(clientEnd, upstreamEnd, Buffer.alloc(0));
  browser.write(textFrame('before', true));
  await atApplication.atLeast(textFrame('before', true).length);
  tunnel.close('session-ended');
  browser.write(textFrame('after', true));
  // Each side was sent the end of the stream: it closes its own.
  browser.end();
  application.end();
  await Promise.all([atBrowser.closed, atApplication.closed]);
  assert.deepEqual(closeOf(atBrowser.bytes()), { code: 1008, reason: 'The session ended.', masked: false });
  assert.deepEqual(closeOf(atApplication.bytes()), { code: 1008, reason: 'The session ended.', masked: true });
  assert.ok(!atApplication.bytes().includes('after'), 'nothing passes once closing');
  assert.equal((await tunnel.ended).reason, 'session-ended');
});

test('closed in the middle of a frame: that side is cut without a Close frame (a frame inside a frame would corrupt it)', async () => {
  const [browser, clientEnd] = await pair();
  const [application, upstreamEnd] = await pair();
  const atBrowser = collect(browser);
  const atApplication = collect(application);
  const tunnel = new Tunnel(clientEnd, upstreamEnd, Buffer.alloc(0));
  // Half a frame towards the browser: 100 bytes announced, 10 sent.
  application.write(Buffer.concat([Buffer.from([0x82, 100]), Buffer.alloc(10, 1)]));
  await atBrowser.atLeast(12);
  tunnel.close('access-denied');
  application.end();
  await Promise.all([atBrowser.closed, atApplication.closed]);
  assert.equal(atBrowser.bytes().length, 12, 'the half frame, then nothing');
  assert.deepEqual(closeOf(atApplication.bytes()), { code: 1008, reason: 'Access is no longer allowed.', masked: true });
  assert.equal((await tunnel.ended).reason, 'access-denied');
});

test('one side gone without a word (a reset): the other is cut at once', async () => {
  const [browser, clientEnd] = await pair();
  const [application, upstreamEnd] = await pair();
  const atApplication = collect(application);
  const tunnel = new Tunnel(clientEnd, upstreamEnd, Buffer.alloc(0));
  browser.resetAndDestroy();
  await atApplication.closed;
  assert.equal((await tunnel.ended).reason, undefined);
});
