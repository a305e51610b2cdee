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
  /** Only for a service that passes it to the application (passAccessToken); never logged. */
  accessToken?: string;
  /** When the session (or bearer token) ends at the latest, whatever the cache may keep (an open WebSocket closes then). */
  expiresAtMs: number;
}

interface Entry {
  value: CachedSession | undefined;
  until: number;
  /** From here on, a use of the entry also asks authn again, in the background (refresh-ahead). */
  refreshFrom: number;
}

/** The id every bearer-token answer is cached under: a revocation of a user's bearer tokens drops them all at once (they are cheap to verify again). */
export const BEARER_ANSWERS = 'bearer-answers';

/** The share of an entry's life after which it is renewed ahead of time. */
const REFRESH_AHEAD = 0.75;

export class SessionCache {
  readonly #entries = new Map<string, Entry>();
  readonly #keysBySession = new Map<string, Set<string>>();
  readonly #invalidatedAt = new Map<string, number>();
  readonly #inFlight = new Map<string, Promise<CachedSession | undefined>>();
  readonly #capacity: number;
  #clearedAt = 0;

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
   * `load` returns the session and until when it may be reused. An entry in the
   * last quarter of its life is still answered from, and renewed in the
   * background: a session in steady use never waits for authn.
   */
  async get(
    credential: string,
    load: () => Promise<{ value: CachedSession | undefined; until: number }>,
    now = Date.now(),
  ): Promise<CachedSession | undefined> {
    const key = SessionCache.key(credential);
    const hit = this.#entries.get(key);
    if (hit && hit.until > now) {
      metrics.gatewayCacheHits().inc({ cache: 'session' });
      // A failed renewal changes nothing: the entry stays until its end, then a lookup answers (or fails) in line.
      if (now >= hit.refreshFrom && !this.#inFlight.has(key)) this.#load(key, load).catch(() => undefined);
      return hit.value;
    }
    metrics.gatewayCacheMisses().inc({ cache: 'session' });
    return this.#inFlight.get(key) ?? this.#load(key, load);
  }

  #load(key: string, load: () => Promise<{ value: CachedSession | undefined; until: number }>): Promise<CachedSession | undefined> {
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
    // The cache was emptied while the lookup ran (the gateway was away from NATS): its answer may predate what it missed.
    if (this.#clearedAt >= startedAt) return;
    // An invalidation that arrived while the lookup ran wins over its answer.
    if (value && (this.#invalidatedAt.get(value.sessionId) ?? 0) >= startedAt) return;
    const now = Date.now();
    if (until <= now) {
      // An answer not to be reused (no session, or a session at its end) replaces what a renewal found: the
      // older entry goes now, not at its own end.
      this.#evict(key);
      return;
    }
    this.#evict(key);
    this.#entries.set(key, { value, until, refreshFrom: now + (until - now) * REFRESH_AHEAD });
    if (value) {
      let keys = this.#keysBySession.get(value.sessionId);
      if (!keys) this.#keysBySession.set(value.sessionId, (keys = new Set()));
      keys.add(key);
    }
    while (this.#entries.size > this.#capacity) this.#entries.delete(this.#entries.keys().next().value!);
  }

  #evict(key: string): void {
    const entry = this.#entries.get(key);
    if (!entry) return;
    this.#entries.delete(key);
    if (entry.value) {
      const keys = this.#keysBySession.get(entry.value.sessionId);
      keys?.delete(key);
      if (keys?.size === 0) this.#keysBySession.delete(entry.value.sessionId);
    }
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
    for (const [key, entry] of this.#entries) if (entry.until <= now) this.#evict(key);
    for (const [id, at] of this.#invalidatedAt) if (now - at > 60_000) this.#invalidatedAt.delete(id);
  }

  /** Forget everything, and every answer to a lookup already in flight (the gateway may have missed invalidations). */
  clear(now = Date.now()): void {
    this.#entries.clear();
    this.#keysBySession.clear();
    this.#clearedAt = now;
  }
}
