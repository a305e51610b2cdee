// The assertion keys as the policy service runs them: the ring kept in shape on a timer (the first key made,
// keys no longer published dropped, private halves sealed again after a secrets-key rotation, the next key
// started when the signing one is due), rotations by hand (the API), and what gateways receive in their sync
// reply — the private halves opened, on the gateway's own inbox only.
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { AssertionKeysResponseSchema, AssertionSettingsSchema } from '@microseg/proto/policy';
import type { SecretBox } from '../secrets.ts';
import { describe, maintain, publishUntilMs, rotate, sealContextOf, type Ring, type RingSettings } from './ring.ts';
import type { AssertionKeyStore } from './store.ts';

export interface AssertionKeySettings extends RingSettings {
  issuer: string;
}

/** How often each replica looks at the ring. */
export const MAINTENANCE_INTERVAL_MS = 60_000;

export class AssertionKeys {
  readonly #store: Pick<AssertionKeyStore, 'ring' | 'update'>;
  readonly #box: Pick<SecretBox, 'seal' | 'open' | 'needsReseal'>;
  readonly #settings: AssertionKeySettings;
  readonly #now: () => number;
  readonly #onUnreadable: (kid: string, err: Error) => void;
  /** Opened private halves by sealed value (a value opens to the same key every time). */
  readonly #opened = new Map<string, string>();
  readonly #reported = new Set<string>();
  #timer: NodeJS.Timeout | undefined;

  constructor(options: {
    store: Pick<AssertionKeyStore, 'ring' | 'update'>;
    secrets: Pick<SecretBox, 'seal' | 'open' | 'needsReseal'>;
    settings: AssertionKeySettings;
    now?: () => number;
    /** A private half this replica cannot open (once per key): it is published, but gateways cannot sign with it. */
    onUnreadable?: (kid: string, err: Error) => void;
  }) {
    this.#store = options.store;
    this.#box = options.secrets;
    this.#settings = options.settings;
    this.#now = options.now ?? Date.now;
    this.#onUnreadable = options.onUnreadable ?? (() => undefined);
  }

  get settings(): AssertionKeySettings {
    return this.#settings;
  }

  /** One look at the ring (the first key at the first start). Resolves with whether this replica changed it. */
  async maintain(): Promise<boolean> {
    let changed = false;
    await this.#store.update((ring) => {
      const result = maintain(ring ?? { v: 1, keys: [] }, this.#box, this.#now(), this.#settings);
      changed = result.changed;
      return result.changed ? result.ring : undefined;
    });
    return changed;
  }

  /** Looks at the ring now and every minute; failures are `onError`'s (the next look tries again). */
  start(onError: (err: unknown) => void): void {
    const tick = () => this.maintain().catch(onError);
    void tick();
    this.#timer = setInterval(tick, MAINTENANCE_INTERVAL_MS);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** A rotation by hand (`immediate`: the old keys withdrawn at once). */
  async rotate(immediate: boolean): Promise<{ changed: boolean; ring: Ring | undefined }> {
    let changed = false;
    const ring = await this.#store.update((current) => {
      const result = rotate(current ?? { v: 1, keys: [] }, this.#box, this.#now(), this.#settings, immediate);
      changed = result.changed;
      return result.changed ? result.ring : undefined;
    });
    return { changed, ring };
  }

  /** The keys without their private halves, for the API. */
  list(ring: Ring | undefined = this.#store.ring): ReturnType<typeof describe> {
    return ring ? describe(ring, this.#now(), this.#settings.ttlSeconds) : [];
  }

  /** What a gateway's sync reply carries: every published key, with its private half opened. */
  forGateways(): MessageInitShape<typeof AssertionSettingsSchema> {
    const keys = this.#published().map(({ key: k, publishUntil }) => ({
      kid: k.kid,
      publicJwk: JSON.stringify(k.publicJwk),
      privateKeyPem: this.#open(k.kid, k.privateKey),
      activateAtMs: BigInt(k.activateAtMs),
      publishUntilMs: BigInt(publishUntil),
    }));
    return { issuer: this.#settings.issuer, ttlSeconds: this.#settings.ttlSeconds, keys };
  }

  /** What a verifier of assertions receives (flowlog): the keys gateways publish, public halves only. */
  publicKeys(): MessageInitShape<typeof AssertionKeysResponseSchema> {
    const keys = this.#published().map(({ key: k, publishUntil }) => ({
      kid: k.kid,
      publicJwk: JSON.stringify(k.publicJwk),
      publishUntilMs: BigInt(publishUntil),
    }));
    return { issuer: this.#settings.issuer, keys };
  }

  /** The keys published now, with until when. */
  #published(): Array<{ key: Ring['keys'][number]; publishUntil: number }> {
    const ring = this.#store.ring;
    const now = this.#now();
    return (ring?.keys ?? []).flatMap((key) => {
      const publishUntil = publishUntilMs(ring!, key, this.#settings.ttlSeconds);
      return publishUntil !== 0 && publishUntil <= now ? [] : [{ key, publishUntil }];
    });
  }

  #open(kid: string, sealed: string): string {
    const known = this.#opened.get(sealed);
    if (known !== undefined) return known;
    try {
      const pem = this.#box.open(sealed, sealContextOf(kid));
      if (this.#opened.size > 100) this.#opened.clear();
      this.#opened.set(sealed, pem);
      return pem;
    } catch (err) {
      if (!this.#reported.has(kid)) {
        this.#reported.add(kid);
        this.#onUnreadable(kid, err as Error);
      }
      return '';
    }
  }
}
