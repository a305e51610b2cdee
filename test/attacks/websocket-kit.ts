// Tools of the WebSocket attack suite: an application that records every byte it receives and every
// handshake it parses, speaks just enough WebSocket to echo a text frame, refuses upgrades whose path says
// so (426, keeping the connection open: the case where a proxy that tunnels anyway lets requests through),
// and serves a page from which another site's script opens a socket to a victim; and the client side in
// raw bytes (a handshake, a masked frame, the frames of an answer).
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Socket } from 'node:net';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export interface RecordedHandshake {
  url: string;
  rawHeaders: string[];
}

export class SocketApplication {
  readonly handshakes: RecordedHandshake[] = [];
  readonly #bytes: Buffer[] = [];
  readonly #server: Server;
  readonly #open = new Set<Socket>();
  port = 0;

  /** `attackPage(path)`: the HTML the application serves at a path (another site's page, for the browser case). */
  constructor(attackPage: (path: string) => string | undefined = () => undefined) {
    this.#server = createServer((req, res) => {
      const page = attackPage(req.url ?? '');
      res.writeHead(200, { 'content-type': page ? 'text/html; charset=utf-8' : 'text/plain' });
      res.end(page ?? 'a plain page');
    });
    this.#server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
      this.handshakes.push({ url: req.url ?? '', rawHeaders: [...req.rawHeaders] });
      this.#open.add(socket);
      socket.once('close', () => this.#open.delete(socket));
      socket.on('error', () => undefined);
      if (req.url?.includes('refuse')) {
        // Refused, and the connection kept open, as some servers do: whatever the proxy sends next would be read as a request.
        socket.write('HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\nContent-Length: 7\r\nConnection: keep-alive\r\n\r\nrefused');
        return;
      }
      const accept = createHash('sha1')
        .update(`${String(req.headers['sec-websocket-key'])}${GUID}`)
        .digest('base64');
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
      let pending = head;
      const echo = (chunk: Buffer) => {
        pending = Buffer.concat([pending, chunk]);
        for (let frame = readFrame(pending); frame; frame = readFrame(pending)) {
          pending = pending.subarray(frame.length);
          if (frame.opcode === 0x8) socket.end(serverFrame(0x8, frame.payload));
          else socket.write(serverFrame(frame.opcode, frame.payload));
        }
      };
      socket.on('data', echo);
      if (head.length > 0) echo(Buffer.alloc(0));
    });
    // Every byte, before any parsing.
    this.#server.on('connection', (socket: Socket) => socket.on('data', (d: Buffer) => this.#bytes.push(d)));
  }

  async start(port = 0): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(port, '127.0.0.1', resolve));
    this.port = (this.#server.address() as { port: number }).port;
  }

  async stop(): Promise<void> {
    for (const socket of this.#open) socket.destroy();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  sawBytes(text: string): boolean {
    return Buffer.concat(this.#bytes).toString('latin1').includes(text);
  }

  /** The handshakes whose target contains `text`. */
  withTarget(text: string): RecordedHandshake[] {
    return this.handshakes.filter((h) => h.url.includes(text));
  }
}

/** One complete frame at the start of `bytes` (unmasked payload), or undefined. Frames under 64 KiB only. */
export function readFrame(bytes: Buffer): { opcode: number; payload: Buffer; length: number } | undefined {
  if (bytes.length < 2) return undefined;
  const masked = (bytes[1]! & 0x80) !== 0;
  let length = bytes[1]! & 0x7f;
  let offset = 2;
  if (length === 126) {
    if (bytes.length < 4) return undefined;
    length = bytes.readUInt16BE(2);
    offset = 4;
  }
  const keyAt = offset;
  if (masked) offset += 4;
  if (bytes.length < offset + length) return undefined;
  let payload = bytes.subarray(offset, offset + length);
  if (masked) payload = Buffer.from(payload.map((b, i) => b ^ bytes[keyAt + (i % 4)]!));
  return { opcode: bytes[0]! & 0x0f, payload, length: offset + length };
}

export function serverFrame(opcode: number, payload: Buffer): Buffer {
  const head =
    payload.length < 126 ? Buffer.from([0x80 | opcode, payload.length]) : Buffer.from([0x80 | opcode, 126, payload.length >> 8, payload.length & 0xff]);
  return Buffer.concat([head, payload]);
}

/** A client's masked text frame. */
export function clientText(text: string): Buffer {
  const payload = Buffer.from(text);
  const key = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
  return Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), key, Buffer.from(payload.map((b, i) => b ^ key[i % 4]!))]);
}

/** The header lines of a WebSocket handshake, as a browser's (without Host, Origin or Cookie). */
export const HANDSHAKE = ['Upgrade: websocket', 'Connection: Upgrade', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version: 13'];
