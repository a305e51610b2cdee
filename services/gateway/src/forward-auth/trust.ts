// Who may ask the forward-auth port (docs/forward-auth.md): the ingresses of GATEWAY_FORWARD_AUTH_TRUSTED_PROXIES,
// by the TCP peer's address, and nobody else. The forwarded headers say which host, path, method and client a
// decision is about; from anyone else they would let a client ask "would this be allowed?" about any host, or
// pass itself off as another address.
import { BlockList, isIP } from 'node:net';

/** The address as one family sees it: an IPv4-mapped IPv6 address (`::ffff:10.0.0.1`) is its IPv4 address. */
export function plainAddress(address: string): { address: string; family: 'ipv4' | 'ipv6' } | undefined {
  const bare = address.replace(/^\[|\]$/g, '');
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(bare);
  const candidate = mapped ? mapped[1]! : bare;
  const version = isIP(candidate);
  if (version === 4) return { address: candidate, family: 'ipv4' };
  if (version === 6) return { address: candidate.toLowerCase(), family: 'ipv6' };
  return undefined;
}

/** The trusted networks; throws naming the first entry that is not a CIDR or an address. */
export function parseTrustedProxies(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const [base = '', bits] = entry.includes('/') ? entry.split('/', 2) : [entry, undefined];
    const parsed = plainAddress(base);
    const max = parsed?.family === 'ipv4' ? 32 : 128;
    // An IPv4-mapped CIDR (::ffff:10.0.0.0/104) names IPv4 space: its prefix shrinks by 96 bits.
    const mapped = parsed?.family === 'ipv4' && isIP(base.replace(/^\[|\]$/g, '')) === 6;
    const prefix = bits === undefined ? max : /^\d{1,3}$/.test(bits) ? Number(bits) - (mapped ? 96 : 0) : -1;
    if (!parsed || prefix < 0 || prefix > max) throw new Error(`${JSON.stringify(entry)} is not a CIDR or an IP address`);
    list.addSubnet(parsed.address, prefix, parsed.family);
  }
  return list;
}

/** Whether the TCP peer is one of the trusted ingresses. An address that cannot be read is not. */
export function isTrustedPeer(trusted: BlockList, remoteAddress: string | undefined): boolean {
  const peer = plainAddress(remoteAddress ?? '');
  return peer !== undefined && trusted.check(peer.address, peer.family);
}
