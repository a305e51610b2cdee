// Flows aggregated per minute and events, in Redis. Each stored event id is
// remembered, in the same atomic script, so a redelivered message is not
// counted twice, whichever replica receives it.
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { redisKeys } from '@microseg/contracts';
import type { FlowEvent, LogEvent } from '@microseg/proto/events';

const RECORD_FLOW = `
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) == false then return 0 end
redis.call('HSETNX', KEYS[2], 'record', ARGV[2])
redis.call('HSETNX', KEYS[2], 'firstSeen', ARGV[3])
local last = tonumber(redis.call('HGET', KEYS[2], 'lastSeen') or '0')
if tonumber(ARGV[3]) > last then redis.call('HSET', KEYS[2], 'lastSeen', ARGV[3]) end
redis.call('HINCRBY', KEYS[2], 'count', 1)
redis.call('EXPIRE', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[3], 'GT', ARGV[3], ARGV[4])
return 1
`;

const RECORD_EVENT = `
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) == false then return 0 end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
return 1
`;

export interface FlowRecord {
  namespace: string;
  source: { type: string; id: string; name: string; ip: string };
  destination: { type: string; id: string; name: string; ip: string; port: number; namespace: string };
  serviceID: string;
  URI: string;
  action: string;
  dropReason: string;
  policyID: string;
  policyName: string;
  user: string;
  minute: number;
}

export interface StoredFlow extends FlowRecord {
  count: number;
  firstSeen: number;
  lastSeen: number;
}

export interface StoredEvent {
  id: string;
  time: number;
  level: string;
  category: string;
  title: string;
  content: string;
  targetIdentity: string;
  targetID: string;
  namespace: string;
  origin: string;
}

export class FlowlogStore {
  readonly #redis: Redis;
  readonly #retentionSeconds: number;

  constructor(redis: Redis, retentionHours: number) {
    this.#redis = redis;
    this.#retentionSeconds = Math.ceil(retentionHours * 3600);
  }

  /** Returns false when the event was already counted. */
  async recordFlow(flow: FlowEvent): Promise<boolean> {
    const time = Number(flow.timeMs);
    const record: FlowRecord = {
      namespace: flow.namespace,
      source: { type: flow.source?.type ?? '', id: flow.source?.id ?? '', name: flow.source?.name ?? '', ip: flow.source?.ip ?? '' },
      destination: {
        type: flow.destination?.type ?? '',
        id: flow.destination?.id ?? '',
        name: flow.destination?.name ?? '',
        ip: flow.destination?.ip ?? '',
        port: flow.destination?.port ?? 0,
        namespace: flow.destination?.namespace ?? '',
      },
      serviceID: flow.serviceId,
      URI: flow.uri,
      action: flow.action,
      dropReason: flow.dropReason,
      policyID: flow.policyId,
      policyName: flow.policyName,
      user: flow.user,
      minute: Math.floor(time / 60_000) * 60_000,
    };
    const aggregate = createHash('sha256').update(JSON.stringify(record)).digest('hex').slice(0, 32);
    const stored = await this.#redis.eval(
      RECORD_FLOW,
      3,
      redisKeys.seenEvent(flow.id),
      redisKeys.flow(aggregate),
      redisKeys.flowIndex,
      String(this.#retentionSeconds),
      JSON.stringify(record),
      String(time),
      aggregate,
    );
    return stored === 1;
  }

  async recordEvent(event: LogEvent): Promise<boolean> {
    const stored: StoredEvent = {
      id: event.id,
      time: Number(event.timeMs),
      level: event.level,
      category: event.category,
      title: event.title,
      content: event.content,
      targetIdentity: event.targetIdentity,
      targetID: event.targetId,
      namespace: event.namespace,
      origin: event.origin,
    };
    const result = await this.#redis.eval(RECORD_EVENT, 2, redisKeys.seenEvent(event.id), redisKeys.eventIndex, String(this.#retentionSeconds), String(stored.time), JSON.stringify(stored));
    return result === 1;
  }

  /** Drop what is older than the retention. */
  async trim(): Promise<void> {
    const cutoff = Date.now() - this.#retentionSeconds * 1000;
    await this.#redis.zremrangebyscore(redisKeys.flowIndex, '-inf', cutoff);
    await this.#redis.zremrangebyscore(redisKeys.eventIndex, '-inf', cutoff);
  }

  async flows(options: { namespace?: string; recursive?: boolean; sinceMs?: number; limit: number }): Promise<StoredFlow[]> {
    const keys = await this.#redis.zrevrangebyscore(redisKeys.flowIndex, '+inf', options.sinceMs ?? '-inf', 'LIMIT', 0, 5_000);
    const pipeline = this.#redis.pipeline();
    for (const k of keys) pipeline.hgetall(redisKeys.flow(k));
    const results = (await pipeline.exec()) ?? [];
    const flows: StoredFlow[] = [];
    for (const [, value] of results) {
      const h = value as Record<string, string> | null;
      if (!h?.record) continue;
      const record = JSON.parse(h.record) as FlowRecord;
      if (!inNamespace(record.namespace, options.namespace, options.recursive)) continue;
      flows.push({ ...record, count: Number(h.count ?? 0), firstSeen: Number(h.firstSeen ?? 0), lastSeen: Number(h.lastSeen ?? 0) });
      if (flows.length >= options.limit) break;
    }
    return flows;
  }

  async events(options: { namespace?: string; recursive?: boolean; level?: string; sinceMs?: number; limit: number }): Promise<StoredEvent[]> {
    const raw = await this.#redis.zrevrangebyscore(redisKeys.eventIndex, '+inf', options.sinceMs ?? '-inf', 'LIMIT', 0, 5_000);
    const events: StoredEvent[] = [];
    for (const r of raw) {
      const e = JSON.parse(r) as StoredEvent;
      if (options.level && e.level !== options.level) continue;
      if (!inNamespace(e.namespace, options.namespace, options.recursive)) continue;
      events.push(e);
      if (events.length >= options.limit) break;
    }
    return events;
  }
}

function inNamespace(value: string, namespace: string | undefined, recursive: boolean | undefined): boolean {
  if (!namespace) return true;
  if (value === namespace) return true;
  return Boolean(recursive) && (namespace === '/' || value.startsWith(`${namespace}/`));
}
