// Objects live in a JetStream KV bucket so every replica and every restart
// sees the same ones. Each replica keeps an in-memory snapshot fed by a watch;
// decisions are served from that snapshot.
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/nats-core';
import { buckets, type ObjectKind, type PolicyObject } from '@microseg/contracts';
import { Snapshot } from './snapshot.ts';

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

  private constructor(kv: KV) {
    this.#kv = kv;
  }

  static async open(nc: NatsConnection): Promise<ObjectStore> {
    const kv = await new Kvm(nc).create(buckets.objects, { history: 5 });
    const store = new ObjectStore(kv);
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
    if (current && sameContent(codec.open(current), object) && !codec.needsSealing?.(current)) {
      const stale = object.kind === 'processingunit' && current.kind === 'processingunit' && Date.parse(object.lastSeen ?? '') - Date.parse(current.lastSeen ?? '') >= HEARTBEAT_MS;
      if (!stale) return 'unchanged';
      await this.#kv.put(key, JSON.stringify(codec.seal(object)));
      return 'heartbeat';
    }
    await this.#kv.put(key, JSON.stringify(codec.seal(object)));
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
        if (entry.operation === 'PUT') {
          this.#objects.set(entry.key, entry.json<PolicyObject>());
          this.#revisions.set(entry.key, entry.revision);
        } else {
          this.#objects.delete(entry.key);
          this.#revisions.delete(entry.key);
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

  #rebuild(routingChanged: boolean): void {
    this.#snapshot = Snapshot.build([...this.#objects.values()], this.#revision);
    for (const l of this.#listeners) l(this.#snapshot, routingChanged);
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

function sameContent(a: PolicyObject, b: PolicyObject): boolean {
  const strip = (o: PolicyObject) => JSON.stringify({ ...o, lastSeen: undefined, updateTime: undefined, createTime: undefined });
  return strip(a) === strip(b);
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
