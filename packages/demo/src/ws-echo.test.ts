// The demo application's WebSocket echo, with Node's own WebSocket client.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startDemoApp, type DemoApp } from './app.ts';
import type { WebSocketHello } from './ws-echo.ts';

/** The next `count` messages of a socket, as they arrive. */
function messages(socket: WebSocket, count: number): Promise<Array<string | ArrayBuffer>> {
  return new Promise((resolve, reject) => {
    const got: Array<string | ArrayBuffer> = [];
    socket.addEventListener('message', (event) => {
      got.push(event.data as string | ArrayBuffer);
      if (got.length === count) resolve(got);
    });
    socket.addEventListener('error', () => reject(new Error('the socket failed')));
  });
}

describe('demo app: /ws', () => {
  let app: DemoApp;

  before(async () => {
    app = await startDemoApp({ port: 0 });
  });

  after(async () => {
    await app.close();
  });

  it('says who the user header names, then echoes text and binary messages', async () => {
    const url = `${app.url.replace('http:', 'ws:')}/ws`;
    // Node's WebSocket (undici) takes headers as an extension of the standard.
    const socket = new WebSocket(url, { headers: { 'x-user-email': 'alice@example.com' } } as unknown as string[]);
    socket.binaryType = 'arraybuffer';
    const received = messages(socket, 3);
    await new Promise((resolve) => socket.addEventListener('open', resolve));
    socket.send('hello there');
    socket.send(new Uint8Array([1, 2, 3]));
    const [hello, text, binary] = await received;
    assert.deepEqual(JSON.parse(hello as string) as WebSocketHello, { type: 'hello', user: 'alice@example.com' });
    assert.equal(text, 'hello there');
    assert.deepEqual([...new Uint8Array(binary as ArrayBuffer)], [1, 2, 3]);
    socket.close();
  });

  it("lets the application's own pages connect to it (CSP connect-src 'self')", async () => {
    const page = await fetch(`${app.url}/`);
    assert.match(page.headers.get('content-security-policy') ?? '', /(^|; )connect-src 'self'(;|$)/);
  });

  it('says null without the header', async () => {
    const socket = new WebSocket(`${app.url.replace('http:', 'ws:')}/ws`);
    const [hello] = await messages(socket, 1);
    assert.deepEqual(JSON.parse(hello as string), { type: 'hello', user: null });
    socket.close();
  });

  it('refuses an upgrade on any other path with 404', async () => {
    const { port } = new URL(app.url);
    const answer = await new Promise<string>((resolve) => {
      const socket = connect(Number(port), '127.0.0.1', () =>
        socket.write(
          'GET /other HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
        ),
      );
      let text = '';
      socket.on('data', (d: Buffer) => (text += d.toString()));
      socket.on('close', () => resolve(text));
    });
    assert.match(answer, /^HTTP\/1\.1 404 /);
  });

  it('closes open sockets when the app closes', async () => {
    const other = await startDemoApp({ port: 0 });
    const socket = new WebSocket(`${other.url.replace('http:', 'ws:')}/ws`);
    await messages(socket, 1);
    const closed = new Promise((resolve) => socket.addEventListener('close', resolve));
    await other.close();
    await closed;
  });
});
