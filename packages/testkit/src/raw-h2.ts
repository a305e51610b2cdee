// A raw HTTP/2 client for attack tests (`h2` in the kit): frames and header blocks built by hand, so that a test sends
// exactly what it means to (Node's http2 client refuses connection-specific headers, never sends a header
// block in pieces it did not choose, and resets streams only one way). HPACK here is the smallest subset:
// literal fields without indexing and without Huffman coding (RFC 7541 §6.2.2), which every decoder reads.
import { connect, type TLSSocket } from 'node:tls';

export const FRAME = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7, WINDOW_UPDATE: 8, CONTINUATION: 9 } as const;
export const FLAG = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4 } as const;
/** RFC 9113 §7. */
export const ERROR = { NO_ERROR: 0, PROTOCOL_ERROR: 1, INTERNAL_ERROR: 2, REFUSED_STREAM: 7, CANCEL: 8, ENHANCE_YOUR_CALM: 11 } as const;

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** An HPACK integer with an `n`-bit prefix (RFC 7541 §5.1); `first` holds the bits above the prefix. */
function hpackInteger(value: number, n: number, first = 0): Buffer {
  const max = (1 << n) - 1;
  if (value < max) return Buffer.from([first | value]);
  const bytes = [first | max];
  let rest = value - max;
  while (rest >= 128) {
    bytes.push((rest % 128) + 128);
    rest = Math.floor(rest / 128);
  }
  bytes.push(rest);
  return Buffer.from(bytes);
}

const hpackString = (s: string) => {
  const bytes = Buffer.from(s, 'latin1');
  return Buffer.concat([hpackInteger(bytes.length, 7), bytes]);
};

/** A header block: every field a literal without indexing, new name (RFC 7541 §6.2.2), in the order given. */
export function headerBlock(fields: ReadonlyArray<readonly [string, string]>): Buffer {
  return Buffer.concat(fields.flatMap(([name, value]) => [Buffer.from([0]), hpackString(name), hpackString(value)]));
}

export function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([head, payload]);
}

export const rstStream = (streamId: number, code: number) => {
  const payload = Buffer.alloc(4);
  payload.writeUInt32BE(code);
  return frame(FRAME.RST_STREAM, 0, streamId, payload);
};

/** A GET's pseudo-header fields for `authority`, then `extra`. */
export const request = (authority: string, path: string, extra: ReadonlyArray<readonly [string, string]> = [], method = 'GET') =>
  headerBlock([[':method', method], [':scheme', 'https'], [':authority', authority], [':path', path], ...extra]);

export interface Frame {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
}

/** A raw HTTP/2 connection over TLS (ALPN `h2`): writes frames, reads and keeps every frame the server sends. */
export class RawH2 {
  readonly frames: Frame[] = [];
  closed = false;
  readonly #socket: TLSSocket;
  #buffer = Buffer.alloc(0);
  readonly #waiters = new Set<() => void>();

  private constructor(socket: TLSSocket) {
    this.#socket = socket;
    socket.on('data', (d: Buffer) => this.#read(d));
    socket.on('close', () => {
      this.closed = true;
      this.#wake();
    });
    socket.on('error', () => undefined);
  }

  /** Connects, checks that the server chose `h2`, sends the preface and empty SETTINGS, and acknowledges the server's. */
  static async open(port: number, servername = 'localhost'): Promise<RawH2> {
    const socket = connect({ host: '127.0.0.1', port, servername, ALPNProtocols: ['h2'], rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', resolve);
      socket.once('error', reject);
    });
    if (socket.alpnProtocol !== 'h2') throw new Error(`the server chose ${String(socket.alpnProtocol)}, not h2`);
    const h2 = new RawH2(socket);
    h2.write(PREFACE, frame(FRAME.SETTINGS, 0, 0));
    await h2.until((f) => f.type === FRAME.SETTINGS && (f.flags & FLAG.ACK) === 0, 5_000);
    h2.write(frame(FRAME.SETTINGS, FLAG.ACK, 0));
    return h2;
  }

  /** Whether the socket took the bytes without queueing them in memory. */
  write(...chunks: Buffer[]): boolean {
    if (this.closed) return false;
    return this.#socket.write(Buffer.concat(chunks));
  }

  /** Resolves once a frame the server sent matches, or the connection closes; rejects after `timeoutMs`. */
  async until(match: (f: Frame) => boolean, timeoutMs: number): Promise<Frame | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.frames.find(match);
      if (found) return found;
      if (this.closed) return undefined;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching frame within ${timeoutMs} ms (${this.frames.length} frames read)`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, left);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.#waiters.add(done);
      });
    }
  }

  /** The GOAWAY the server sent, with its error code, if any. */
  goaway(): { lastStreamId: number; code: number } | undefined {
    const f = this.frames.find((x) => x.type === FRAME.GOAWAY);
    return f ? { lastStreamId: f.payload.readUInt32BE(0) & 0x7fffffff, code: f.payload.readUInt32BE(4) } : undefined;
  }

  /** The error code of the server's RST_STREAM for a stream, if any. */
  reset(streamId: number): number | undefined {
    const f = this.frames.find((x) => x.type === FRAME.RST_STREAM && x.streamId === streamId);
    return f?.payload.readUInt32BE(0);
  }

  /**
   * The `:status` of the server's answer on a stream, read from the first field of its header block: a
   * static-table entry (200, 204, 206, 304, 400, 404, 500) or a literal named by the static table (Huffman or
   * not). Undefined when not answered, or when the field refers to the dynamic table (ask on a new connection).
   */
  status(streamId: number): number | undefined {
    const f = this.frames.find((x) => x.type === FRAME.HEADERS && x.streamId === streamId);
    return f ? statusOf(f.payload) : undefined;
  }

  /** Whether the server answered a stream with a HEADERS frame. */
  answered(streamId: number): boolean {
    return this.frames.some((x) => x.type === FRAME.HEADERS && x.streamId === streamId);
  }

  close(): void {
    this.#socket.destroy();
  }

  #read(data: Buffer): void {
    this.#buffer = Buffer.concat([this.#buffer, data]);
    while (this.#buffer.length >= 9) {
      const length = this.#buffer.readUIntBE(0, 3);
      if (this.#buffer.length < 9 + length) break;
      const f: Frame = {
        type: this.#buffer[3]!,
        flags: this.#buffer[4]!,
        streamId: this.#buffer.readUInt32BE(5) & 0x7fffffff,
        payload: this.#buffer.subarray(9, 9 + length),
      };
      this.#buffer = this.#buffer.subarray(9 + length);
      this.frames.push(f);
      // Keep the connection's windows open and its pings answered, as a real client would.
      if (f.type === FRAME.PING && (f.flags & FLAG.ACK) === 0) this.write(frame(FRAME.PING, FLAG.ACK, 0, f.payload));
    }
    this.#wake();
  }

  #wake(): void {
    for (const w of this.#waiters) w();
    this.#waiters.clear();
  }
}

const STATIC_STATUS: Record<number, number> = { 8: 200, 9: 204, 10: 206, 11: 304, 12: 400, 13: 404, 14: 500 };
/** Huffman codes of the digits (RFC 7541 Appendix B), as bit strings. */
const HUFFMAN_DIGITS: Record<string, string> = {
  '00000': '0',
  '00001': '1',
  '00010': '2',
  '011001': '3',
  '011010': '4',
  '011011': '5',
  '011100': '6',
  '011101': '7',
  '011110': '8',
  '011111': '9',
};

/** `:status` from the first field of a response header block (no padding or priority: servers send neither here). */
function statusOf(block: Buffer): number | undefined {
  const first = block[0];
  if (first === undefined) return undefined;
  if (first & 0x80) return STATIC_STATUS[first & 0x7f];
  // A literal whose name is a static :status entry (with incremental indexing: 01xxxxxx; without: 0000xxxx).
  const nameIndex = first & 0x40 ? first & 0x3f : first & 0x0f;
  if (STATIC_STATUS[nameIndex] === undefined) return undefined;
  const length = block[1]! & 0x7f;
  const value = block.subarray(2, 2 + length);
  if (!(block[1]! & 0x80)) return Number(value.toString('latin1'));
  let bits = [...value].map((b) => b.toString(2).padStart(8, '0')).join('');
  let digits = '';
  while (digits.length < 3) {
    const code = [5, 6].map((n) => bits.slice(0, n)).find((c) => HUFFMAN_DIGITS[c] !== undefined);
    if (!code) return undefined;
    digits += HUFFMAN_DIGITS[code];
    bits = bits.slice(code.length);
  }
  return Number(digits);
}
