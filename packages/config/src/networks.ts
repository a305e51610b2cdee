// Sets of IP networks given by an operator (trusted proxies, PROXY protocol sources, allowed IdP networks):
// CIDRs or single addresses, IPv4 and IPv6. An IPv4-mapped IPv6 address (what a dual-stack socket reports
// for an IPv4 peer, ::ffff:10.1.2.3) is the IPv4 address it maps, on both sides.
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

type Parsed = ipaddr.IPv4 | ipaddr.IPv6;

/** The address as it is reached: brackets and a zone dropped, IPv4-mapped IPv6 unwrapped. Undefined when not an IP literal. */
export function canonicalIp(text: string): Parsed | undefined {
  const bare = text
    .trim()
    .replace(/^\[|\]$/g, '')
    .replace(/%.*$/, '');
  if (isIP(bare) === 0) return undefined;
  return ipaddr.process(bare);
}

/** One written form per address: `10.1.2.3`, `2001:db8::1` (IPv4-mapped IPv6 as IPv4). Undefined when not an IP literal. */
export function normaliseIp(text: string): string | undefined {
  return canonicalIp(text)?.toString();
}

export class NetworkSet {
  readonly #networks: ReadonlyArray<[Parsed, number]>;
  /** The entries as written (for messages and docs). */
  readonly entries: readonly string[];

  /** Throws naming the first entry that is not a CIDR or an address. */
  constructor(entries: readonly string[]) {
    this.entries = entries;
    this.#networks = entries.map((entry) => {
      const text = entry.trim();
      const slash = text.indexOf('/');
      const base = slash >= 0 ? text.slice(0, slash) : text;
      const bits = slash >= 0 ? text.slice(slash + 1) : undefined;
      const parsed = canonicalIp(base);
      if (!parsed || (bits !== undefined && !/^\d{1,3}$/.test(bits))) throw new Error(`${JSON.stringify(entry)} is not a CIDR or an IP address`);
      const max = parsed.kind() === 'ipv4' ? 32 : 128;
      // An IPv4-mapped CIDR (::ffff:10.0.0.0/104) names IPv4 space: its prefix shrinks by 96 bits.
      const wasMapped = parsed.kind() === 'ipv4' && isIP(base.replace(/^\[|\]$/g, '')) === 6;
      const prefix = bits === undefined ? max : Number(bits) - (wasMapped ? 96 : 0);
      if (prefix < 0 || prefix > max) throw new Error(`${JSON.stringify(entry)} has a prefix longer than the address`);
      return [parsed, prefix] as [Parsed, number];
    });
  }

  get empty(): boolean {
    return this.#networks.length === 0;
  }

  /** True when `address` (any written form; not an IP literal: false) is in one of the networks. */
  has(address: string): boolean {
    if (this.#networks.length === 0) return false;
    const parsed = canonicalIp(address);
    if (!parsed) return false;
    return this.#networks.some(([base, bits]) => base.kind() === parsed.kind() && parsed.match(base, bits));
  }
}
