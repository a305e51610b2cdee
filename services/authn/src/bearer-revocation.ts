// A revoked user's bearer tokens (issue 12, point 7). A bearer token is not a
// session: nothing in Redis can be deleted to end it. Revoking a user records
// the time instead, per namespace subtree, and a bearer token of that user
// issued (`iat`) at or before it is refused. The record lives as long as the
// longest bearer token may (AUTHN_BEARER_MAX_LIFETIME_SECONDS): every token it
// covers has expired by the time it goes.
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { redisKeys, withinSelection } from '@microseg/contracts';

const keyOf = (name: string) => redisKeys.bearerRevoked(createHash('sha256').update(name).digest('hex').slice(0, 40));

/** A hash field: `r` (subtree) or `n` (this namespace only), then the namespace. */
const fieldOf = (namespace: string, recursive: boolean) => `${recursive ? 'r' : 'n'}${namespace}`;

/** The latest revocation time (ms) among hash fields that cover `namespace`; 0 when none. */
export function latestCovering(fields: Record<string, string>, namespace: string): number {
  let latest = 0;
  for (const [field, value] of Object.entries(fields)) {
    const recursive = field.startsWith('r');
    if (!recursive && !field.startsWith('n')) continue;
    const at = Number(value);
    if (Number.isFinite(at) && withinSelection(namespace, field.slice(1), recursive)) latest = Math.max(latest, at);
  }
  return latest;
}

export class BearerRevocations {
  readonly #redis: Redis;
  readonly #ttlSeconds: number;

  /** `ttlSeconds`: the longest a bearer token may live (plus the clock tolerance). */
  constructor(redis: Redis, ttlSeconds: number) {
    this.#redis = redis;
    this.#ttlSeconds = ttlSeconds;
  }

  /** From now on, `user`'s bearer tokens issued until now are refused in `namespace` (and below it when recursive). */
  async revoke(user: string, namespace: string, recursive: boolean, atMs = Date.now()): Promise<void> {
    const key = keyOf(user);
    await this.#redis.multi().hset(key, fieldOf(namespace, recursive), String(atMs)).expire(key, this.#ttlSeconds).exec();
  }

  /** When a token of one of these names (its email and subject) was last revoked for a service in `namespace`; 0 when never. */
  async revokedAtMs(names: readonly string[], namespace: string): Promise<number> {
    const unique = [...new Set(names.filter(Boolean))];
    if (unique.length === 0) return 0;
    const pipeline = this.#redis.pipeline();
    for (const name of unique) pipeline.hgetall(keyOf(name));
    const results = (await pipeline.exec()) ?? [];
    let latest = 0;
    for (const [err, fields] of results) {
      if (err) throw err;
      latest = Math.max(latest, latestCovering((fields ?? {}) as Record<string, string>, namespace));
    }
    return latest;
  }
}
