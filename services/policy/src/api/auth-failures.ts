// Failed authentications per client address, as a token bucket: a client may get the token wrong
// `burst` times in a row, then `perMinute` times a minute. Past that every request from the address
// is answered 429 without looking at its token — so the answer never tells a right guess from a wrong
// one — until the bucket has refilled by one. API tokens carry 256 random bits, so this is not what
// stops guessing; it keeps a scanner from filling the logs and the event store, and makes it visible.

export interface AuthFailureLimits {
  /** Failures allowed in a row from one address. */
  burst: number;
  /** Failures allowed per minute from one address, once the burst is spent. */
  perMinute: number;
  /** Addresses remembered at most (the oldest are forgotten first). */
  maxClients?: number;
}

interface Bucket {
  tokens: number;
  atMs: number;
  /** Requests refused (429) since the last time this was reported, and when that was. */
  refused: number;
  reportedAtMs: number;
}

export class AuthFailureLimiter {
  readonly #buckets = new Map<string, Bucket>();
  readonly #burst: number;
  readonly #perMs: number;
  readonly #maxClients: number;
  readonly #now: () => number;

  constructor(limits: AuthFailureLimits, now: () => number = Date.now) {
    this.#burst = limits.burst;
    this.#perMs = limits.perMinute / 60_000;
    this.#maxClients = limits.maxClients ?? 100_000;
    this.#now = now;
  }

  #refilled(address: string): Bucket | undefined {
    const bucket = this.#buckets.get(address);
    if (!bucket) return undefined;
    const now = this.#now();
    bucket.tokens = Math.min(this.#burst, bucket.tokens + (now - bucket.atMs) * this.#perMs);
    bucket.atMs = now;
    return bucket;
  }

  /** Milliseconds until `address` may try again; 0 when it may now. */
  blockedForMs(address: string): number {
    const bucket = this.#refilled(address);
    if (!bucket || bucket.tokens >= 1) return 0;
    return Math.ceil((1 - bucket.tokens) / this.#perMs);
  }

  /** One failed authentication from `address`. */
  failed(address: string): void {
    const bucket = this.#refilled(address) ?? { tokens: this.#burst, atMs: this.#now(), refused: 0, reportedAtMs: 0 };
    bucket.tokens = Math.max(0, bucket.tokens - 1);
    // Most recently failing last: the first ones are the ones to forget.
    this.#buckets.delete(address);
    this.#buckets.set(address, bucket);
    if (this.#buckets.size > this.#maxClients) this.#buckets.delete(this.#buckets.keys().next().value!);
  }

  /**
   * A request from `address` was refused (429). Returns how many were refused since the last report when
   * one is due — the first refusal, then at most one a minute — else undefined.
   */
  refused(address: string): number | undefined {
    const bucket = this.#buckets.get(address);
    if (!bucket) return undefined;
    bucket.refused++;
    const now = this.#now();
    if (bucket.reportedAtMs !== 0 && now - bucket.reportedAtMs < 60_000) return undefined;
    const count = bucket.refused;
    bucket.refused = 0;
    bucket.reportedAtMs = now;
    return count;
  }
}
