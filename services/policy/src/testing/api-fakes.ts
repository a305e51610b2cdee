// Fakes for unit tests of the API plugins and the NATS handlers: an object store in memory that keeps
// revisions and refuses stale writes as the KV bucket does, a token table, and an app that mounts a plugin
// behind the real authentication plugin and the shared error handler, for app.inject().
import Fastify, { type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import type { ObjectKind, PolicyObject } from '@microseg/contracts';
import { registerErrorHandling } from '@microseg/runtime';
import { AuthFailureLimiter } from '../api/auth-failures.ts';
import { authentication } from '../api/plugins/auth.ts';
import type { Principal, TokenStore } from '../api/tokens.ts';
import { Snapshot } from '../snapshot.ts';
import { StoreConflict, type ObjectStore } from '../store.ts';

type Entry = { object: PolicyObject; revision: number };

/** The parts of ObjectStore the API and the handlers use, in memory. */
export class MemoryObjectStore implements Pick<ObjectStore, 'entry' | 'create' | 'replace' | 'remove' | 'put'> {
  readonly #entries = new Map<string, Entry>();
  #revision = 0;
  #snapshot = Snapshot.build([], 0);
  /** Every write, in order: what was written (as stored, sealed) and how. */
  readonly writes: Array<{ op: 'create' | 'replace' | 'remove' | 'put'; key: string; object?: PolicyObject }> = [];

  constructor(objects: readonly PolicyObject[] = []) {
    for (const object of objects) this.#set(object);
    this.writes.length = 0;
  }

  get snapshot(): Snapshot {
    return this.#snapshot;
  }

  entry(kind: ObjectKind, id: string): Entry | undefined {
    return this.#entries.get(`${kind}.${id}`);
  }

  async create(object: PolicyObject): Promise<number> {
    if (this.#entries.has(keyOf(object))) throw new StoreConflict('exists');
    this.writes.push({ op: 'create', key: keyOf(object), object });
    return this.#set(object);
  }

  async replace(object: PolicyObject, expectedRevision?: number): Promise<number> {
    const current = this.#entries.get(keyOf(object));
    if (expectedRevision !== undefined && current?.revision !== expectedRevision) throw new StoreConflict('stale');
    this.writes.push({ op: 'replace', key: keyOf(object), object });
    return this.#set(object);
  }

  async remove(kind: ObjectKind, id: string, expectedRevision?: number): Promise<void> {
    const key = `${kind}.${id}`;
    if (expectedRevision !== undefined && this.#entries.get(key)?.revision !== expectedRevision) throw new StoreConflict('stale');
    this.writes.push({ op: 'remove', key });
    this.#entries.delete(key);
    this.#rebuild(++this.#revision);
  }

  /** Like the real put: 'unchanged' when the same JSON is stored (no heartbeat logic). */
  async put(object: PolicyObject): Promise<'created' | 'updated' | 'unchanged'> {
    const current = this.#entries.get(keyOf(object));
    if (current && JSON.stringify(current.object) === JSON.stringify(object)) return 'unchanged';
    this.writes.push({ op: 'put', key: keyOf(object), object });
    this.#set(object);
    return current ? 'updated' : 'created';
  }

  #set(object: PolicyObject): number {
    const revision = ++this.#revision;
    this.#entries.set(keyOf(object), { object, revision });
    this.#rebuild(revision);
    return revision;
  }

  #rebuild(revision: number): void {
    this.#snapshot = Snapshot.build(
      [...this.#entries.values()].map((e) => e.object),
      revision,
    );
  }
}

const keyOf = (object: PolicyObject) => `${object.kind}.${object.ID}`;

/** Tokens that stand for these principals (`Bearer <key>`). */
export function fakeTokens(principals: Record<string, Principal>): Pick<TokenStore, 'authenticate'> {
  return { authenticate: (token) => principals[token] };
}

export const principals = {
  rootAdmin: { tokenID: 'root-admin-id', name: 'root-admin', role: 'admin', namespace: '/' },
  acmeAdmin: { tokenID: 'acme-admin-id', name: 'acme-admin', role: 'admin', namespace: '/acme' },
  acmeEditor: { tokenID: 'acme-editor-id', name: 'acme-editor', role: 'editor', namespace: '/acme' },
  acmeViewer: { tokenID: 'acme-viewer-id', name: 'acme-viewer', role: 'viewer', namespace: '/acme' },
} satisfies Record<string, Principal>;

/** An app with `plugin` behind the real authentication (the tokens of `principals`, by their keys). */
export async function pluginApp<O extends object>(plugin: FastifyPluginAsync<O>, options: O): Promise<FastifyInstance> {
  const app = Fastify();
  registerErrorHandling(app);
  await app.register(async (api) => {
    await api.register(authentication, { tokens: fakeTokens(principals), authFailures: new AuthFailureLimiter({ burst: 1_000, perMinute: 1_000 }) });
    await api.register(plugin, options);
  });
  await app.ready();
  return app;
}

export interface InjectOptions {
  /** A key of `principals`; none: no Authorization header. */
  as?: keyof typeof principals;
  ns?: string;
  body?: unknown;
  headers?: Record<string, string>;
}

export async function call(app: FastifyInstance, method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, options: InjectOptions = {}) {
  const headers: Record<string, string> = { ...options.headers };
  if (options.as) headers.authorization = `Bearer ${options.as}`;
  if (options.ns !== undefined) headers['x-namespace'] = options.ns;
  const res = await app.inject({ method, url, headers, ...(options.body === undefined ? {} : { payload: options.body as object }) });
  let body: any;
  try {
    body = res.body ? JSON.parse(res.body) : undefined;
  } catch {
    body = undefined;
  }
  return { status: res.statusCode, body, text: res.body, headers: res.headers };
}
