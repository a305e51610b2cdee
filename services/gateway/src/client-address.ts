// The client's address (SPEC §4, §8): the TCP peer, unless the peer is a proxy the operator trusts
// (GATEWAY_TRUSTED_PROXIES). Then `X-Forwarded-For` is read from the right: each trusted hop is skipped and
// the first address that is not a trusted proxy is the client. What a client writes further left is never
// believed — anyone can send `X-Forwarded-For: 1.2.3.4`; only the hops our proxies appended are facts.
// That address is the one network policies, flows, events and login rate limits use.
import type { IncomingHttpHeaders } from 'node:http';
import { NetworkSet, normaliseIp } from '@microseg/config';

/** At most this many hops are read from the right; a longer chain is cut there (its left part is unknowable anyway). */
export const MAX_FORWARDED_HOPS = 16;

export interface ClientAddress {
  /** The client's address, in one written form (IPv4-mapped IPv6 as IPv4). */
  address: string;
  /** What the application gets in `X-Forwarded-For`: from the client to our peer, only the hops we could check. */
  forwardedFor: string;
}

/** An entry of X-Forwarded-For: an address, possibly with a port (`1.2.3.4:5678`, `[2001:db8::1]:443`). */
function entryAddress(entry: string): string | undefined {
  const text = entry.trim();
  const direct = normaliseIp(text);
  if (direct) return direct;
  const bracketed = /^\[([^\]]+)\]:\d{1,5}$/.exec(text);
  if (bracketed) return normaliseIp(bracketed[1]!);
  const v4port = /^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/.exec(text);
  if (v4port) return normaliseIp(v4port[1]!);
  return undefined;
}

interface PeerSocket {
  remoteAddress?: string | undefined;
  remotePort?: number | undefined;
}

export class ClientAddresses {
  readonly #trusted: NetworkSet;
  readonly #peerOf: (socket: PeerSocket) => string;
  /** Per connection: its peer in one written form and whether it is a trusted proxy (parsed once, not per request). */
  readonly #peers = new WeakMap<PeerSocket, { peer: string; trusted: boolean }>();

  /** `peerOf`: the connection's peer, as the PROXY protocol gave it (proxy-protocol.ts); by default the socket's. */
  constructor(trustedProxies: readonly string[], peerOf: (socket: PeerSocket) => string = (socket) => socket.remoteAddress ?? '') {
    this.#trusted = new NetworkSet(trustedProxies);
    this.#peerOf = peerOf;
  }

  /** The request's client: its connection's peer, then X-Forwarded-For if that peer is a trusted proxy. */
  forRequest(req: { socket: PeerSocket; headers: IncomingHttpHeaders }): ClientAddress {
    let known = this.#peers.get(req.socket);
    if (!known) {
      const raw = this.#peerOf(req.socket);
      const peer = normaliseIp(raw) ?? raw;
      known = { peer, trusted: this.#trusted.has(peer) };
      this.#peers.set(req.socket, known);
    }
    const forwardedFor = req.headers['x-forwarded-for'];
    if (!known.trusted || forwardedFor === undefined) return { address: known.peer, forwardedFor: known.peer };
    return this.resolve(known.peer, forwardedFor);
  }

  /**
   * `peer`: the socket's remote address (or the source the PROXY protocol gave for the connection).
   * `forwardedFor`: the request's X-Forwarded-For header(s), as received.
   */
  resolve(peer: string, forwardedFor: string | string[] | undefined): ClientAddress {
    const self = normaliseIp(peer) ?? peer;
    if (forwardedFor === undefined || !this.#trusted.has(self)) return { address: self, forwardedFor: self };
    const entries = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',');
    const hops = [self];
    let client = self;
    for (let i = entries.length - 1, read = 0; i >= 0 && read < MAX_FORWARDED_HOPS; i--, read++) {
      const hop = entryAddress(entries[i]!);
      // Not an address (`unknown`, a name, garbage): the chain cannot be followed past it; the trusted proxy
      // that passed it on is the last address we know.
      if (hop === undefined) break;
      hops.unshift(hop);
      client = hop;
      if (!this.#trusted.has(hop)) break;
    }
    return { address: client, forwardedFor: hops.join(', ') };
  }
}
