// Flows aggregated per minute and events, in Redis. Each stored event id is
// remembered, in the same atomic script, so a redelivered message is not
// counted twice, whichever replica receives it.
//
// Reading: both indexes are sorted sets read newest first in batches, filtered
// here, and paged with a cursor (score + member) that stays exact while new
// entries arrive. The flow index is scored by the aggregate's minute, which
// never changes, so an aggregate keeps its place between pages.
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { redisKeys } from '@microseg/contracts';
import type { FlowEvent, LogEvent } from '@microseg/proto/events';
import { eventFields, flowFields, matcher, type FieldFilter } from './filters.ts';
import { eventRecordOf, flowRecordOf, inNamespace, MINUTE_MS, type FlowRecord, type StoredEvent, type StoredFlow } from './records.ts';

export type { FlowRecord, StoredEvent, StoredFlow } from './records.ts';

const RECORD_FLOW = `
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) == false then return 0 end
redis.call('HSETNX', KEYS[2], 'record', ARGV[2])
local first = tonumber(redis.call('HGET', KEYS[2], 'firstSeen') or '0')
if first == 0 or tonumber(ARGV[3]) < first then redis.call('HSET', KEYS[2], 'firstSeen', ARGV[3]) end
local last = tonumber(redis.call('HGET', KEYS[2], 'lastSeen') or '0')
if tonumber(ARGV[3]) > last then redis.call('HSET', KEYS[2], 'lastSeen', ARGV[3]) end
redis.call('HINCRBY', KEYS[2], 'count', ARGV[6])
redis.call('EXPIRE', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[5], ARGV[4])
return 1
`;

const RECORD_EVENT = `
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) == false then return 0 end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
return 1
`;

/** Where a page ended: the score and member of the last entry looked at. */
export interface Cursor {
  score: number;
  member: string;
}

export interface Page<T> {
  items: T[];
  /** Present when there may be more: pass it back for the next (older) page. */
  next?: Cursor;
}

interface CommonQuery {
  namespace?: string;
  recursive?: boolean;
  /** Inclusive bounds, ms since the epoch. */
  from?: number;
  to?: number;
  /** Case-insensitive text that must appear in one of the fields. */
  q?: string;
  /** Field filters (filters.ts): clicked values to keep or to leave out. */
  filters?: readonly FieldFilter[];
  limit: number;
  cursor?: Cursor;
}

export interface FlowQuery extends CommonQuery {
  action?: 'Accept' | 'Reject';
}

export interface EventQuery extends CommonQuery {
  levels?: readonly string[];
  categories?: readonly string[];
}

const BATCH = 500;
/** How many entries one request examines at most; past that it answers with what it has and a cursor. */
const SCAN_BOUND = 50_000;

export class FlowlogStore {
  readonly #redis: Redis;
  readonly #retentionSeconds: number;

  constructor(redis: Redis, retentionHours: number) {
    this.#redis = redis;
    this.#retentionSeconds = Math.ceil(retentionHours * 3600);
  }

  /** Returns false when the event was already counted. */
  async recordFlow(flow: FlowEvent): Promise<boolean> {
    const record = flowRecordOf(flow);
    const aggregate = createHash('sha256').update(JSON.stringify(record)).digest('hex').slice(0, 32);
    const stored = await this.#redis.eval(
      RECORD_FLOW,
      3,
      redisKeys.seenEvent(flow.id),
      redisKeys.flow(aggregate),
      redisKeys.flowIndex,
      String(this.#retentionSeconds),
      JSON.stringify(record),
      String(Number(flow.timeMs)),
      aggregate,
      String(record.minute),
      // An event may stand for several identical decisions (the gateway aggregates).
      String(Math.max(1, flow.count)),
    );
    return stored === 1;
  }

  /** Returns false when the event was already stored. */
  async recordEvent(event: LogEvent): Promise<boolean> {
    const stored = eventRecordOf(event);
    const result = await this.#redis.eval(
      RECORD_EVENT,
      2,
      redisKeys.seenEvent(event.id),
      redisKeys.eventIndex,
      String(this.#retentionSeconds),
      String(stored.time),
      JSON.stringify(stored),
    );
    return result === 1;
  }

  /** Drop what is older than the retention. */
  async trim(): Promise<void> {
    const cutoff = Date.now() - this.#retentionSeconds * 1000;
    await this.#redis.zremrangebyscore(redisKeys.flowIndex, '-inf', cutoff - MINUTE_MS);
    await this.#redis.zremrangebyscore(redisKeys.eventIndex, '-inf', cutoff);
  }

  /** Flow aggregates, newest minute first. */
  async flows(query: FlowQuery): Promise<Page<StoredFlow>> {
    const text = query.q?.toLowerCase();
    const passes = matcher(flowFields, query.filters);
    // An aggregate of minute m holds flows from m to m + 59 999 ms.
    const min = query.from === undefined ? '-inf' : Math.floor(query.from / MINUTE_MS) * MINUTE_MS;
    const max = query.to ?? '+inf';
    return this.#page(redisKeys.flowIndex, min, max, query, async (entries) => {
      const pipeline = this.#redis.pipeline();
      for (const e of entries) pipeline.hgetall(redisKeys.flow(e.member));
      const results = (await pipeline.exec()) ?? [];
      return results.map(([, value]) => {
        const h = value as Record<string, string> | null;
        if (!h?.record) return undefined;
        const flow: StoredFlow = {
          ...(JSON.parse(h.record) as FlowRecord),
          count: Number(h.count ?? 0),
          firstSeen: Number(h.firstSeen ?? 0),
          lastSeen: Number(h.lastSeen ?? 0),
        };
        flow.byDefault ??= false;
        if (!inNamespace(flow.namespace, query.namespace, query.recursive)) return undefined;
        if (query.action && flow.action !== query.action) return undefined;
        if (query.from !== undefined && flow.lastSeen < query.from) return undefined;
        if (query.to !== undefined && flow.firstSeen > query.to) return undefined;
        if (text && !flowText(flow).includes(text)) return undefined;
        if (!passes(flow)) return undefined;
        return flow;
      });
    });
  }

  /** Events, newest first. */
  async events(query: EventQuery): Promise<Page<StoredEvent>> {
    const text = query.q?.toLowerCase();
    const levels = query.levels?.length ? new Set(query.levels.map((l) => l.toLowerCase())) : undefined;
    const categories = query.categories?.length ? new Set(query.categories.map((c) => c.toLowerCase())) : undefined;
    const passes = matcher(eventFields, query.filters);
    const page = await this.#page(redisKeys.eventIndex, query.from ?? '-inf', query.to ?? '+inf', query, async (entries) =>
      entries.map(({ member }) => {
        const e = JSON.parse(member) as StoredEvent;
        if (!inNamespace(e.namespace, query.namespace, query.recursive)) return undefined;
        if (levels && !levels.has(e.level.toLowerCase())) return undefined;
        if (categories && !categories.has(e.category.toLowerCase())) return undefined;
        if (text && !eventText(e).includes(text)) return undefined;
        if (!passes(e)) return undefined;
        return e;
      }),
    );
    // The member is the whole event; its `{"id":"…"` start orders it among events of the same time just as well.
    if (page.next?.member.endsWith('}'))
      page.next = { score: page.next.score, member: `{"id":${JSON.stringify((JSON.parse(page.next.member) as StoredEvent).id)}` };
    return page;
  }

  /**
   * Reads `key` from `max` down to `min`, newest first, starting after
   * `query.cursor`; `accept` turns a batch of entries into items (undefined:
   * filtered out), in order. Stops at `query.limit` items or the scan bound.
   */
  async #page<T>(
    key: string,
    min: number | string,
    max: number | string,
    query: CommonQuery,
    accept: (entries: Cursor[]) => Promise<Array<T | undefined>>,
  ): Promise<Page<T>> {
    const items: T[] = [];
    let position = query.cursor;
    let upper: number | string = max;
    let examined = 0;
    const take = async (entries: Cursor[]): Promise<boolean> => {
      const accepted = await accept(entries);
      for (let i = 0; i < entries.length; i++) {
        position = entries[i]!;
        examined++;
        const item = accepted[i];
        if (item !== undefined) items.push(item);
        if (items.length >= query.limit) return true;
      }
      return false;
    };
    for (;;) {
      if (position) {
        // The rest of the entries that share the last score (ordered by member, descending).
        const cursor: Cursor = position;
        if (withinBounds(cursor.score, min, max)) {
          const same = pairs(await this.#redis.zrevrangebyscore(key, cursor.score, cursor.score, 'WITHSCORES')).filter((e) => e.member < cursor.member);
          if (await take(same)) return { items, next: position };
        }
        upper = `(${cursor.score}`;
      }
      if (examined >= SCAN_BOUND) return { items, next: position };
      const batch = pairs(await this.#redis.zrevrangebyscore(key, upper, min, 'WITHSCORES', 'LIMIT', 0, BATCH));
      if (batch.length === 0) return { items };
      if (await take(batch)) return { items, next: position };
      if (batch.length < BATCH) return { items };
    }
  }
}

function withinBounds(score: number, min: number | string, max: number | string): boolean {
  return (typeof min !== 'number' || score >= min) && (typeof max !== 'number' || score <= max);
}

function pairs(flat: string[]): Cursor[] {
  const out: Cursor[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push({ member: flat[i]!, score: Number(flat[i + 1]) });
  return out;
}

function flowText(f: StoredFlow): string {
  return [f.source.name, f.source.ip, f.destination.name, f.destination.ip, f.URI, f.user, f.policyName, f.dropReason, f.action, f.namespace]
    .join('\n')
    .toLowerCase();
}

function eventText(e: StoredEvent): string {
  return [e.title, e.content, e.targetIdentity, e.targetID, e.namespace, e.category, e.origin].join('\n').toLowerCase();
}
