// The PROXY protocol (v1 text, v2 binary), which layer-4 load balancers put before the TLS bytes to say
// whose connection they pass on. Required on a listener for the source ranges the operator names
// (GATEWAY_PROXY_PROTOCOL_SOURCES, optionally only on GATEWAY_PROXY_PROTOCOL_PORTS): a connection from
// those ranges without a valid header within the time allowed is closed; a connection from anywhere else is
// plain TLS, so a header it sends is a failed handshake — no one else can claim an address this way.
// The parsing of v2 is proxy-protocol-js's; the framing (how many bytes are the header) and every check on
// the addresses are ours.
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import type { Server } from 'node:tls';
import ipaddr from 'ipaddr.js';
import { V2ProxyProtocol, IPv4ProxyAddress, IPv6ProxyAddress, Command } from 'proxy-protocol-js';
import { NetworkSet, normaliseIp } from '@microseg/config';

const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
/** A v1 line is at most 107 bytes with its CRLF (the protocol's own bound). */
export const V1_MAX = 107;
/** v2: 16 bytes, then addresses and TLVs; we take at most this much (AWS and GCP send well under 100). */
export const V2_MAX = 16 + 1024;

export class ProxyProtocolError extends Error {}

/** The client's address (undefined: LOCAL/UNKNOWN — a health check of the balancer: the peer stands) and the header's length. */
export interface ProxyHeader {
  source: string | undefined;
  length: number;
}

/** The header at the start of `data`: 'incomplete' while more bytes are needed; throws when it is not a valid one. */
export function parseProxyHeader(data: Buffer): ProxyHeader | 'incomplete' {
  if (data.length === 0) return 'incomplete';
  if (data[0] === 0x0d) return parseV2(data);
  if (data[0] === 0x50) return parseV1(data);
  throw new ProxyProtocolError('no PROXY protocol header');
}

function parseV1(data: Buffer): ProxyHeader | 'incomplete' {
  const prefix = 'PROXY ';
  const seen = data.subarray(0, Math.min(data.length, prefix.length)).toString('latin1');
  if (!prefix.startsWith(seen)) throw new ProxyProtocolError('no PROXY protocol header');
  const end = data.indexOf('\r\n');
  if (end < 0) {
    if (data.length >= V1_MAX) throw new ProxyProtocolError('PROXY v1 line longer than 107 bytes');
    return 'incomplete';
  }
  if (end + 2 > V1_MAX) throw new ProxyProtocolError('PROXY v1 line longer than 107 bytes');
  const line = data.subarray(0, end).toString('latin1');
  const length = end + 2;
  if (line === 'PROXY UNKNOWN' || line.startsWith('PROXY UNKNOWN ')) return { source: undefined, length };
  const m = /^PROXY (TCP4|TCP6) (\S+) (\S+) (\d{1,5}) (\d{1,5})$/.exec(line);
  if (!m) throw new ProxyProtocolError('malformed PROXY v1 line');
  const [, family, src, dst, sport, dport] = m;
  const want = family === 'TCP4' ? 'ipv4' : 'ipv6';
  for (const text of [src!, dst!]) {
    // Written exactly as the family says: no IPv4-mapped IPv6 for TCP4, no IPv4 for TCP6.
    if (!ipaddr.isValid(text) || ipaddr.parse(text).kind() !== want) throw new ProxyProtocolError(`PROXY v1 address ${JSON.stringify(text)} is not ${family}`);
  }
  for (const port of [sport!, dport!])
    if (Number(port) > 65535 || (port.length > 1 && port.startsWith('0'))) throw new ProxyProtocolError('PROXY v1 port out of range');
  return { source: normaliseIp(src!), length };
}

function parseV2(data: Buffer): ProxyHeader | 'incomplete' {
  const seen = Math.min(data.length, V2_SIGNATURE.length);
  if (!data.subarray(0, seen).equals(V2_SIGNATURE.subarray(0, seen))) throw new ProxyProtocolError('no PROXY protocol header');
  if (data.length < 16) return 'incomplete';
  const length = 16 + data.readUInt16BE(14);
  if (length > V2_MAX) throw new ProxyProtocolError(`PROXY v2 header longer than ${V2_MAX} bytes`);
  if (data.length < length) return 'incomplete';
  let header: V2ProxyProtocol;
  try {
    header = V2ProxyProtocol.parse(data.subarray(0, length));
  } catch (err) {
    throw new ProxyProtocolError(`malformed PROXY v2 header: ${(err as Error).message}`);
  }
  if (header.command === Command.LOCAL) return { source: undefined, length };
  const address = header.proxyAddress;
  if (address instanceof IPv4ProxyAddress) return { source: address.sourceAddress.address.join('.'), length };
  if (address instanceof IPv6ProxyAddress) return { source: normaliseIp(ipaddr.fromByteArray([...address.sourceAddress.address]).toString()), length };
  // UNSPEC or a Unix socket: no address to use; the peer stands, as for LOCAL.
  return { source: undefined, length };
}

/**
 * Reads the header from a new connection. Resolves with the client's address (undefined: the peer stands)
 * once the header is read, having put back the bytes that follow it; rejects (the caller closes the socket)
 * on a bad header, on a close, or when no full header came within `timeoutMs`.
 */
export function readProxyHeader(socket: Socket, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    let buffered: Buffer = Buffer.alloc(0);
    const finish = (err: Error | undefined, source?: string) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.off('error', onClose);
      if (err) reject(err);
      else resolve(source);
    };
    const onData = (chunk: Buffer) => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      let header: ProxyHeader | 'incomplete';
      try {
        header = parseProxyHeader(buffered);
      } catch (err) {
        return finish(err as Error);
      }
      if (header === 'incomplete') return;
      socket.pause();
      const rest = buffered.subarray(header.length);
      if (rest.length > 0) socket.unshift(rest);
      finish(undefined, header.source);
    };
    const onClose = () => finish(new ProxyProtocolError('connection closed before its PROXY header'));
    const timer = setTimeout(() => finish(new ProxyProtocolError(`no PROXY header within ${timeoutMs} ms`)), timeoutMs);
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.once('error', onClose);
  });
}

/**
 * The addresses the PROXY protocol gave, per open connection. Keyed by the connection's peer address and
 * port, which the TLS socket wrapping it reports alike; an entry lives as long as its connection.
 */
export class ProxiedPeers {
  readonly #sources = new Map<string, string>();

  static key(socket: { remoteAddress?: string | undefined; remotePort?: number | undefined }): string {
    return `${socket.remoteAddress ?? ''}|${socket.remotePort ?? ''}`;
  }

  remember(socket: Socket, source: string): void {
    const key = ProxiedPeers.key(socket);
    this.#sources.set(key, source);
    socket.once('close', () => this.#sources.delete(key));
  }

  /** The address the connection's PROXY header gave, else the TCP peer. */
  peerOf(socket: { remoteAddress?: string | undefined; remotePort?: number | undefined }): string {
    if (this.#sources.size > 0) {
      const source = this.#sources.get(ProxiedPeers.key(socket));
      if (source !== undefined) return source;
    }
    return socket.remoteAddress ?? '';
  }

  get size(): number {
    return this.#sources.size;
  }
}

export interface ProxyProtocolSettings {
  /** Peers that must send the header (GATEWAY_PROXY_PROTOCOL_SOURCES); empty: the protocol is off. */
  sources: readonly string[];
  /** The exposed ports it is required on (GATEWAY_PROXY_PROTOCOL_PORTS); empty: every one. */
  ports: readonly number[];
  /** How long a peer in `sources` has to send the whole header (GATEWAY_PROXY_PROTOCOL_TIMEOUT_MS). */
  timeoutMs: number;
}

/** Decides which listeners take the PROXY protocol, and puts a plain TCP server in front of those. */
export class ProxyProtocol {
  readonly peers = new ProxiedPeers();
  readonly #sources: NetworkSet;
  readonly #ports: ReadonlySet<number>;
  readonly #timeoutMs: number;
  readonly #onRefused: (peer: string, reason: string) => void;

  constructor(settings: ProxyProtocolSettings, onRefused: (peer: string, reason: string) => void = () => {}) {
    this.#sources = new NetworkSet(settings.sources);
    this.#ports = new Set(settings.ports);
    this.#timeoutMs = settings.timeoutMs;
    this.#onRefused = onRefused;
  }

  appliesTo(port: number): boolean {
    return !this.#sources.empty && (this.#ports.size === 0 || this.#ports.has(port));
  }

  /**
   * A TCP server that hands each connection to `tls` (which does not listen itself): from a source in the
   * list once its PROXY header is read, from anywhere else as it is.
   */
  front(tls: Server): NetServer {
    return createNetServer((socket) => {
      if (!this.#sources.has(socket.remoteAddress ?? '')) {
        tls.emit('connection', socket);
        return;
      }
      readProxyHeader(socket, this.#timeoutMs).then(
        (source) => {
          if (socket.destroyed) return;
          if (source !== undefined) this.peers.remember(socket, source);
          tls.emit('connection', socket);
        },
        (err: Error) => {
          this.#onRefused(socket.remoteAddress ?? '', err.message);
          socket.destroy();
        },
      );
    });
  }
}
