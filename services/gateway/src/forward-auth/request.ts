// The request an ingress asks about (docs/forward-auth.md): its method, host, target and client, read from the
// forward-auth request the way each ingress sends them. The path of the forward-auth request says which:
//
//   /nginx        nginx auth_request: X-Original-Method, X-Original-URI, X-Forwarded-Host, X-Forwarded-For
//   /traefik      Traefik forwardAuth: X-Forwarded-Method, X-Forwarded-Uri, X-Forwarded-Host, X-Forwarded-For
//   /envoy/<uri>  Envoy ext_authz (HTTP service, path_prefix /envoy): the request's own method, Host and
//                 path (after the prefix), X-Forwarded-For
//
// The client is the last address of X-Forwarded-For: the one the trusted ingress itself saw (anything before it
// was written by the client or by proxies in front of it). Each header must come once: two copies are refused,
// not joined, since an ingress that appends where it should replace would let the client choose one of them.
import type { IncomingMessage } from 'node:http';
import { hostnameOf } from '../state.ts';
import { plainAddress } from './trust.ts';

export type ForwardAuthMode = 'nginx' | 'traefik' | 'envoy';

export const ENVOY_PREFIX = '/envoy';

export interface OriginalRequest {
  mode: ForwardAuthMode;
  method: string;
  /** The Host of the original request, as the ingress gives it (a port may follow the name). */
  host: string;
  /** The request target as the client sent it: path and query, not yet normalised. */
  target: string;
  /** The client's address, as the ingress saw it. */
  clientIp: string;
}

export type ParsedForwardAuth = { ok: true; request: OriginalRequest } | { ok: false; message: string };

const NAMES: Record<Exclude<ForwardAuthMode, 'envoy'>, { method: string; target: string }> = {
  nginx: { method: 'x-original-method', target: 'x-original-uri' },
  traefik: { method: 'x-forwarded-method', target: 'x-forwarded-uri' },
};

/** An HTTP method: a token (RFC 9110 §9.1), of a sensible length. */
const METHOD = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,32}$/;

const fail = (message: string): ParsedForwardAuth => ({ ok: false, message });

/** The value of a header sent exactly once; `undefined` when absent, `null` when sent more than once. */
export function singleHeader(rawHeaders: readonly string[], name: string): string | undefined | null {
  let value: string | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.toLowerCase() !== name) continue;
    if (value !== undefined) return null;
    value = rawHeaders[i + 1]!;
  }
  return value;
}

/** The last address of X-Forwarded-For (every line of it), in plain form; undefined when absent or not an address. */
export function lastForwardedFor(rawHeaders: readonly string[]): string | undefined {
  let last: string | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i]!.toLowerCase() === 'x-forwarded-for') last = rawHeaders[i + 1]!;
  const entry = last?.split(',').at(-1)?.trim();
  return entry ? plainAddress(entry)?.address : undefined;
}

export function parseForwardAuthRequest(req: Pick<IncomingMessage, 'method' | 'url' | 'rawHeaders'>): ParsedForwardAuth {
  const url = req.url ?? '';
  const path = url.split('?', 1)[0]!;
  let mode: ForwardAuthMode;
  let method: string | undefined | null;
  let target: string | undefined | null;
  let host: string | undefined | null;
  if (path === '/nginx' || path === '/traefik') {
    mode = path.slice(1) as 'nginx' | 'traefik';
    const names = NAMES[mode];
    method = singleHeader(req.rawHeaders, names.method);
    target = singleHeader(req.rawHeaders, names.target);
    host = singleHeader(req.rawHeaders, 'x-forwarded-host');
    if (method === undefined || target === undefined || host === undefined) {
      const missing = [method === undefined && names.method, target === undefined && names.target, host === undefined && 'x-forwarded-host'].filter(Boolean);
      return fail(`The ${mode} forward-auth request lacks ${missing.join(', ')}: the ingress must send the original request's method, path and host.`);
    }
  } else if (url.startsWith(ENVOY_PREFIX) && url[ENVOY_PREFIX.length] === '/') {
    mode = 'envoy';
    method = req.method;
    target = url.slice(ENVOY_PREFIX.length);
    host = singleHeader(req.rawHeaders, 'host');
  } else {
    return fail('Ask /nginx, /traefik or /envoy/<path> on the forward-auth port (docs/forward-auth.md).');
  }
  if (method === null || target === null || host === null) return fail('A header that describes the original request is sent more than once.');
  if (!method || !METHOD.test(method)) return fail('The original request method is not an HTTP method.');
  if (!host || !hostnameOf(host)) return fail('The original request host is not a host name.');
  if (!target) return fail('The original request target is empty.');
  const clientIp = lastForwardedFor(req.rawHeaders);
  if (!clientIp) return fail('X-Forwarded-For is missing or its last entry is not an IP address: the ingress must send the client address it saw.');
  return { ok: true, request: { mode, method, host, target, clientIp } };
}
