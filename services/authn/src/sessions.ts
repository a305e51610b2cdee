// Sessions in Redis as encrypted tickets (SPEC §6): the cookie holds id +
// secret; Redis holds the session sealed with a key derived from the secret,
// so a Redis dump alone reveals no token. Beside it, a small plaintext index
// (who, which service, until when — never a token) lets administrators list and
// revoke sessions and lets a back-channel logout find them by `sub` or `sid`.
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { redisKeys } from '@microseg/contracts';
import { newTicket, openSession, parseTicket, sealSession, type Ticket } from './ticket.ts';

export interface SessionRecord {
  v: 2;
  serviceId: string;
  namespace: string;
  /** For people: the email claim, else `sub`. */
  user: string;
  subject: string;
  issuer: string;
  /** The client id the tokens were issued to (`aud`). */
  audience: string;
  sid?: string;
  tags: string[];
  idToken: string;
  /** The IdP's access token, for services that pass it to the application (passAccessToken). Absent in sessions made before it was kept. */
  accessToken?: string;
  refreshToken?: string;
  createdAtMs: number;
  /** When the IdP's tokens expire; a refreshable session renews them before. */
  tokensExpireAtMs: number;
  /** When the current tokens were issued (the refresh schedule is a share of their lifetime). */
  tokensIssuedAtMs: number;
  /** Never extended, not even by a refresh. */
  absoluteExpiresAtMs: number;
  idleTimeoutMs: number;
}

export interface SessionMeta {
  id: string;
  serviceId: string;
  namespace: string;
  user: string;
  subject: string;
  issuer: string;
  sid: string;
  createdAtMs: number;
  expiresAtMs: number;
  refreshable: boolean;
}

export interface LoadedSession {
  id: string;
  ticket: Ticket;
  record: SessionRecord;
}

/** The names a user's sessions are revoked by: the user (email claim, else subject) and the subject. */
const namesOf = (r: { user: string; subject: string }) => [...new Set([r.user, r.subject].filter(Boolean))];

const hashOf = (...parts: string[]) => createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, 40);

/** How long Redis keeps the session: to the absolute end when it can be refreshed, else to the tokens' end. */
export function sessionEndMs(record: SessionRecord): number {
  return record.refreshToken ? record.absoluteExpiresAtMs : Math.min(record.tokensExpireAtMs, record.absoluteExpiresAtMs);
}

function metaOf(id: string, record: SessionRecord): SessionMeta {
  return {
    id,
    serviceId: record.serviceId,
    namespace: record.namespace,
    user: record.user,
    subject: record.subject,
    issuer: record.issuer,
    sid: record.sid ?? '',
    createdAtMs: record.createdAtMs,
    expiresAtMs: sessionEndMs(record),
    refreshable: Boolean(record.refreshToken),
  };
}

export class SessionStore {
  readonly #redis: Redis;
  constructor(redis: Redis) {
    this.#redis = redis;
  }

  /** Store a new session; returns the cookie value (the ticket) and the session's public id. */
  async create(record: SessionRecord): Promise<{ cookieValue: string; id: string; refreshable: boolean }> {
    const ticket = newTicket();
    await this.#write(ticket, record, true);
    return { cookieValue: ticket.cookieValue, id: ticket.id, refreshable: Boolean(record.refreshToken) };
  }

  /**
   * Rewrite a session in place (after a refresh): same ticket, so the browser's cookie stays valid.
   * Only while it still exists: a session revoked during the refresh stays revoked (false).
   */
  async replace(ticket: Ticket, record: SessionRecord): Promise<boolean> {
    const ttlMs = Math.max(1_000, sessionEndMs(record) - Date.now());
    const written = await this.#redis.set(redisKeys.session(ticket.id), sealSession(ticket, JSON.stringify(record)), 'PX', ttlMs, 'XX');
    if (written !== 'OK') return false;
    await this.#write(ticket, record, false);
    return true;
  }

  async #write(ticket: Ticket, record: SessionRecord, isNew: boolean): Promise<void> {
    const now = Date.now();
    const ttlMs = Math.max(1_000, sessionEndMs(record) - now);
    const meta = metaOf(ticket.id, record);
    const bySub = redisKeys.sessionsBySubject(hashOf(record.issuer, record.subject));
    const tx = this.#redis.multi();
    tx.set(redisKeys.session(ticket.id), sealSession(ticket, JSON.stringify(record)), 'PX', ttlMs);
    tx.del(redisKeys.sessionMeta(ticket.id));
    tx.hset(redisKeys.sessionMeta(ticket.id), Object.fromEntries(Object.entries(meta).map(([k, v]) => [k, String(v)])));
    tx.pexpire(redisKeys.sessionMeta(ticket.id), ttlMs);
    if (isNew) tx.set(redisKeys.sessionActive(ticket.id), '1', 'PX', record.idleTimeoutMs);
    tx.sadd(bySub, ticket.id);
    tx.pexpire(bySub, ttlMs, 'GT');
    tx.pexpire(bySub, ttlMs, 'NX');
    if (record.sid) {
      const bySid = redisKeys.sessionsBySid(hashOf(record.issuer, record.sid));
      tx.sadd(bySid, ticket.id);
      tx.pexpire(bySid, ttlMs, 'GT');
      tx.pexpire(bySid, ttlMs, 'NX');
    }
    for (const name of namesOf(record)) {
      const byName = redisKeys.sessionsByName(hashOf(name));
      tx.sadd(byName, ticket.id);
      tx.pexpire(byName, ttlMs, 'GT');
      tx.pexpire(byName, ttlMs, 'NX');
    }
    tx.zadd(redisKeys.sessionIndex, String(now + ttlMs), ticket.id);
    await tx.exec();
  }

  /**
   * Resolve a cookie value; undefined when unknown, forged, idle, past its absolute
   * lifetime or undecryptable. A successful lookup marks the session as active.
   */
  async lookup(cookieValue: string): Promise<LoadedSession | undefined> {
    const ticket = parseTicket(cookieValue);
    if (!ticket) return undefined;
    const [[getError, sealed], [existsError, active]] = (await this.#redis
      .pipeline()
      .get(redisKeys.session(ticket.id))
      .exists(redisKeys.sessionActive(ticket.id))
      .exec()) as [[Error | null, string | null], [Error | null, number]];
    // A pipeline reports failures per command: Redis being away is not "no such session".
    if (getError || existsError) throw getError ?? existsError ?? new Error('the Redis pipeline failed');
    if (!sealed) return undefined;
    const plain = openSession(ticket, sealed);
    if (!plain) return undefined;
    const record = JSON.parse(plain.toString('utf8')) as SessionRecord;
    if (record.v !== 2 || record.absoluteExpiresAtMs <= Date.now()) return undefined;
    if (!active) {
      // Idle too long: the session ends here, for every replica.
      await this.deleteById(ticket.id);
      return undefined;
    }
    await this.#redis.set(redisKeys.sessionActive(ticket.id), '1', 'PX', record.idleTimeoutMs);
    return { id: ticket.id, ticket, record };
  }

  /** Re-read a session the caller already holds the ticket of (after taking the refresh lock). */
  async reload(ticket: Ticket): Promise<SessionRecord | undefined> {
    const sealed = await this.#redis.get(redisKeys.session(ticket.id));
    const plain = sealed ? openSession(ticket, sealed) : undefined;
    return plain ? (JSON.parse(plain.toString('utf8')) as SessionRecord) : undefined;
  }

  /** Only the holder of the whole ticket may delete by cookie: an id with a forged secret deletes nothing. */
  async deleteByCookie(cookieValue: string): Promise<{ meta: SessionMeta | undefined; record: SessionRecord } | undefined> {
    const ticket = parseTicket(cookieValue);
    if (!ticket) return undefined;
    const record = await this.reload(ticket);
    if (!record) return undefined;
    const meta = await this.deleteById(ticket.id);
    return { meta, record };
  }

  /** Delete a session and its index entries (administrators, back-channel logout, idle, failed refresh). */
  async deleteById(id: string): Promise<SessionMeta | undefined> {
    const meta = await this.meta(id);
    const tx = this.#redis.multi();
    tx.del(redisKeys.session(id), redisKeys.sessionMeta(id), redisKeys.sessionActive(id));
    tx.zrem(redisKeys.sessionIndex, id);
    if (meta) {
      tx.srem(redisKeys.sessionsBySubject(hashOf(meta.issuer, meta.subject)), id);
      if (meta.sid) tx.srem(redisKeys.sessionsBySid(hashOf(meta.issuer, meta.sid)), id);
      for (const name of namesOf(meta)) tx.srem(redisKeys.sessionsByName(hashOf(name)), id);
    }
    await tx.exec();
    return meta;
  }

  async meta(id: string): Promise<SessionMeta | undefined> {
    const h = await this.#redis.hgetall(redisKeys.sessionMeta(id));
    if (!h || !h.id) return undefined;
    return {
      id: h.id,
      serviceId: h.serviceId ?? '',
      namespace: h.namespace ?? '',
      user: h.user ?? '',
      subject: h.subject ?? '',
      issuer: h.issuer ?? '',
      sid: h.sid ?? '',
      createdAtMs: Number(h.createdAtMs),
      expiresAtMs: Number(h.expiresAtMs),
      refreshable: h.refreshable === 'true',
    };
  }

  async idsBySubject(issuer: string, subject: string): Promise<string[]> {
    return this.#redis.smembers(redisKeys.sessionsBySubject(hashOf(issuer, subject)));
  }

  /**
   * Live sessions of a user, by the user's name (email claim) or subject: from the by-name index, without
   * reading every session. Entries of sessions that ended since are skipped (their meta is gone).
   */
  async byName(name: string): Promise<SessionMeta[]> {
    const ids = await this.#redis.smembers(redisKeys.sessionsByName(hashOf(name)));
    const metas = await Promise.all(ids.map((id) => this.meta(id)));
    return metas.filter((m): m is SessionMeta => m !== undefined && (m.user === name || m.subject === name));
  }

  /**
   * Adds sessions created before the by-name index existed, once per Redis. Returns how many sessions were
   * indexed, or undefined when it was done already.
   */
  async completeNameIndex(): Promise<number | undefined> {
    // Marked done only at the end: replicas starting together may both do it (it is idempotent); one that
    // stops halfway leaves it to the next start.
    if (await this.#redis.exists(redisKeys.sessionsByNameComplete)) return undefined;
    const now = Date.now();
    let indexed = 0;
    for (const meta of await this.list()) {
      const ttlMs = Math.max(1_000, meta.expiresAtMs - now);
      const tx = this.#redis.multi();
      for (const name of namesOf(meta)) {
        const byName = redisKeys.sessionsByName(hashOf(name));
        tx.sadd(byName, meta.id);
        tx.pexpire(byName, ttlMs, 'GT');
        tx.pexpire(byName, ttlMs, 'NX');
      }
      await tx.exec();
      indexed++;
    }
    await this.#redis.set(redisKeys.sessionsByNameComplete, new Date().toISOString());
    return indexed;
  }

  async idsBySid(issuer: string, sid: string): Promise<string[]> {
    return this.#redis.smembers(redisKeys.sessionsBySid(hashOf(issuer, sid)));
  }

  /**
   * Live sessions that `match`, oldest first, at most `limit` of them. The whole index is read, a page at a
   * time, so that no session escapes a filter because others came first (revoking a user's sessions must
   * find every one of them, however many sessions there are).
   */
  async list(match: (meta: SessionMeta) => boolean = () => true, limit = Infinity): Promise<SessionMeta[]> {
    const now = Date.now();
    await this.#redis.zremrangebyscore(redisKeys.sessionIndex, '-inf', now);
    const found: SessionMeta[] = [];
    for (let offset = 0; found.length < limit; offset += LIST_PAGE) {
      const ids = await this.#redis.zrangebyscore(redisKeys.sessionIndex, now, '+inf', 'LIMIT', offset, LIST_PAGE);
      if (ids.length === 0) break;
      const metas = await Promise.all(ids.map((id) => this.meta(id)));
      for (const m of metas) if (m && match(m) && found.length < limit) found.push(m);
      if (ids.length < LIST_PAGE) break;
    }
    return found;
  }
}

const LIST_PAGE = 1_000;
