// The demo application's WebSocket: `/ws` says who the proxy says the user is, then echoes every message back
// (text as text, binary as binary). It trusts the user header as the application behind microseg may.
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';

export const WEBSOCKET_PATH = '/ws';

/** The first message on every socket. */
export type WebSocketHello = { type: 'hello'; user: string | null };

/** Serve `/ws` on `server`; every other upgrade is refused with 404. Returns what closes the open sockets. */
export function serveWebSocketEcho(server: Server, userHeader: string): { closeAll(): void } {
  // No compression: what the proxy carries is what the test sent.
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 1024 * 1024 });
  wss.on('connection', (socket, request: IncomingMessage) => {
    const value = request.headers[userHeader];
    const hello: WebSocketHello = { type: 'hello', user: (Array.isArray(value) ? value.join(', ') : value) ?? null };
    socket.send(JSON.stringify(hello));
    socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
  });
  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const pathname = new URL(request.url ?? '/', 'http://app.invalid').pathname;
    if (pathname !== WEBSOCKET_PATH) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => wss.emit('connection', ws, request));
  });
  return {
    closeAll: () => {
      for (const client of wss.clients) client.terminate();
    },
  };
}
