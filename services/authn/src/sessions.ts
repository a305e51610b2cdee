// Sessions in Redis as encrypted tickets (SPEC §6): the cookie holds id +
// secret; Redis holds only the session sealed with a key derived from the secret.
import type { Redis } from 'ioredis';
import { redisKeys } from '@microseg/contracts';
import { newTicket, openSession, parseTicket, sealSession } from './ticket.ts';

export interface SessionRecord {
  v: 1;
  serviceId: string;
  subject: string;
  issuer: string;
  sid?: string;
  tags: string[];
  idToken: string;
  refreshToken?: string;
  createdAtMs: number;
  expiresAtMs: number;
}

export class SessionStore {
  readonly #redis: Redis;
  constructor(redis: Redis) {
    this.#redis = redis;
  }

  /** Store a new session; returns the cookie value (the ticket). */
  async create(record: SessionRecord): Promise<string> {
    const ticket = newTicket();
    const ttlMs = Math.max(1_000, record.expiresAtMs - Date.now());
    await this.#redis.set(redisKeys.session(ticket.id), sealSession(ticket, JSON.stringify(record)), 'PX', ttlMs);
    return ticket.cookieValue;
  }

  /** Resolve a cookie value; undefined when unknown, forged, expired or undecryptable. */
  async lookup(cookieValue: string): Promise<SessionRecord | undefined> {
    const ticket = parseTicket(cookieValue);
    if (!ticket) return undefined;
    const sealed = await this.#redis.get(redisKeys.session(ticket.id));
    if (!sealed) return undefined;
    const plain = openSession(ticket, sealed);
    if (!plain) return undefined;
    const record = JSON.parse(plain.toString('utf8')) as SessionRecord;
    if (record.v !== 1 || record.expiresAtMs <= Date.now()) return undefined;
    return record;
  }

  /** Only the holder of the whole ticket may delete: an id with a forged secret deletes nothing. */
  async delete(cookieValue: string): Promise<void> {
    const ticket = parseTicket(cookieValue);
    if (!ticket) return;
    const sealed = await this.#redis.get(redisKeys.session(ticket.id));
    if (sealed && openSession(ticket, sealed)) await this.#redis.del(redisKeys.session(ticket.id));
  }
}
