// Objects live in a JetStream KV bucket so every replica and every restart
// sees the same ones. Each replica keeps an in-memory snapshot fed by a watch;
// decisions are served from that snapshot.
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/nats-core';
import { buckets, type ObjectKind, type PolicyObject } from '@microseg/contracts';
import { Snapshot } from './snapshot.ts';
import { parseObjectEntry } from './stored-entries.ts';

/** An entry of the bucket that was skipped: its key, its revision and what is wrong (never its value). */
export interface SkippedEntry {
  key: string;
  revision: number;
  problem: string;
}

const objectKey = (kind: ObjectKind, id: string) => `${kind}.${id}`;
const HEARTBEAT_MS = 60_000;

export class ObjectStore {
  readonly #kv: KV;
  #objects = new Map<string, PolicyObject>();
  readonly #revisions = new Map<string, number>();
  #revisionWaiters: Array<{ revision: number; resolve: () => void }> = [];
  #snapshot: Snapshot = Snapshot.build([], 0);
  #revision = 0;
  #ready = false;
  #listeners: Array<(snapshot: Snapshot, routingChanged: boolean) => void> = [];

  readonly #onSkipped: (skipped: SkippedEntry) => void;

  private constructor(kv: KV, onSkipped: (skipped: SkippedEntry) => void) {
    this.#kv = kv;
    this.#onSkipped = onSkipped;
  }

  /** `onSkipped` hears of every entry that is not a valid object under its own key (it is left out). */
  static async open(nc: NatsConnection, options: { onSkipped?: (skipped: SkippedEntry) => void } = {}): Promise<ObjectStore> {
    const kv = await new Kvm(nc).create(buckets.objects, { history: 5 });
    const store = new ObjectStore(kv, options.onSkipped ?? (() => undefined));
    await store.#startWatch();
    return store;
  }

  get ready(): boolean {
    return this.#ready;
  }

  get snapshot(): Snapshot {
    return this.#snapshot;
  }

  onChange(listener: (snapshot: Snapshot, routingChanged: boolean) => void): void {
    this.#listeners.push(listener);
  }

  /**
   * Write an object unless an identical one is stored already. A processing
   * unit whose only change is `lastSeen` is written at most once a minute
   * (a heartbeat), so registrations do not flood the bucket.
   */
  async put(object: PolicyObject, codec: SecretCodec = plainCodec): Promise<'created' | 'updated' | 'heartbeat' | 'unchanged'> {
    const key = objectKey(object.kind, object.ID);
    const current = this.#objects.get(key);
    if (current && sameContent(openedOrUndefined(codec, current), object) && !codec.needsSealing?.(current)) {
      const stale =
        object.kind === 'processingunit' &&
        current.kind === 'processingunit' &&
        Date.parse(object.lastSeen ?? '') - Date.parse(current.lastSeen ?? '') >= HEARTBEAT_MS;
      if (!stale) return 'unchanged';
      await this.#seen(await this.#kv.put(key, JSON.stringify(codec.seal(object))));
      return 'heartbeat';
    }
    // Read-your-writes, as create and replace: what runs after the bootstrap sees the objects it wrote.
    await this.#seen(await this.#kv.put(key, JSON.stringify(codec.seal(object))));
    return current ? 'updated' : 'created';
  }

  /** The stored object and its revision (the ETag), as this replica last saw it. */
  entry(kind: ObjectKind, id: string): { object: PolicyObject; revision: number } | undefined {
    const key = objectKey(kind, id);
    const object = this.#objects.get(key);
    return object ? { object, revision: this.#revisions.get(key) ?? 0 } : undefined;
  }

  /** Create; fails with StoreConflict when an object with that ID exists. Resolves once this replica sees it. */
  async create(object: PolicyObject): Promise<number> {
    const revision = await this.#kv.create(objectKey(object.kind, object.ID), JSON.stringify(object)).catch((err: unknown) => {
      throw isSequenceMismatch(err) ? new StoreConflict('exists') : err;
    });
    await this.#seen(revision);
    return revision;
  }

  /** Replace; with `expectedRevision`, fails with StoreConflict when the object changed since. */
  async replace(object: PolicyObject, expectedRevision?: number): Promise<number> {
    const key = objectKey(object.kind, object.ID);
    const data = JSON.stringify(object);
    const revision = await (expectedRevision === undefined ? this.#kv.put(key, data) : this.#kv.update(key, data, expectedRevision)).catch((err: unknown) => {
      throw isSequenceMismatch(err) ? new StoreConflict('stale') : err;
    });
    await this.#seen(revision);
    return revision;
  }

  async remove(kind: ObjectKind, id: string, expectedRevision?: number): Promise<void> {
    await this.#kv.delete(objectKey(kind, id), expectedRevision === undefined ? undefined : { previousSeq: expectedRevision }).catch((err: unknown) => {
      throw isSequenceMismatch(err) ? new StoreConflict('stale') : err;
    });
    const status = await this.#kv.status();
    await this.#seen(status.streamInfo.state.last_seq);
  }

  /** Read-your-writes on this replica: wait (bounded) until the watch has applied `revision`. */
  #seen(revision: number): Promise<void> {
    if (this.#revision >= revision) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 2_000);
      this.#revisionWaiters.push({ revision, resolve: () => (clearTimeout(timer), resolve()) });
    });
  }

  async #startWatch(): Promise<void> {
    const status = await this.#kv.status();
    const lastSequence = status.streamInfo.state.last_seq;
    let initialDone = lastSequence === 0;
    let resolveInitial: () => void = () => undefined;
    const initial = new Promise<void>((resolve) => (resolveInitial = resolve));
    if (initialDone) resolveInitial();

    const watch = await this.#kv.watch({ key: '>' });
    void (async () => {
      for await (const entry of watch) {
        const before = this.#objects.get(entry.key);
        const parsed = entry.operation === 'PUT' ? safely(() => parseObjectEntry(entry.key, entry.string())) : undefined;
        if (parsed?.ok) {
          this.#objects.set(entry.key, parsed.value);
          this.#revisions.set(entry.key, entry.revision);
        } else {
          // A bad entry replaces what was under its key: no replica keeps an older object that others never saw.
          this.#objects.delete(entry.key);
          this.#revisions.delete(entry.key);
          if (parsed && !parsed.ok) this.#skipped(entry.key, entry.revision, parsed.problem);
        }
        this.#revision = Math.max(this.#revision, entry.revision);
        this.#revisionWaiters = this.#revisionWaiters.filter((w) => (w.revision <= this.#revision ? (w.resolve(), false) : true));
        const after = this.#objects.get(entry.key);
        if (!initialDone) {
          if (entry.revision >= lastSequence) {
            initialDone = true;
            this.#rebuild(true);
            resolveInitial();
          }
          continue;
        }
        this.#rebuild(routingFingerprint(before) !== routingFingerprint(after));
      }
    })();
    await initial;
    this.#rebuild(true);
    this.#ready = true;
  }

  #skipped(key: string, revision: number, problem: string): void {
    try {
      this.#onSkipped({ key, revision, problem });
    } catch {
      // A failing reporter must not stop the watch.
    }
  }

  #rebuild(routingChanged: boolean): void {
    this.#snapshot = Snapshot.build([...this.#objects.values()], this.#revision);
    for (const l of this.#listeners) {
      try {
        l(this.#snapshot, routingChanged);
      } catch {
        // A failing listener must not stop the watch (every later change would be missed).
      }
    }
  }
}

/** Seals write-only fields on the way in and opens them for comparison. */
export interface SecretCodec {
  seal(object: PolicyObject): PolicyObject;
  open(object: PolicyObject): PolicyObject;
  /** A stored object with a write-only field in clear (written before sealing existed) is rewritten. */
  needsSealing?(object: PolicyObject): boolean;
}

const plainCodec: SecretCodec = { seal: (o) => o, open: (o) => o };

function safely(parse: () => ReturnType<typeof parseObjectEntry>): ReturnType<typeof parseObjectEntry> {
  try {
    return parse();
  } catch {
    return { ok: false, problem: 'cannot be read' };
  }
}

/** The stored object opened, or undefined when its secrets cannot be opened (then it is written again). */
function openedOrUndefined(codec: SecretCodec, object: PolicyObject): PolicyObject | undefined {
  try {
    return codec.open(object);
  } catch {
    return undefined;
  }
}

/** The same content whatever the order of keys (stored objects are read back in schema order). */
function sameContent(a: PolicyObject | undefined, b: PolicyObject): boolean {
  if (!a) return false;
  const strip = (o: PolicyObject) => canonicalJson({ ...o, lastSeen: undefined, updateTime: undefined, createTime: undefined });
  return strip(a) === strip(b);
}

function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)))
      : v,
  );
}

/** What gateways care about; a processing unit's heartbeat changes nothing here. */
function routingFingerprint(object: PolicyObject | undefined): string {
  if (!object) return '';
  if (object.kind === 'processingunit') return JSON.stringify([object.associatedTags, object.address, object.namespace, object.status]);
  return JSON.stringify(object);
}

/** A write lost a race: the object exists already, or changed since it was read. */
export class StoreConflict extends Error {
  readonly reason: 'exists' | 'stale';
  constructor(reason: 'exists' | 'stale') {
    super(reason === 'exists' ? 'object exists' : 'object changed since it was read');
    this.name = 'StoreConflict';
    this.reason = reason;
  }
}

function isSequenceMismatch(err: unknown): boolean {
  return /wrong last sequence|key exists/i.test(String((err as Error)?.message ?? err));
}
