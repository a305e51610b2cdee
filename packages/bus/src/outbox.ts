import type { JetStreamClient } from '@nats-io/jetstream';
import type { MsgHdrs } from '@nats-io/nats-core';

export interface OutboxEntry {
  subject: string;
  data: Uint8Array;
  /** JetStream de-duplication id: a retried publish is stored once. */
  msgId: string;
  headers?: MsgHdrs;
}

export interface OutboxStats {
  queued: number;
  published: number;
  retried: number;
  dropped: number;
}

/**
 * Publishes events to JetStream without making the caller wait. Entries that
 * fail (NATS down, stream unavailable) are retried in order with backoff until
 * they are acknowledged; only when the bounded queue overflows is the oldest
 * entry dropped, and that is counted.
 */
export class Outbox {
  readonly #js: JetStreamClient;
  readonly #queue: OutboxEntry[] = [];
  readonly #capacity: number;
  readonly #onError: (err: unknown, entry: OutboxEntry) => void;
  #pumping = false;
  #backoffMs = 0;
  #timer: NodeJS.Timeout | undefined;
  #idleWaiters: Array<() => void> = [];
  readonly stats: OutboxStats = { queued: 0, published: 0, retried: 0, dropped: 0 };

  constructor(js: JetStreamClient, options: { capacity?: number; onError?: (err: unknown, entry: OutboxEntry) => void } = {}) {
    this.#js = js;
    this.#capacity = options.capacity ?? 100_000;
    this.#onError = options.onError ?? (() => undefined);
  }

  get size(): number {
    return this.#queue.length;
  }

  push(entry: OutboxEntry): void {
    if (this.#queue.length >= this.#capacity) {
      this.#queue.shift();
      this.stats.dropped++;
    }
    this.#queue.push(entry);
    this.stats.queued++;
    if (!this.#timer) void this.#pump();
  }

  /** Resolves when everything queued so far has been acknowledged (or the deadline passes). */
  async flush(deadlineMs: number): Promise<boolean> {
    if (this.#queue.length === 0) return true;
    let timeout: NodeJS.Timeout | undefined;
    const idle = new Promise<boolean>((resolve) => this.#idleWaiters.push(() => resolve(true)));
    const late = new Promise<boolean>((resolve) => {
      timeout = setTimeout(() => resolve(false), deadlineMs);
    });
    try {
      return await Promise.race([idle, late]);
    } finally {
      clearTimeout(timeout);
    }
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#queue.length > 0) {
        // Publish a window in parallel; acknowledgements are awaited together. After a
        // failure, probe one entry at a time, so later entries are not stored before it.
        const batch = this.#queue.slice(0, this.#backoffMs > 0 ? 1 : 64);
        const results = await Promise.allSettled(batch.map((e) => this.#js.publish(e.subject, e.data, { msgID: e.msgId, headers: e.headers })));
        const firstFailure = results.findIndex((r) => r.status === 'rejected');
        const done = firstFailure === -1 ? batch.length : firstFailure;
        // Everything after the first failure is retried too (in order); duplicates are removed by msgID.
        // An overflow while we waited may have dropped the head of the batch: remove only acknowledged entries.
        const acknowledged = new Set(batch.slice(0, done));
        while (this.#queue.length > 0 && acknowledged.has(this.#queue[0]!)) this.#queue.shift();
        this.stats.published += done;
        if (firstFailure !== -1) {
          const failed = results[firstFailure] as PromiseRejectedResult;
          this.stats.retried += batch.length - done;
          this.#onError(failed.reason, batch[firstFailure]!);
          this.#backoffMs = Math.min(5_000, this.#backoffMs ? this.#backoffMs * 2 : 100);
          this.#timer = setTimeout(() => {
            this.#timer = undefined;
            void this.#pump();
          }, this.#backoffMs);
          this.#timer.unref();
          return;
        }
        this.#backoffMs = 0;
      }
      for (const w of this.#idleWaiters.splice(0)) w();
    } finally {
      this.#pumping = false;
    }
  }
}
