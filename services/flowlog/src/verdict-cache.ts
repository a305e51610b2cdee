// Answers of the policy service that flowlog keeps for a few seconds (who a token is, what roles a user's tags
// give): keyed by a hash of the question, so that the cache never holds a usable credential; one question in
// flight per key however many requests wait for it; a failure (policy away) is never remembered; bounded.
import { createHash } from 'node:crypto';

const MAX_ENTRIES = 10_000;

/** The key of a question: its SHA-256, base64url. */
export const hashKey = (text: string): string => createHash('sha256').update(text).digest('base64url');

export class VerdictCache<V> {
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #entries = new Map<string, { value: V; until: number }>();
  readonly #inFlight = new Map<string, Promise<V>>();

  constructor(ttlMs: number, now: () => number = Date.now) {
    this.#ttlMs = ttlMs;
    this.#now = now;
  }

  /** The answer kept for `key`, or `load`'s (kept for the TTL). */
  get(key: string, load: () => Promise<V>): Promise<V> {
    const cached = this.#entries.get(key);
    if (cached && cached.until > this.#now()) return Promise.resolve(cached.value);
    const pending = this.#inFlight.get(key);
    if (pending) return pending;
    const asked = load()
      .then((value) => {
        if (this.#entries.size >= MAX_ENTRIES) this.#entries.delete(this.#entries.keys().next().value!);
        this.#entries.delete(key);
        this.#entries.set(key, { value, until: this.#now() + this.#ttlMs });
        return value;
      })
      .finally(() => this.#inFlight.delete(key));
    this.#inFlight.set(key, asked);
    return asked;
  }
}
