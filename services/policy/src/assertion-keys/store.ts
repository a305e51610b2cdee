// The assertion key ring in its JetStream KV bucket (one entry, `ring`), shared by every policy replica. Each
// replica keeps the last ring its watch saw (gateway syncs are answered from it) and changes it only with
// compare-and-set on the entry's revision: replicas that rotate or tidy at the same moment converge on one
// ring, and a key that was published is never lost to a concurrent write.
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/nats-core';
import { buckets } from '@microseg/contracts';
import { z } from '@microseg/config';
import type { SkippedEntry } from '../store.ts';
import type { Ring } from './ring.ts';

const RING_KEY = 'ring';
const b64url = z.string().regex(/^[A-Za-z0-9_-]+$/);

const ringSchema = z.object({
  v: z.literal(1),
  keys: z.array(
    z.object({
      kid: b64url,
      createdAtMs: z.number().int(),
      activateAtMs: z.number().int(),
      withdrawnAtMs: z.number().int().optional(),
      publicJwk: z.object({ kty: z.literal('EC'), crv: z.literal('P-256'), x: b64url, y: b64url, kid: b64url, alg: z.literal('ES256'), use: z.literal('sig') }),
      privateKey: z.string().min(1),
    }),
  ),
});

/** The ring an entry holds; undefined (and reported) when it is not one. */
export function parseRing(text: string): { ok: true; ring: Ring } | { ok: false; problem: string } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, problem: 'is not JSON' };
  }
  const parsed = ringSchema.safeParse(json);
  if (!parsed.success)
    return { ok: false, problem: `is not a key ring (${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'} ${i.message}`).join('; ')})` };
  const ring = parsed.data;
  if (ring.keys.some((k) => k.publicJwk.kid !== k.kid)) return { ok: false, problem: 'is not a key ring (a key names another kid in its JWK)' };
  return { ok: true, ring };
}

export class AssertionKeyStore {
  readonly #kv: KV;
  #ring: Ring | undefined;
  readonly #listeners: Array<(ring: Ring | undefined) => void> = [];

  private constructor(kv: KV) {
    this.#kv = kv;
  }

  /** Opens (creates) the bucket and waits for the ring as it stands. */
  static async open(nc: NatsConnection, onSkipped: (skipped: SkippedEntry) => void = () => undefined): Promise<AssertionKeyStore> {
    const kv = await new Kvm(nc).create(buckets.assertionKeys, { history: 5 });
    const store = new AssertionKeyStore(kv);
    await store.#watch(onSkipped);
    return store;
  }

  /** The ring as this replica last saw it (undefined before the first key). */
  get ring(): Ring | undefined {
    return this.#ring;
  }

  onChange(listener: (ring: Ring | undefined) => void): void {
    this.#listeners.push(listener);
  }

  /**
   * Change the ring: `change` gets the ring as stored (undefined when there is none, or it is not a ring) and
   * returns the new one, or undefined to leave it. Compare-and-set, tried again on a concurrent write.
   * Resolves with the ring as stored afterwards.
   */
  async update(change: (ring: Ring | undefined) => Ring | undefined): Promise<Ring | undefined> {
    for (let attempt = 0; ; attempt++) {
      const entry = await this.#kv.get(RING_KEY);
      const current = entry && entry.operation === 'PUT' ? parseRing(entry.string()) : undefined;
      const ring = current?.ok ? current.ring : undefined;
      const next = change(ring);
      if (!next) return ring;
      try {
        const data = JSON.stringify(next);
        if (entry) await this.#kv.update(RING_KEY, data, entry.revision);
        else await this.#kv.create(RING_KEY, data);
        this.#ring = next;
        return next;
      } catch (err) {
        if (attempt >= 4 || !/wrong last sequence|key exists/i.test(String((err as Error)?.message ?? err))) throw err;
      }
    }
  }

  async #watch(onSkipped: (skipped: SkippedEntry) => void): Promise<void> {
    const status = await this.#kv.status();
    const last = status.streamInfo.state.last_seq;
    let initial: (() => void) | undefined;
    const loaded = new Promise<void>((r) => (initial = r));
    if (last === 0) initial!();
    const watch = await this.#kv.watch({ key: RING_KEY });
    void (async () => {
      for await (const e of watch) {
        const parsed = e.operation === 'PUT' ? parseRing(e.string()) : undefined;
        this.#ring = parsed?.ok ? parsed.ring : undefined;
        if (parsed && !parsed.ok) {
          try {
            onSkipped({ key: e.key, revision: e.revision, problem: parsed.problem });
          } catch {
            // A failing reporter must not stop the watch.
          }
        }
        if (e.revision >= last) initial?.();
        for (const l of this.#listeners) {
          try {
            l(this.#ring);
          } catch {
            // Nor a failing listener.
          }
        }
      }
    })();
    await loaded;
  }
}
