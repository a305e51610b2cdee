// Every call authn makes to an identity provider (discovery, token, JWKS, …)
// goes through one fetch that (issue 12, point 6, and SPEC §7):
// 1. refuses an endpoint off the provider's own origin (idp-network.ts);
// 2. resolves the name once, refuses loopback, link-local, private and other
//    special addresses unless the operator allows them;
// 3. asks policy whether the service's processing unit may reach each address;
// 4. connects to exactly the addresses that passed — no second resolution, so a
//    name that answers differently the next time (DNS rebinding) changes nothing;
// 5. never follows a redirect, and bounds the answer in time and size.
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { Agent, fetch as undiciFetch, type RequestInit as UndiciRequestInit } from 'undici';
import type * as client from 'openid-client';
import type { Bus } from '@microseg/bus';
import { requests } from '@microseg/contracts';
import { MicrosegError } from '@microseg/errors';
import { canonicalHost, checkAddress, endpointProblem, type IdpNetworkSettings, type ResolvedAddress } from './idp-network.ts';
import type { NetworkSet } from '@microseg/config';

/** The most an IdP answer (discovery, token, JWKS) may weigh: one IdP must not exhaust the memory authn shares with every other service. */
export const IDP_ANSWER_LIMIT_BYTES = 1024 * 1024;

/** At most this many of a name's addresses are checked (each is a policy question). */
const MAX_ADDRESSES = 8;

export class IdpAnswerTooLarge extends Error {
  override name = 'IdpAnswerTooLarge';
  constructor(limit: number) {
    super(`the provider's answer is larger than ${limit} bytes`);
  }
}

export class IdpRedirectRefused extends Error {
  override name = 'IdpRedirectRefused';
  constructor(status: number) {
    super(`the provider answered with a redirect (HTTP ${status}); authn follows no redirect from an identity provider`);
  }
}

/** `response` whose body errors (and stops being read) once it passes `limit` bytes. */
export function limitBody(response: Response, limit: number): Response {
  const declared = Number(response.headers.get('content-length') ?? 0);
  if (declared > limit) {
    void response.body?.cancel().catch(() => undefined);
    throw new IdpAnswerTooLarge(limit);
  }
  // Always the global Response (the transport's is undici's own), which openid-client and jose expect.
  if (!response.body) return new Response(null, { status: response.status, statusText: response.statusText, headers: response.headers });
  let seen = 0;
  const counted = response.body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        seen += chunk.byteLength;
        if (seen > limit) controller.error(new IdpAnswerTooLarge(limit));
        else controller.enqueue(chunk);
      },
    }),
  );
  return new Response(counted, { status: response.status, statusText: response.statusText, headers: response.headers });
}

/** A name's addresses, as the system resolver (getaddrinfo: /etc/hosts, then DNS) gives them. */
export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

export const systemResolver: Resolver = async (hostname) =>
  (await lookup(hostname, { all: true, order: 'verbatim' })).map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));

/** Sends the request to these addresses only (TLS name and Host stay the URL's). */
export type Transport = (url: URL, addresses: readonly ResolvedAddress[], init: RequestInit) => Promise<Response>;

const agents = new Map<string, Agent>();
const MAX_AGENTS = 64;

function pinnedLookup(addresses: readonly ResolvedAddress[]) {
  return (_hostname: string, options: { all?: boolean; family?: number | string }, callback: (...args: unknown[]) => void): void => {
    const wanted = options.family === 4 || options.family === 6 ? addresses.filter((a) => a.family === options.family) : addresses;
    const usable = wanted.length > 0 ? wanted : addresses;
    if (options.all)
      callback(
        null,
        usable.map((a) => ({ address: a.address, family: a.family })),
      );
    else callback(null, usable[0]!.address, usable[0]!.family);
  };
}

/** undici with a `lookup` that answers the checked addresses: the connection cannot go anywhere else. */
export const pinnedTransport: Transport = async (url, addresses, init) => {
  const key = `${url.hostname}\0${addresses.map((a) => a.address).join(',')}`;
  let agent = agents.get(key);
  if (!agent) {
    if (agents.size >= MAX_AGENTS) {
      const [oldest, old] = agents.entries().next().value!;
      agents.delete(oldest);
      void old.close().catch(() => undefined);
    }
    agent = new Agent({ connect: { lookup: pinnedLookup(addresses) as never }, keepAliveTimeout: 4_000 });
    agents.set(key, agent);
  }
  const response = await undiciFetch(url, { ...(init as UndiciRequestInit), dispatcher: agent, redirect: 'manual' });
  return response as unknown as Response;
};

export interface IdpGuardDeps {
  bus: Pick<Bus, 'request'>;
  busTimeoutMs: number;
  idpTimeoutMs: number;
  network: Pick<IdpNetworkSettings, 'endpointHosts'> & { allowedNetworks: NetworkSet };
  resolver: Resolver;
  transport: Transport;
}

export function addressRefused(message: string): MicrosegError {
  return new MicrosegError('AUTHN_IDP_ADDRESS_REFUSED', message);
}

function purposeOf(url: URL): string {
  if (url.pathname.endsWith('/.well-known/openid-configuration')) return 'discovery';
  if (/jwks|certs|keys/.test(url.pathname)) return 'jwks';
  if (/token/.test(url.pathname)) return 'token';
  return 'idp';
}

function effectivePort(url: URL): number {
  return Number(url.port) || (url.protocol === 'https:' ? 443 : 80);
}

/** An aborted signal's reason as an Error (AbortSignal.timeout's is a DOMException, which is one). */
const abortReason = (signal: AbortSignal): Error => (signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason)));

/** Settles with `promise`, or rejects when `signal` aborts first (a DNS lookup cannot be cancelled). */
function raceSignal<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(abortReason(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortReason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

async function addressesOf(deps: IdpGuardDeps, host: string, signal: AbortSignal): Promise<ResolvedAddress[]> {
  const literal = isIP(host);
  if (literal) return [{ address: host, family: literal === 6 ? 6 : 4 }];
  try {
    return (await raceSignal(deps.resolver(host), signal)).slice(0, MAX_ADDRESSES);
  } catch (err) {
    if (signal.aborted) throw err;
    // As fetch reports it, so that the login page names the resolver's code (ENOTFOUND …).
    throw new TypeError('fetch failed', { cause: err });
  }
}

/**
 * The fetch openid-client and jose use for one service's provider: every
 * check above, then the request, bounded in time and size.
 */
export function guardedFetch(deps: IdpGuardDeps, settings: { serviceId: string; providerUrl: string }): client.CustomFetch {
  return async (url, options) => {
    const target = new URL(url);
    const problem = endpointProblem(settings.providerUrl, target, deps.network);
    if (problem)
      throw addressRefused(`authn does not call this identity provider endpoint: ${problem}. An operator may list the host in AUTHN_IDP_ENDPOINT_HOSTS.`);

    const signals = [AbortSignal.timeout(deps.idpTimeoutMs), ...(options?.signal ? [options.signal] : [])];
    const signal = AbortSignal.any(signals);
    const host = canonicalHost(target.hostname);
    const resolved = await addressesOf(deps, host, signal);

    const context = { host, providerUrl: settings.providerUrl, allowedNetworks: deps.network.allowedNetworks };
    const refusals: string[] = [];
    const candidates = resolved.filter((a) => {
      const verdict = checkAddress(a.address, context);
      if (!verdict.allowed) refusals.push(verdict.reason);
      return verdict.allowed;
    });
    if (candidates.length === 0) {
      throw addressRefused(
        `authn does not connect to ${host}: ${refusals.join('; ') || 'it has no address'}. An operator may allow an internal identity provider's network in AUTHN_IDP_ALLOWED_NETWORKS.`,
      );
    }

    // Every call is a flow from the service's processing unit: policy must allow each address (SPEC §7).
    const port = effectivePort(target);
    const replies = await Promise.all(
      candidates.map((a) =>
        deps.bus.request(
          requests.policyFlowCheck,
          { serviceId: settings.serviceId, host, ip: a.address, port, protocol: 'tcp', purpose: purposeOf(target) },
          deps.busTimeoutMs,
        ),
      ),
    );
    const allowed = candidates.filter((_a, i) => replies[i]!.allowed);
    if (allowed.length === 0) {
      throw new MicrosegError(
        'AUTHN_NETWORK_DENIED',
        `The enforcer may not reach the identity provider: ${replies[0]!.reason}. Create a network access policy that allows the application's processing unit to reach it (the walkthrough calls it allow-app-to-idp).`,
      );
    }

    const response = await deps.transport(target, allowed, { ...(options as RequestInit), redirect: 'manual', signal });
    if (response.status >= 300 && response.status < 400) {
      void response.body?.cancel().catch(() => undefined);
      throw new IdpRedirectRefused(response.status);
    }
    return limitBody(response, IDP_ANSWER_LIMIT_BYTES);
  };
}
