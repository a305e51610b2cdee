// Who may ask the forward-auth port (docs/forward-auth.md): the ingresses of GATEWAY_FORWARD_AUTH_TRUSTED_PROXIES,
// by the TCP peer's address, and nobody else. The forwarded headers say which host, path, method and client a
// decision is about; from anyone else they would let a client ask "would this be allowed?" about any host, or
// pass itself off as another address. The parsing is the one every address list uses (NetworkSet).
import { canonicalIp, NetworkSet } from '@microseg/config';

/** The address as one family sees it: an IPv4-mapped IPv6 address (`::ffff:10.0.0.1`) is its IPv4 address. */
export function plainAddress(address: string): { address: string; family: 'ipv4' | 'ipv6' } | undefined {
  const parsed = canonicalIp(address);
  return parsed && { address: parsed.toString(), family: parsed.kind() };
}

/** The trusted networks; throws naming the first entry that is not a CIDR or an address. */
export function parseTrustedProxies(entries: readonly string[]): NetworkSet {
  return new NetworkSet(entries);
}

/** Whether the TCP peer is one of the trusted ingresses. An address that cannot be read is not. */
export function isTrustedPeer(trusted: NetworkSet, remoteAddress: string | undefined): boolean {
  return trusted.has(remoteAddress ?? '');
}
