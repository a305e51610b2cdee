// The Redis ACL file that enforces contracts' redisUsers: one user per service,
// limited to its key prefix and to data commands; an `admin` user for operators
// and tests; the default (passwordless) user off. Passwords are stored as
// SHA-256 hashes only, as Redis allows (`#<hex>`).
import { createHash } from 'node:crypto';
import { redisUsers, type RedisUser } from '@microseg/contracts';

export type RedisIdentity = RedisUser | 'admin';
export const redisIdentities: readonly RedisIdentity[] = [...(Object.keys(redisUsers) as RedisUser[]), 'admin'];

export const passwordHash = (password: string) => createHash('sha256').update(password).digest('hex');

/**
 * Data commands, scripts (whose keys are checked against the same patterns) and transactions; nothing
 * that reads or changes the server's configuration, other clients or all keys (`@dangerous`: KEYS, FLUSHALL,
 * CONFIG, DEBUG, …). INFO stays allowed: the client's ready check reads it.
 */
const SERVICE_COMMANDS = '-@all +@read +@write +@keyspace +@string +@hash +@set +@sortedset +@list +@scripting +@transaction +@connection -@dangerous +info';

export function renderAcl(passwords: Readonly<Record<RedisIdentity, string>>): string {
  // Redis ACL files take no comments: this one is generated from packages/contracts/src/access.ts.
  const lines = ['user default off resetkeys resetchannels -@all'];
  for (const identity of redisIdentities) {
    const hash = passwordHash(passwords[identity]);
    if (identity === 'admin') lines.push(`user admin on #${hash} ~* &* +@all`);
    else lines.push(`user ${identity} on #${hash} resetkeys ~${redisUsers[identity].keyPattern} resetchannels ${SERVICE_COMMANDS}`);
  }
  return `${lines.join('\n')}\n`;
}
