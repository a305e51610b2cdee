// Where authn may connect when it calls an identity provider (issue 12, point 6):
// authn is not an SSRF tool. A service's provider URL is written by a namespace
// editor and its discovery document by whoever runs the IdP; neither may make
// authn call the cloud metadata service, this machine's other ports or a
// private network. Pure: the decisions here take addresses and URLs, the
// caller resolves names and connects (idp-guard.ts).
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import type { NetworkSet } from '@microseg/config';

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Operator settings (AUTHN_IDP_ALLOWED_NETWORKS, AUTHN_IDP_ENDPOINT_HOSTS). */
export interface IdpNetworkSettings {
  /** CIDRs whose special-range addresses may be reached anyway (an IdP on an internal network). */
  allowedNetworks: readonly string[];
  /** Hosts (`host` for port 443, or `host:port`; https only) an IdP's endpoints may live on besides the provider's own. */
  endpointHosts: readonly string[];
}

/**
 * Hosts the Google profile's own discovery document names (token, JWKS, userinfo): allowed by default
 * for a provider at accounts.google.com only, because they are Google's and fixed.
 */
export const GOOGLE_ENDPOINT_HOSTS = ['oauth2.googleapis.com', 'www.googleapis.com', 'openidconnect.googleapis.com'] as const;

/** What each special range is called in a refusal. */
const RANGE_NAMES: Record<string, string> = {
  unspecified: 'an unspecified address',
  broadcast: 'the broadcast address',
  multicast: 'a multicast address',
  linkLocal: 'a link-local address (169.254.0.0/16, fe80::/10: cloud metadata services live here)',
  loopback: 'a loopback address (this machine)',
  carrierGradeNat: 'a shared (carrier-grade NAT) address (100.64.0.0/10)',
  private: 'a private address (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16)',
  uniqueLocal: 'a unique local address (fc00::/7)',
  reserved: 'a reserved address',
  benchmarking: 'a benchmarking address',
  amt: 'a reserved address (AMT)',
  as112: 'a reserved address (AS112)',
  as112v6: 'a reserved address (AS112)',
  rfc6145: 'an IPv4-translated address',
  rfc6052: 'a NAT64 address (it reaches IPv4 space behind a translator)',
  '6to4': 'a 6to4 address (it reaches IPv4 space)',
  teredo: 'a Teredo address (it reaches IPv4 space)',
  orchid2: 'a reserved address (ORCHID)',
  droneRemoteIdProtocolEntityTags: 'a reserved address',
  segmentRouting: 'a reserved address (segment routing)',
  deprecatedSiteLocal: 'a site-local address (fec0::/10)',
  discard: 'a discard-only address',
  ipv4Compatible: 'an IPv4-compatible IPv6 address (::/96)',
};

type Parsed = ipaddr.IPv4 | ipaddr.IPv6;

/** The address as it will be reached: IPv4-mapped IPv6 (::ffff:127.0.0.1, ::ffff:7f00:1) unwrapped to IPv4. */
export function canonicalAddress(address: string): Parsed | undefined {
  const bare = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  if (isIP(bare) === 0) return undefined;
  return ipaddr.process(bare);
}

/** The range an address belongs to: 'unicast' for an ordinary public address. */
export function rangeOf(parsed: Parsed): string {
  const range = parsed.range();
  // ::a.b.c.d (deprecated, RFC 4291 §2.5.5.1): ipaddr.js calls it unicast.
  if (range === 'unicast' && parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).parts.slice(0, 6).every((p) => p === 0)) return 'ipv4Compatible';
  return range;
}

export type AddressVerdict = { allowed: true } | { allowed: false; reason: string };

export interface AddressContext {
  /** The host name the call is addressed to (the URL's, lower case, without brackets). */
  host: string;
  /** The service's provider URL. */
  providerUrl: string;
  /** AUTHN_IDP_ALLOWED_NETWORKS. */
  allowedNetworks: NetworkSet;
}

/** Lower case, without brackets or a trailing dot. */
export function canonicalHost(hostname: string): string {
  return hostname
    .toLowerCase()
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '');
}

/** A provider on this machine for development (localhost, 127.x, [::1]): loopback is allowed for its host, and only for it. */
export function isLoopbackProvider(providerUrl: string): boolean {
  let url: URL;
  try {
    url = new URL(providerUrl);
  } catch {
    return false;
  }
  const host = canonicalHost(url.hostname);
  return host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}

/**
 * May authn connect to `address` for a call to `context.host`? An ordinary public address: yes (network
 * policy decides next). A special range: only inside AUTHN_IDP_ALLOWED_NETWORKS, or loopback for the
 * service's own loopback development provider.
 */
export function checkAddress(address: string, context: AddressContext): AddressVerdict {
  const parsed = canonicalAddress(address);
  if (!parsed) return { allowed: false, reason: `${JSON.stringify(address)} is not an IP address` };
  const range = rangeOf(parsed);
  if (range === 'unicast') return { allowed: true };
  if (context.allowedNetworks.has(parsed.toString())) return { allowed: true };
  if (range === 'loopback' && isLoopbackProvider(context.providerUrl) && canonicalHost(new URL(context.providerUrl).hostname) === context.host)
    return { allowed: true };
  return { allowed: false, reason: `${parsed.toString()} is ${RANGE_NAMES[range] ?? 'a special-purpose address'}` };
}

function effectivePort(url: URL): string {
  return url.port || (url.protocol === 'https:' ? '443' : url.protocol === 'http:' ? '80' : '');
}

/** The hosts an https provider's endpoints may live on besides its own: the operator's list, and Google's fixed API hosts. */
function extraEndpointHosts(provider: URL, settings: Pick<IdpNetworkSettings, 'endpointHosts'>): string[] {
  const hosts = settings.endpointHosts.map((h) => h.trim().toLowerCase()).filter(Boolean);
  if (canonicalHost(provider.hostname) === 'accounts.google.com') hosts.push(...GOOGLE_ENDPOINT_HOSTS);
  return hosts;
}

/** A URL for a message: origin and path only (never a query, never credentials), bounded. */
export function displayUrl(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`.slice(0, 200);
}

/**
 * Why authn may not call `target` for this provider, or undefined when it may. An endpoint lives on
 * the provider's own origin (scheme, host and port), or — https only — on a host of
 * AUTHN_IDP_ENDPOINT_HOSTS (or Google's API hosts for accounts.google.com). A loopback development
 * provider's endpoints must all be on its own origin: another port of this machine is another service.
 */
export function endpointProblem(providerUrl: string, target: URL, settings: Pick<IdpNetworkSettings, 'endpointHosts'>): string | undefined {
  const provider = new URL(providerUrl);
  if (target.username || target.password) return `${displayUrl(target)} carries credentials in the URL`;
  if (target.protocol !== 'https:' && target.protocol !== 'http:') return `${displayUrl(target)} is not an http(s) URL`;
  const sameOrigin =
    target.protocol === provider.protocol &&
    canonicalHost(target.hostname) === canonicalHost(provider.hostname) &&
    effectivePort(target) === effectivePort(provider);
  if (sameOrigin) return undefined;
  const where = `the provider's own origin (${provider.origin})`;
  if (isLoopbackProvider(providerUrl))
    return `${displayUrl(target)} is not on ${where}: a development provider on this machine is called on its own origin only`;
  if (target.protocol !== 'https:') return `${displayUrl(target)} is not https`;
  // An entry without a port means 443.
  const hostPort = `${canonicalHost(target.hostname)}:${effectivePort(target)}`;
  const listed = extraEndpointHosts(provider, settings).some((entry) => (/:\d+$/.test(entry) ? entry : `${entry}:443`) === hostPort);
  if (listed) return undefined;
  return `${displayUrl(target)} is neither on ${where} nor on a host listed in AUTHN_IDP_ENDPOINT_HOSTS`;
}
