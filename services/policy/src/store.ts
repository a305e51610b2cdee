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
  async put(object: PolicyObject): Promise<'created' | 'updated' | 'heartbeat' | 'unchanged'> {
    const key = objectKey(object.kind, object.ID);
    const current = this.#objects.get(key);
    if (current && sameContent(current, object)) {
      const stale = object.kind === 'processingunit' && current.kind === 'processingunit' && Date.parse(object.lastSeen ?? '') - Date.parse(current.lastSeen ?? '') >= HEARTBEAT_MS;
      if (!stale) return 'unchanged';
      await this.#kv.put(key, JSON.stringify(object));
      return 'heartbeat';
    }
    await this.#kv.put(key, JSON.stringify(object));
    return current ? 'updated' : 'created';
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
        if (entry.operation === 'PUT') this.#objects.set(entry.key, entry.json<PolicyObject>());
        else this.#objects.delete(entry.key);
        this.#revision = Math.max(this.#revision, entry.revision);
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
