// The last good decisions, kept so that the gateway can go on deciding from
// them for a bounded time when the policy service is away (then it fails
// closed). Cleared whenever policy objects change.
import type { DecideResponse } from '@microseg/proto/policy';

export interface DecisionKey {
  serviceId: string;
  method: string;
  path: string;
  authenticated: boolean;
  tags: readonly string[];
  clientIp: string;
}

export class DecisionCache {
  readonly #entries = new Map<string, DecideResponse>();
  readonly #capacity: number;
  readonly #graceMs: number;
  #lastContact = 0;

  constructor(options: { capacity: number; graceMs: number }) {
    this.#capacity = options.capacity;
    this.#graceMs = options.graceMs;
  }

  static key(k: DecisionKey): string {
    return JSON.stringify([k.serviceId, k.method, k.path, k.authenticated, [...k.tags].sort(), k.clientIp]);
  }

  /** A decision the policy service just made. */
  remember(key: string, verdict: DecideResponse, now = Date.now()): void {
    this.#lastContact = now;
    this.#entries.delete(key);
    this.#entries.set(key, verdict);
    if (this.#entries.size > this.#capacity) this.#entries.delete(this.#entries.keys().next().value!);
  }

  /** The last good decision, only while the policy service was heard from within the grace period. */
  fallback(key: string, now = Date.now()): DecideResponse | undefined {
    if (now - this.#lastContact > this.#graceMs) return undefined;
    return this.#entries.get(key);
  }

  clear(): void {
    this.#entries.clear();
  }

  get size(): number {
    return this.#entries.size;
  }
}
