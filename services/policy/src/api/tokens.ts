// API tokens: `mst_<id>_<secret>`. Shown once at creation; the store keeps
// only the SHA-256 of the secret, compared in constant time. Roles apply to a
// namespace subtree.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/nats-core';
import { buckets } from '@microseg/contracts';
import { parseTokenEntry } from '../stored-entries.ts';
import type { SkippedEntry } from '../store.ts';

export type Role = 'viewer' | 'editor' | 'admin';
export const roles: readonly Role[] = ['viewer', 'editor', 'admin'];

export interface TokenRecord {
  ID: string;
  name: string;
  role: Role;
  /** The subtree the token may act on. */
  namespace: string;
  secretHash: string;
  createTime: string;
}

export interface Principal {
  tokenID: string;
  name: string;
  role: Role;
  namespace: string;
}

const TOKEN = /^mst_([a-f0-9]{16})_([A-Za-z0-9_-]{43})$/;
const hash = (secret: string) => createHash('sha256').update(secret).digest();

export function newToken(): { id: string; secret: string; token: string } {
  const id = randomBytes(8).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  return { id, secret, token: `mst_${id}_${secret}` };
}

export function allows(role: Role, action: 'read' | 'write' | 'admin'): boolean {
  if (action === 'read') return true;
  if (action === 'write') return role === 'editor' || role === 'admin';
  return role === 'admin';
}

export class TokenStore {
  readonly #kv: KV;
  readonly #tokens = new Map<string, TokenRecord>();
  readonly #bootstrap: { id: string; hash: Buffer } | undefined;

  private constructor(kv: KV, bootstrap: { id: string; hash: Buffer } | undefined) {
    this.#kv = kv;
    this.#bootstrap = bootstrap;
  }

  /**
   * `bootstrapToken` is the administrator's token from the environment; without
   * one, a token is generated at first start into `bootstrapFile`.
   */
  static async open(
    nc: NatsConnection,
    bootstrapToken: string | undefined,
    bootstrapFile: string,
    log: (msg: string) => void,
    onSkipped: (skipped: SkippedEntry) => void = () => undefined,
  ): Promise<TokenStore> {
    const kv = await new Kvm(nc).create(buckets.apiTokens, { history: 1 });
    let token = bootstrapToken;
    if (!token) {
      try {
        token = (await readFile(bootstrapFile, 'utf8')).trim();
      } catch {
        token = newToken().token;
        await mkdir(dirname(bootstrapFile), { recursive: true, mode: 0o700 });
        await writeFile(bootstrapFile, `${token}\n`, { mode: 0o600, flag: 'wx' }).catch(() => undefined);
        token = (await readFile(bootstrapFile, 'utf8')).trim();
        log(`generated the bootstrap admin token into ${bootstrapFile} (use it with msctl; keep it secret)`);
      }
    }
    const m = TOKEN.exec(token);
    if (!m)
      throw new Error(
        'the bootstrap admin token has the wrong format: expected mst_<16 hex>_<43 base64url>; generate one with `msctl token new` or leave it unset',
      );
    const store = new TokenStore(kv, { id: m[1]!, hash: hash(m[2]!) });
    await store.#watch(onSkipped);
    return store;
  }

  /** An entry that is not a token record under its own ID is skipped (`onSkipped`): it authenticates nobody. */
  async #watch(onSkipped: (skipped: SkippedEntry) => void): Promise<void> {
    const watch = await this.#kv.watch({ key: '>' });
    const status = await this.#kv.status();
    const last = status.streamInfo.state.last_seq;
    let initial: (() => void) | undefined;
    const loaded = new Promise<void>((r) => (initial = r));
    if (last === 0) initial!();
    void (async () => {
      for await (const e of watch) {
        let parsed: ReturnType<typeof parseTokenEntry> | undefined;
        try {
          parsed = e.operation === 'PUT' ? parseTokenEntry(e.key, e.string()) : undefined;
        } catch {
          parsed = { ok: false, problem: 'cannot be read' };
        }
        if (parsed?.ok) this.#tokens.set(e.key, parsed.value);
        else this.#tokens.delete(e.key);
        if (parsed && !parsed.ok) {
          try {
            onSkipped({ key: e.key, revision: e.revision, problem: parsed.problem });
          } catch {
            // A failing reporter must not stop the watch.
          }
        }
        if (e.revision >= last) initial?.();
      }
    })();
    await loaded;
  }

  /** The principal a bearer token stands for, or undefined (unknown, revoked, malformed). */
  authenticate(bearer: string): Principal | undefined {
    const m = TOKEN.exec(bearer);
    if (!m) return undefined;
    const [, id, secret] = m as unknown as [string, string, string];
    const presented = hash(secret);
    if (this.#bootstrap && id === this.#bootstrap.id) {
      return timingSafeEqual(presented, this.#bootstrap.hash) ? { tokenID: id, name: 'bootstrap-admin', role: 'admin', namespace: '/' } : undefined;
    }
    const record = this.#tokens.get(id);
    if (!record) return undefined;
    const stored = Buffer.from(record.secretHash, 'hex');
    if (stored.length !== presented.length || !timingSafeEqual(presented, stored)) return undefined;
    return { tokenID: record.ID, name: record.name, role: record.role, namespace: record.namespace };
  }

  list(): TokenRecord[] {
    return [...this.#tokens.values()];
  }

  get(idOrName: string): TokenRecord | undefined {
    return this.#tokens.get(idOrName) ?? this.list().find((t) => t.name === idOrName);
  }

  /** Create a token; the returned secret is the only copy. */
  async create(name: string, role: Role, namespace: string): Promise<{ record: TokenRecord; token: string }> {
    const { id, secret, token } = newToken();
    const record: TokenRecord = { ID: id, name, role, namespace, secretHash: hash(secret).toString('hex'), createTime: new Date().toISOString() };
    await this.#kv.create(id, JSON.stringify(record));
    this.#tokens.set(id, record);
    return { record, token };
  }

  async revoke(id: string): Promise<void> {
    await this.#kv.delete(id);
    this.#tokens.delete(id);
  }
}
