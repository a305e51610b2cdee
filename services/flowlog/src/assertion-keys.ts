// The keys that sign identity assertions (SPEC §8.4), as flowlog learns them: from the policy service over the
// bus (svc.policy.v1.assertion.keys; only public halves travel), the same keys every gateway publishes at
// /.well-known/microseg/jwks.json — no URL to configure, no certificate to trust. Kept for `maxAgeMs`; a `kid`
// not among them makes it ask again, at most once per `minRefreshMs` (a forger's random kids cost nothing); a key
// past its publication is no longer used even before the next answer.
import { createPublicKey, type KeyObject } from 'node:crypto';
import type { Bus } from '@microseg/bus';
import { requests } from '@microseg/contracts';

export interface PublishedKeys {
  issuer: string;
  keys: Array<{ kid: string; publicJwk: string; publishUntilMs: number }>;
}

export type KeysAsker = () => Promise<PublishedKeys>;

export function askKeys(bus: Pick<Bus, 'request'>, timeoutMs: number): KeysAsker {
  return async () => {
    const reply = await bus.request(requests.policyAssertionKeys, {}, timeoutMs);
    return { issuer: reply.issuer, keys: reply.keys.map((k) => ({ kid: k.kid, publicJwk: k.publicJwk, publishUntilMs: Number(k.publishUntilMs) })) };
  };
}

interface Known {
  issuer: string;
  keys: Map<string, { key: KeyObject; publishUntilMs: number }>;
  fetchedAtMs: number;
}

export class AssertionKeySource {
  readonly #ask: KeysAsker;
  readonly #maxAgeMs: number;
  readonly #minRefreshMs: number;
  readonly #now: () => number;
  #known: Known | undefined;
  #lastAskMs = -Infinity;
  #inFlight: Promise<Known> | undefined;

  constructor(ask: KeysAsker, options: { maxAgeMs?: number; minRefreshMs?: number; now?: () => number } = {}) {
    this.#ask = ask;
    this.#maxAgeMs = options.maxAgeMs ?? 60_000;
    this.#minRefreshMs = options.minRefreshMs ?? 5_000;
    this.#now = options.now ?? Date.now;
  }

  /**
   * The issuer, and the public key `kid` names if it is published now (undefined otherwise). Throws when the
   * keys are not known and the policy service cannot say (the caller answers 503, not "invalid").
   */
  async key(kid: string): Promise<{ issuer: string; key: KeyObject | undefined }> {
    const now = this.#now();
    let known = this.#known;
    const stale = !known || now - known.fetchedAtMs >= this.#maxAgeMs;
    const unknownKid = known !== undefined && !known.keys.has(kid);
    if (stale || (unknownKid && now - this.#lastAskMs >= this.#minRefreshMs)) {
      try {
        known = await this.#refresh();
      } catch (err) {
        // Keys fetched a while ago still serve while policy is away, never longer than twice their age.
        if (!known || now - known.fetchedAtMs >= 2 * this.#maxAgeMs) throw err;
      }
    }
    const found = known!.keys.get(kid);
    const usable = found && (found.publishUntilMs === 0 || found.publishUntilMs > now);
    return { issuer: known!.issuer, key: usable ? found.key : undefined };
  }

  #refresh(): Promise<Known> {
    this.#inFlight ??= (async () => {
      this.#lastAskMs = this.#now();
      try {
        const published = await this.#ask();
        const keys = new Map<string, { key: KeyObject; publishUntilMs: number }>();
        for (const k of published.keys) {
          try {
            const jwk = JSON.parse(k.publicJwk) as { kty?: string; crv?: string; x?: string; y?: string };
            // A public EC P-256 key only, built from its coordinates: nothing else a JWK might say is used.
            if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || typeof jwk.x !== 'string' || typeof jwk.y !== 'string') continue;
            keys.set(k.kid, {
              key: createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y }, format: 'jwk' }),
              publishUntilMs: k.publishUntilMs,
            });
          } catch {
            // A key that cannot be read verifies nothing.
          }
        }
        this.#known = { issuer: published.issuer, keys, fetchedAtMs: this.#now() };
        return this.#known;
      } finally {
        this.#inFlight = undefined;
      }
    })();
    return this.#inFlight;
  }
}
