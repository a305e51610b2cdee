// SPEC §2 externalnetwork, §7: which external networks an address or DNS name,
// with a protocol and port, belongs to. Pure: no DNS resolution happens here; a
// DNS entry matches a host name, an address entry matches an address.
import { BlockList, isIP } from 'node:net';
import type { ExternalNetworkObject } from '@microseg/contracts';
import { appliesIn } from '../snapshot.ts';

export type Protocol = 'tcp' | 'udp';

export interface NetworkTarget {
  /** The peer's address (IPv4, IPv6, IPv4-mapped IPv6 or bracketed IPv6). */
  ip?: string;
  /** The DNS name the flow was addressed to; an IP literal here is treated as an address. */
  host?: string;
}

type AddressFamily = 'ipv4' | 'ipv6';

interface Address {
  address: string;
  family: AddressFamily;
}

/** Parses an address, dropping brackets and an IPv6 zone; undefined when it is not an IP literal. */
function parseAddress(text: string | undefined): Address | undefined {
  if (text === undefined) return undefined;
  let address = text.trim();
  if (address.startsWith('[') && address.endsWith(']')) address = address.slice(1, -1);
  const zone = address.indexOf('%');
  if (zone >= 0) address = address.slice(0, zone);
  const version = isIP(address);
  if (version === 0) return undefined;
  // `::ffff:10.1.2.3` is what a dual-stack socket reports for an IPv4 peer.
  const mapped = version === 6 ? /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address) : null;
  if (mapped && isIP(mapped[1]!) === 4) return { address: mapped[1]!, family: 'ipv4' };
  return { address, family: version === 4 ? 'ipv4' : 'ipv6' };
}

/** Lower case, without a trailing dot: `IdP.Example.COM.` → `idp.example.com`. */
function canonicalHost(host: string): string {
  const lower = host.trim().toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

type EntryMatcher = (address: Address | undefined, host: string | undefined) => boolean;

const never: EntryMatcher = () => false;

function compileEntry(entry: string): EntryMatcher {
  const text = entry.trim();
  const slash = text.indexOf('/');
  if (slash >= 0) {
    const base = parseAddress(text.slice(0, slash));
    const bitsText = text.slice(slash + 1);
    if (!base || !/^\d{1,3}$/.test(bitsText)) return never;
    const list = new BlockList();
    try {
      list.addSubnet(base.address, Number(bitsText), base.family);
    } catch {
      return never; // prefix longer than the family allows
    }
    // Same family only: BlockList would let `::/0` cover every IPv4 address (as ::ffff:a.b.c.d).
    return (address) => address !== undefined && address.family === base.family && list.check(address.address, address.family);
  }
  const exact = parseAddress(text);
  if (exact) {
    const list = new BlockList();
    list.addAddress(exact.address, exact.family);
    return (address) => address !== undefined && address.family === exact.family && list.check(address.address, address.family);
  }
  const name = canonicalHost(text);
  if (name.startsWith('*.')) {
    const suffix = name.slice(1); // `.example.com`
    if (suffix.length < 2) return never;
    return (_address, host) => host !== undefined && host.length > suffix.length && host.endsWith(suffix);
  }
  if (name === '' || name.includes('*')) return never;
  return (_address, host) => host === name;
}

const compiled = new Map<string, EntryMatcher>();
const MAX_COMPILED = 10_000;

function matcherFor(entry: string): EntryMatcher {
  let matcher = compiled.get(entry);
  if (!matcher) {
    if (compiled.size >= MAX_COMPILED) compiled.clear();
    matcher = compileEntry(entry);
    compiled.set(entry, matcher);
  }
  return matcher;
}

/** The address and DNS name of a target, ready for matching. */
function normaliseTarget(target: NetworkTarget): { addresses: Address[]; host: string | undefined } {
  const addresses: Address[] = [];
  const ip = parseAddress(target.ip);
  if (ip) addresses.push(ip);
  let host: string | undefined;
  if (target.host !== undefined) {
    const hostAsAddress = parseAddress(target.host);
    if (hostAsAddress) addresses.push(hostAsAddress);
    else if (canonicalHost(target.host) !== '') host = canonicalHost(target.host);
  }
  return { addresses, host };
}

/**
 * Whether one externalnetwork entry covers a target: a CIDR (IPv4 or IPv6) or
 * an exact IP matches the address, a DNS name matches the host exactly
 * (case-insensitive, trailing dot ignored), `*.domain` matches any subdomain at
 * any depth but not the apex. A target with both an address and a host matches
 * when either does. A malformed entry matches nothing.
 */
export function entryMatches(entry: string, target: NetworkTarget): boolean {
  return covers(entry, normaliseTarget(target));
}

function covers(entry: string, { addresses, host }: ReturnType<typeof normaliseTarget>): boolean {
  const matcher = matcherFor(entry);
  if (addresses.length === 0) return matcher(undefined, host);
  return addresses.some((address) => matcher(address, host));
}

const SERVICE_PORT = /^(tcp|udp)\/(\d{1,5})(?::(\d{1,5}))?$/;

/**
 * Whether `protocol`/`port` is among servicePorts: `any`, `tcp/443`, `udp/53`,
 * `tcp/80:100` (inclusive). An empty list, or a malformed item, matches nothing.
 */
export function portMatches(servicePorts: readonly string[], protocol: Protocol, port: number): boolean {
  return servicePorts.some((item) => {
    const text = item.trim().toLowerCase();
    if (text === 'any') return true;
    const m = SERVICE_PORT.exec(text);
    if (!m || m[1] !== protocol) return false;
    const from = Number(m[2]);
    const to = m[3] === undefined ? from : Number(m[3]);
    return port >= from && port <= to;
  });
}

/**
 * The external networks in scope of `namespace` (its own, or an ancestor's that
 * propagate) that cover the target's address or name and its protocol/port, in
 * input order.
 */
export function externalNetworksFor(
  networks: readonly ExternalNetworkObject[],
  namespace: string,
  target: NetworkTarget & { protocol: Protocol; port: number },
): ExternalNetworkObject[] {
  const normalised = normaliseTarget(target);
  return networks.filter(
    (network) =>
      appliesIn(network.namespace, network.propagate, namespace) &&
      portMatches(network.servicePorts, target.protocol, target.port) &&
      network.entries.some((entry) => covers(entry, normalised)),
  );
}
