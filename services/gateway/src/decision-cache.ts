// Decisions kept in the gateway: the steady state costs no round trip to the
// policy service. Every policy change clears them (broadcast), an answer that
// was asked for before the last change, or made from an older revision of the
// objects than the newest one the gateway has been told of (a policy replica
// that has not applied a change yet), is not kept, and an entry lives at most
// `maxAgeMs` in case a broadcast is missed. When the policy service is away,
// the last good decision for the very same request stands for `graceMs` after
// it was last heard from, then the gateway fails closed.
import type { DecideResponse } from '@microseg/proto/policy';

export interface DecisionKey {
  serviceId: string;
  method: string;
  path: string;
  authenticated: boolean;
  tags: readonly string[];
  clientIp: string;
}

interface Entry {
  verdict: DecideResponse;
  at: number;
}

const sortedTags = new WeakMap<readonly string[], string>();

export class DecisionCache {
  readonly #entries = new Map<string, Entry>();
  readonly #capacity: number;
  readonly #graceMs: number;
  readonly #maxAgeMs: number;
  #lastContact = 0;
  #clearedAt = 0;
  /** The newest revision of the objects the gateway has been told of (broadcasts, syncs, decisions). */
  #revision = 0n;
  readonly #refreshing = new Set<string>();

  constructor(options: { capacity: number; graceMs: number; maxAgeMs?: number }) {
    this.#capacity = options.capacity;
    this.#graceMs = options.graceMs;
    this.#maxAgeMs = options.maxAgeMs ?? 60_000;
  }

  static key(k: DecisionKey): string {
    // A session's tags are one array for as long as the session is cached: sorted and written once.
    let tags = sortedTags.get(k.tags);
    if (tags === undefined) {
      tags = JSON.stringify([...k.tags].sort());
      sortedTags.set(k.tags, tags);
    }
    return `${JSON.stringify([k.serviceId, k.method, k.path, k.authenticated, k.clientIp])}${tags}`;
  }

  /** A revision of the objects, as a broadcast, a sync reply or a decision told it. */
  observeRevision(revision: bigint): void {
    if (revision > this.#revision) this.#revision = revision;
  }

  get revision(): bigint {
    return this.#revision;
  }

  /** A decision the policy service made for a question asked at `askedAt`. */
  remember(key: string, verdict: DecideResponse, now = Date.now(), askedAt = now): void {
    this.#lastContact = now;
    // Made from objects older than a change we know of: used for its request, never kept.
    if (verdict.revision < this.#revision) return;
    this.#revision = verdict.revision;
    // Objects changed while we asked: the answer may predate the change.
    if (askedAt < this.#clearedAt) return;
    this.#entries.delete(key);
    this.#entries.set(key, { verdict, at: now });
    if (this.#entries.size > this.#capacity) this.#entries.delete(this.#entries.keys().next().value!);
  }

  /**
   * The decision to use without asking, if a fresh one is known — and only while the policy
   * service was heard from within the grace period, so that the steady state still asks it
   * now and then and a policy service that went away is noticed.
   */
  get(key: string, now = Date.now()): DecideResponse | undefined {
    const entry = this.#entries.get(key);
    if (!entry || this.#maxAgeMs === 0 || now - entry.at > this.#maxAgeMs || now - this.#lastContact > this.#graceMs) return undefined;
    return entry.verdict;
  }

  /**
   * Whether a decision just answered from the cache should also be asked again in the background: the
   * entry is past half its age, or the policy service was last heard from more than half the grace period
   * ago. True once per key until `refreshed` (one question in flight per key).
   */
  shouldRefresh(key: string, now = Date.now()): boolean {
    if (this.#refreshing.has(key)) return false;
    const entry = this.#entries.get(key);
    if (!entry || (now - entry.at <= this.#maxAgeMs / 2 && now - this.#lastContact <= this.#graceMs / 2)) return false;
    this.#refreshing.add(key);
    return true;
  }

  /** The background question for `key` was answered, or failed. */
  refreshed(key: string): void {
    this.#refreshing.delete(key);
  }

  /** The last good decision, only while the policy service was heard from within the grace period. */
  fallback(key: string, now = Date.now()): DecideResponse | undefined {
    if (now - this.#lastContact > this.#graceMs) return undefined;
    return this.#entries.get(key)?.verdict;
  }

  clear(now = Date.now()): void {
    this.#entries.clear();
    this.#clearedAt = now;
  }

  get size(): number {
    return this.#entries.size;
  }
}
