// OIDC client settings per service (from the policy service) and their
// discovered provider metadata (openid-client Configuration), cached.
import { createHash } from 'node:crypto';
import * as client from 'openid-client';
import type { Bus } from '@microseg/bus';
import { subjects } from '@microseg/contracts';
import { MicrosegError, fromWire } from '@microseg/errors';
import { FlowCheckRequestSchema, FlowCheckResponseSchema, OidcClientRequestSchema, OidcClientResponseSchema, type OidcClientResponse } from '@microseg/proto/policy';
import { isIP } from 'node:net';

export interface OidcClient {
  settings: OidcClientResponse;
  config: client.Configuration;
  /** fetch for any other call to this IdP (JWKS): checked against network policy first. */
  fetch: client.CustomFetch;
}

const SETTINGS_TTL_MS = 30_000;

/** The most an IdP answer (discovery, token, JWKS) may weigh: one IdP must not exhaust the memory authn shares with every other service. */
export const IDP_ANSWER_LIMIT_BYTES = 1024 * 1024;

export class IdpAnswerTooLarge extends Error {
  override name = 'IdpAnswerTooLarge';
  constructor(limit: number) {
    super(`the provider's answer is larger than ${limit} bytes`);
  }
}

/** `response` whose body errors (and stops being read) once it passes `limit` bytes. */
export function limitBody(response: Response, limit: number): Response {
  const declared = Number(response.headers.get('content-length') ?? 0);
  if (declared > limit) {
    void response.body?.cancel().catch(() => undefined);
    throw new IdpAnswerTooLarge(limit);
  }
  if (!response.body) return response;
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

export class OidcClients {
  readonly #bus: Bus;
  readonly #busTimeoutMs: number;
  readonly #idpTimeoutMs: number;
  readonly #settings = new Map<string, { at: number; value: Promise<OidcClientResponse> }>();
  readonly #discoveries = new Map<string, Promise<client.Configuration>>();

  constructor(bus: Bus, options: { busTimeoutMs: number; idpTimeoutMs: number }) {
    this.#bus = bus;
    this.#busTimeoutMs = options.busTimeoutMs;
    this.#idpTimeoutMs = options.idpTimeoutMs;
  }

  /** Forget cached settings (objects changed). Discovery stays cached per provider+client. */
  invalidate(): void {
    this.#settings.clear();
  }

  async get(serviceId: string): Promise<OidcClient> {
    const settings = await this.#getSettings(serviceId);
    const config = await this.#discover(settings);
    return { settings, config, fetch: this.#guardedFetch(settings.serviceId) };
  }

  /** A service's settings alone, without discovery (e.g. to name its namespace in an event). */
  settings(serviceId: string): Promise<OidcClientResponse> {
    return this.#getSettings(serviceId);
  }

  async #getSettings(serviceId: string): Promise<OidcClientResponse> {
    const cached = this.#settings.get(serviceId);
    if (cached && Date.now() - cached.at < SETTINGS_TTL_MS) return cached.value;
    const value = this.#bus
      .request(subjects.policyOidcClient, OidcClientRequestSchema, OidcClientResponseSchema, { serviceId }, this.#busTimeoutMs)
      .then((res) => {
        if (res.error) throw fromWire(res.error);
        return res;
      });
    this.#settings.set(serviceId, { at: Date.now(), value });
    value.catch(() => this.#settings.delete(serviceId));
    return value;
  }

  /**
   * Every call to the IdP (discovery, token, JWKS) is a flow from the
   * service's processing unit: policy must allow it first (SPEC §7).
   */
  #guardedFetch(serviceId: string): client.CustomFetch {
    return async (url, options) => {
      const target = new URL(url);
      const host = target.hostname.replace(/^\[|\]$/g, '');
      const reply = await this.#bus.request(
        subjects.policyFlowCheck,
        FlowCheckRequestSchema,
        FlowCheckResponseSchema,
        { serviceId, host, ip: isIP(host) ? host : '', port: Number(target.port) || (target.protocol === 'https:' ? 443 : 80), protocol: 'tcp', purpose: purposeOf(target) },
        this.#busTimeoutMs,
      );
      if (reply.error) throw fromWire(reply.error);
      if (!reply.allowed) {
        throw new MicrosegError('AUTHN_NETWORK_DENIED', `The enforcer may not reach the identity provider: ${reply.reason}. Create a network access policy that allows the application's processing unit to reach it (the walkthrough calls it allow-app-to-idp).`);
      }
      // Every IdP answer is bounded in time and size, whoever calls (openid-client, jose).
      const signals = [AbortSignal.timeout(this.#idpTimeoutMs), ...(options?.signal ? [options.signal as AbortSignal] : [])];
      const response = await fetch(url, { ...(options as RequestInit), signal: AbortSignal.any(signals) });
      return limitBody(response, IDP_ANSWER_LIMIT_BYTES);
    };
  }

  #discover(settings: OidcClientResponse): Promise<client.Configuration> {
    const key = createHash('sha256').update(`${settings.serviceId}\0${settings.providerUrl}\0${settings.clientId}\0${settings.clientSecret}`).digest('hex');
    let discovery = this.#discoveries.get(key);
    if (!discovery) {
      const server = new URL(settings.providerUrl);
      const execute = isLoopbackHttp(server) ? [client.allowInsecureRequests] : [];
      const guarded = this.#guardedFetch(settings.serviceId);
      discovery = client
        .discovery(server, settings.clientId, { redirect_uris: [settings.redirectUri], response_types: ['code'] }, client.ClientSecretBasic(settings.clientSecret), {
          execute,
          timeout: Math.ceil(this.#idpTimeoutMs / 1000),
          [client.customFetch]: guarded,
        })
        .then((config) => {
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
}

/** A network-policy refusal, wherever openid-client wrapped it. */
export function networkDenial(err: unknown): MicrosegError | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof MicrosegError && e.code === 'AUTHN_NETWORK_DENIED') return e;
  }
  return undefined;
}

function purposeOf(url: URL): string {
  if (url.pathname.endsWith('/.well-known/openid-configuration')) return 'discovery';
  if (/jwks|certs|keys/.test(url.pathname)) return 'jwks';
  if (/token/.test(url.pathname)) return 'token';
  return 'idp';
}

/** http:// is allowed for a provider on this machine only (development and the demo). */
export function isLoopbackHttp(url: URL): boolean {
  return url.protocol === 'http:' && (url.hostname === 'localhost' || url.hostname === '[::1]' || /^127\./.test(url.hostname));
}

/** A short, public description of why an IdP call failed (no secrets, no bodies). */
export function describeIdpError(err: unknown): string {
  const unavailable = idpUnavailable(err);
  if (unavailable) return unavailable;
  if (err instanceof client.ResponseBodyError) return `the provider answered ${err.error}${err.error_description ? ` (${err.error_description.slice(0, 200)})` : ''}`;
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
    if (e instanceof IdpAnswerTooLarge) return e.message;
    if (e instanceof Error && e.name === 'TimeoutError') return 'the provider did not answer in time';
  }
  return undefined;
}
