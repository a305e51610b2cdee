// What the application receives (SPEC §8): hop-by-hop headers removed, every
// client-sent copy of identity and microseg headers removed, then microseg's
// own values set. Header names are compared after folding case and `_` to `-`,
// because some servers treat `X_User_Email` as `X-User-Email`.
import type { IncomingHttpHeaders } from 'node:http';
import { cookies, headers as own } from '@microseg/contracts';
import { withoutCookies, withoutReservedSetCookies } from './cookies.ts';

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  // h2c's upgrade settings (RFC 9113 §3.2.1 makes it connection-specific): never for the application.
  'http2-settings',
]);

/** Headers a client must never be able to set for the application. */
const ALWAYS_STRIPPED = new Set([
  'host',
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-forwarded-port',
  'x-forwarded-prefix',
  'x-real-ip',
  'x-request-id',
  'traceparent',
  'tracestate',
  // Path and method override headers some frameworks honour.
  'x-original-url',
  'x-original-uri',
  'x-rewrite-url',
  'x-http-method-override',
  'x-http-method',
  'x-method-override',
]);

export const foldHeaderName = (name: string) => name.toLowerCase().replaceAll('_', '-');

/** Node gives header names in lower case already: only `_` is left to fold. */
const foldLowerCase = (name: string) => (name.includes('_') ? name.replaceAll('_', '-') : name);

const NONE: ReadonlySet<string> = new Set();

function connectionListed(value: string | string[] | undefined): ReadonlySet<string> {
  if (value === undefined || value === '' || value === 'keep-alive' || value === 'close') return NONE;
  const list = Array.isArray(value) ? value.join(',') : value;
  return new Set(
    list
      .split(',')
      .map((t) => foldHeaderName(t.trim()))
      .filter(Boolean),
  );
}

/** The folded mapped header names of a service, per list of mappings (a route keeps its list until it changes). */
const mappedCache = new WeakMap<readonly string[], ReadonlySet<string>>();
function mappedSet(names: readonly string[]): ReadonlySet<string> {
  let set = mappedCache.get(names);
  if (!set) {
    set = new Set(names.map(foldHeaderName));
    mappedCache.set(names, set);
  }
  return set;
}

export interface UpstreamHeaderInput {
  incoming: IncomingHttpHeaders;
  host: string;
  /** The X-Forwarded-For value: the client's address, then each checked hop (client-address.ts). */
  forwardedFor: string;
  requestId: string;
  /** Header name → values, from the session's claims. */
  claimHeaders: ReadonlyMap<string, string[]>;
  /** Every mapped header name of the service, set or not. */
  mappedHeaderNames: readonly string[];
  /**
   * Lower-case name → value microseg sets (the assertion, the access token: assertion/identity-headers.ts);
   * the client's copies of each name are removed, and undefined sets nothing.
   */
  identity?: Readonly<Record<string, string | undefined>>;
}

export function upstreamRequestHeaders(input: UpstreamHeaderInput): Record<string, string | string[]> {
  const listed = connectionListed(input.incoming.connection);
  const mapped = mappedSet(input.mappedHeaderNames);
  const identity = input.identity;
  const out: Record<string, string | string[]> = {};
  for (const name in input.incoming) {
    const value = input.incoming[name];
    // HTTP/2's pseudo-headers (`:path`, `:authority`, …) are the request line, not headers to pass on.
    if (value === undefined || name.charCodeAt(0) === 58) continue;
    const folded = foldLowerCase(name.toLowerCase());
    if (HOP_BY_HOP.has(folded) || listed.has(folded) || ALWAYS_STRIPPED.has(folded) || mapped.has(folded) || folded.startsWith(own.ownPrefix)) continue;
    if (identity !== undefined && Object.hasOwn(identity, folded)) continue;
    if (folded === 'cookie') {
      const kept = withoutCookies(Array.isArray(value) ? value.join('; ') : value, [cookies.session, cookies.loginBinding]);
      if (kept) out.cookie = kept;
      continue;
    }
    out[name] = value;
  }
  out.host = input.host;
  out['x-forwarded-for'] = input.forwardedFor;
  out['x-forwarded-proto'] = 'https';
  out['x-forwarded-host'] = input.host;
  out[own.requestId] = input.requestId;
  for (const [name, values] of input.claimHeaders) {
    const safe = values.filter((v) => !/[\u0000-\u001f\u007f]/.test(v));
    if (safe.length > 0) out[name.toLowerCase()] = safe.join(', ');
  }
  if (identity !== undefined) for (const name in identity) if (identity[name] !== undefined) out[name] = identity[name];
  return out;
}

/**
 * Response headers from the application, minus hop-by-hop ones and minus any Set-Cookie for microseg's own
 * cookies: an application (or another tenant's, on another port of the same host: cookies ignore ports) must
 * not choose the browser's session or login binding.
 */
export function downstreamResponseHeaders(incoming: Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const listed = connectionListed(incoming.connection);
  const out: Record<string, string | string[]> = {};
  for (const name in incoming) {
    const value = incoming[name];
    if (value === undefined) continue;
    const folded = name.toLowerCase();
    if (HOP_BY_HOP.has(folded) || listed.has(folded)) continue;
    if (folded === 'set-cookie') {
      const kept = withoutReservedSetCookies(value);
      if (kept !== undefined) out[name] = kept;
      continue;
    }
    out[name] = value;
  }
  return out;
}

/** Values of each mapped claim, from the session's tags (`email=alice@example.com`). */
export function claimHeaderValues(tags: readonly string[], mappings: ReadonlyArray<{ claimName: string; targetHttpHeader: string }>): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const { claimName, targetHttpHeader } of mappings) {
    const prefix = `${claimName}=`;
    const values = tags.filter((t) => t.startsWith(prefix)).map((t) => t.slice(prefix.length));
    if (values.length > 0) out.set(targetHttpHeader, values);
  }
  return out;
}
