// OIDC client settings per service (from the policy service) and their
// discovered provider metadata (openid-client Configuration), cached.
import { createHash } from 'node:crypto';
import * as client from 'openid-client';
import type { Bus } from '@microseg/bus';
import { requests } from '@microseg/contracts';
import { MicrosegError } from '@microseg/errors';
import type { OidcClientResponse } from '@microseg/proto/policy';
import {
  addressRefused,
  guardedFetch,
  IdpAnswerTooLarge,
  IdpRedirectRefused,
  pinnedTransport,
  systemResolver,
  type IdpGuardDeps,
  type Resolver,
  type Transport,
} from './idp-guard.ts';
import { NetworkSet } from '@microseg/config';
import { endpointProblem, isLoopbackProvider, type IdpNetworkSettings } from './idp-network.ts';

export { IDP_ANSWER_LIMIT_BYTES, IdpAnswerTooLarge, limitBody } from './idp-guard.ts';

export interface OidcClient {
  settings: OidcClientResponse;
  config: client.Configuration;
  /** fetch for any other call to this IdP (JWKS): checked like every call (idp-guard.ts). */
  fetch: client.CustomFetch;
}

const SETTINGS_TTL_MS = 30_000;

export interface OidcClientsOptions {
  busTimeoutMs: number;
  idpTimeoutMs: number;
  /** AUTHN_IDP_ALLOWED_NETWORKS and AUTHN_IDP_ENDPOINT_HOSTS (none by default). */
  network?: Partial<IdpNetworkSettings>;
  /** Tests inject these; the system resolver and undici otherwise. */
  resolver?: Resolver;
  transport?: Transport;
}

/** The endpoints of a discovery document that authn itself calls (the others are the browser's). */
const CALLED_ENDPOINTS = ['token_endpoint', 'jwks_uri', 'userinfo_endpoint', 'revocation_endpoint', 'introspection_endpoint'] as const;

export class OidcClients {
  readonly #bus: Pick<Bus, 'request'>;
  readonly #busTimeoutMs: number;
  readonly #idpTimeoutMs: number;
  readonly #settings = new Map<string, { at: number; value: Promise<OidcClientResponse> }>();
  readonly #discoveries = new Map<string, Promise<client.Configuration>>();

  readonly #guard: IdpGuardDeps;

  constructor(bus: Pick<Bus, 'request'>, options: OidcClientsOptions) {
    this.#bus = bus;
    this.#busTimeoutMs = options.busTimeoutMs;
    this.#idpTimeoutMs = options.idpTimeoutMs;
    this.#guard = {
      bus,
      busTimeoutMs: options.busTimeoutMs,
      idpTimeoutMs: options.idpTimeoutMs,
      network: { allowedNetworks: new NetworkSet(options.network?.allowedNetworks ?? []), endpointHosts: options.network?.endpointHosts ?? [] },
      resolver: options.resolver ?? systemResolver,
      transport: options.transport ?? pinnedTransport,
    };
  }

  /** Forget cached settings (objects changed). Discovery stays cached per provider+client. */
  invalidate(): void {
    this.#settings.clear();
  }

  async get(serviceId: string): Promise<OidcClient> {
    const settings = await this.#getSettings(serviceId);
    const config = await this.#discover(settings);
    return { settings, config, fetch: guardedFetch(this.#guard, settings) };
  }

  /** A service's settings alone, without discovery (e.g. to name its namespace in an event). */
  settings(serviceId: string): Promise<OidcClientResponse> {
    return this.#getSettings(serviceId);
  }

  async #getSettings(serviceId: string): Promise<OidcClientResponse> {
    const cached = this.#settings.get(serviceId);
    if (cached && Date.now() - cached.at < SETTINGS_TTL_MS) return cached.value;
    const value = this.#bus.request(requests.policyOidcClient, { serviceId }, this.#busTimeoutMs).then((res) => {
      return res;
    });
    this.#settings.set(serviceId, { at: Date.now(), value });
    value.catch(() => this.#settings.delete(serviceId));
    return value;
  }

  #discover(settings: OidcClientResponse): Promise<client.Configuration> {
    const key = createHash('sha256').update(`${settings.serviceId}\0${settings.providerUrl}\0${settings.clientId}\0${settings.clientSecret}`).digest('hex');
    let discovery = this.#discoveries.get(key);
    if (!discovery) {
      const server = new URL(settings.providerUrl);
      const execute = isLoopbackHttp(server) ? [client.allowInsecureRequests] : [];
      const guarded = guardedFetch(this.#guard, settings);
      discovery = client
        .discovery(
          server,
          settings.clientId,
          { redirect_uris: [settings.redirectUri], response_types: ['code'] },
          client.ClientSecretBasic(settings.clientSecret),
          {
            execute,
            timeout: Math.ceil(this.#idpTimeoutMs / 1000),
            [client.customFetch]: guarded,
          },
        )
        .then((config) => {
          this.#checkEndpoints(settings, config);
          config[client.customFetch] = guarded;
          return config;
        })
        .catch((cause: unknown) => {
          this.#discoveries.delete(key);
          const denied = networkDenial(cause);
          if (denied) throw denied;
          throw new MicrosegError(
            'AUTHN_DISCOVERY_FAILED',
            `Discovery at ${settings.providerUrl}/.well-known/openid-configuration failed: ${describeIdpError(cause)}.`,
            { cause },
          );
        });
      this.#discoveries.set(key, discovery);
    }
    return discovery;
  }

  /** The endpoints authn will call must be where it may call them: refused at discovery, before any login starts. */
  #checkEndpoints(settings: OidcClientResponse, config: client.Configuration): void {
    const metadata = config.serverMetadata() as Record<string, unknown>;
    for (const name of CALLED_ENDPOINTS) {
      const value = metadata[name];
      if (value === undefined) continue;
      let url: URL;
      try {
        url = new URL(String(value));
      } catch {
        throw addressRefused(`The identity provider's ${name} is not a URL.`);
      }
      const problem = endpointProblem(settings.providerUrl, url, this.#guard.network);
      if (problem)
        throw addressRefused(
          `The identity provider's discovery document names a ${name} authn does not call: ${problem}. An operator may list its host in AUTHN_IDP_ENDPOINT_HOSTS (https only).`,
        );
    }
  }
}

/** A refusal to reach the IdP (network policy, or an address or endpoint authn does not call), wherever openid-client wrapped it. */
export function networkDenial(err: unknown): MicrosegError | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof MicrosegError && (e.code === 'AUTHN_NETWORK_DENIED' || e.code === 'AUTHN_IDP_ADDRESS_REFUSED')) return e;
  }
  return undefined;
}

/** http:// is allowed for a provider on this machine only (development and the demo). */
export function isLoopbackHttp(url: URL): boolean {
  return url.protocol === 'http:' && isLoopbackProvider(url.href);
}

/** A short, public description of why an IdP call failed (no secrets, no bodies). */
export function describeIdpError(err: unknown): string {
  const unavailable = idpUnavailable(err);
  if (unavailable) return unavailable;
  if (err instanceof client.ResponseBodyError)
    return `the provider answered ${err.error}${err.error_description ? ` (${err.error_description.slice(0, 200)})` : ''}`;
  if (err instanceof client.ClientError) {
    // openid-client's message is generic ("invalid response encountered"); oauth4webapi's cause says which check failed.
    const cause = err.cause instanceof Error && err.cause.message !== err.message ? `: ${err.cause.message}` : '';
    return `${err.message}${cause}`.slice(0, 200);
  }
  const cause = (err as { cause?: { code?: string } })?.cause;
  if (cause?.code) return `network error ${cause.code}`;
  if (err instanceof Error && err.name === 'TimeoutError') return 'the provider did not answer in time';
  return err instanceof Error ? err.message.slice(0, 200) : 'unknown error';
}

/** Why the IdP could not be used at all (too slow, too large an answer), wherever it was wrapped; undefined otherwise. */
export function idpUnavailable(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof IdpAnswerTooLarge || e instanceof IdpRedirectRefused) return e.message;
    if (e instanceof Error && e.name === 'TimeoutError') return 'the provider did not answer in time';
  }
  return undefined;
}
