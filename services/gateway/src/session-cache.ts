// Session lookups kept in the gateway for a short while (the steady state costs
// no round trip), keyed by a hash of the whole cookie value — never by the
// session id alone, which is not secret. Every deleted, revoked or refreshed
// session is announced by broadcast and forgotten at once.
import { createHash } from 'node:crypto';
import { metrics } from '@microseg/telemetry';

export interface CachedSession {
  sessionId: string;
  subject: string;
  tags: string[];
}

interface Entry {
  value: CachedSession | undefined;
  until: number;
}

export class SessionCache {
  readonly #entries = new Map<string, Entry>();
  readonly #keysBySession = new Map<string, Set<string>>();
  readonly #invalidatedAt = new Map<string, number>();
  readonly #inFlight = new Map<string, Promise<CachedSession | undefined>>();
  readonly #capacity: number;

  constructor(capacity = 100_000) {
    this.#capacity = capacity;
  }

  static key(credential: string): string {
    return createHash('sha256').update(credential).digest('base64url');
  }

  get size(): number {
    return this.#entries.size;
  }

  /**
   * The cached answer, or the answer of `load` (one load per key at a time).
   * `load` returns the session and until when it may be reused.
   */
  async get(credential: string, load: () => Promise<{ value: CachedSession | undefined; until: number }>, now = Date.now()): Promise<CachedSession | undefined> {
    const key = SessionCache.key(credential);
    const hit = this.#entries.get(key);
    if (hit && hit.until > now) {
      metrics.gatewayCacheHits().inc({ cache: 'session' });
      return hit.value;
    }
    metrics.gatewayCacheMisses().inc({ cache: 'session' });
    const pending = this.#inFlight.get(key);
    if (pending) return pending;
    const startedAt = Date.now();
    const loading = load()
      .then(({ value, until }) => {
        this.#store(key, value, until, startedAt);
        return value;
      })
      .finally(() => this.#inFlight.delete(key));
    this.#inFlight.set(key, loading);
    return loading;
  }

  #store(key: string, value: CachedSession | undefined, until: number, startedAt: number): void {
    // An invalidation that arrived while the lookup ran wins over its answer.
    if (value && (this.#invalidatedAt.get(value.sessionId) ?? 0) >= startedAt) return;
    if (until <= Date.now()) return;
    this.#entries.delete(key);
    this.#entries.set(key, { value, until });
    if (value) {
      let keys = this.#keysBySession.get(value.sessionId);
      if (!keys) this.#keysBySession.set(value.sessionId, (keys = new Set()));
      keys.add(key);
    }
    while (this.#entries.size > this.#capacity) this.#entries.delete(this.#entries.keys().next().value!);
  }

  /** Forget what one credential resolved to (this gateway just logged it out). */
  invalidateCredential(credential: string): void {
    const key = SessionCache.key(credential);
    const entry = this.#entries.get(key);
    this.#entries.delete(key);
    if (entry?.value) this.invalidate(entry.value.sessionId);
  }

  /** Forget a session everywhere in this gateway (broadcast from authn). */
  invalidate(sessionId: string): void {
    const now = Date.now();
    this.#invalidatedAt.set(sessionId, now);
    for (const key of this.#keysBySession.get(sessionId) ?? []) this.#entries.delete(key);
    this.#keysBySession.delete(sessionId);
    // Remember invalidations for a minute only (they protect lookups in flight).
    if (this.#invalidatedAt.size > 10_000) {
      for (const [id, at] of this.#invalidatedAt) if (now - at > 60_000) this.#invalidatedAt.delete(id);
    }
  }

  /** Drop expired entries and their index (called periodically; keeps memory bounded). */
  sweep(now = Date.now()): void {
    for (const [key, entry] of this.#entries) {
      if (entry.until > now) continue;
      this.#entries.delete(key);
      if (entry.value) {
        const keys = this.#keysBySession.get(entry.value.sessionId);
        keys?.delete(key);
        if (keys?.size === 0) this.#keysBySession.delete(entry.value.sessionId);
      }
    }
    for (const [id, at] of this.#invalidatedAt) if (now - at > 60_000) this.#invalidatedAt.delete(id);
  }

  clear(): void {
    this.#entries.clear();
    this.#keysBySession.clear();
  }
}
