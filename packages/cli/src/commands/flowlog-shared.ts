// What msctl logs and msctl flows share: connecting to flowlog, the namespace
// and time options, and paging.
import { ApiClient, flowlogTarget } from '../client.ts';
import { configPath, readConfig, resolveSettings } from '../config.ts';
import { UsageError } from '../errors.ts';
import { stringValue, type Invocation } from './command.ts';

export async function connectFlowlog(invocation: Invocation): Promise<ApiClient> {
  const path = configPath(invocation.io.env);
  const file = await readConfig(path);
  const { values } = invocation;
  const settings = resolveSettings(
    { flowlog: stringValue(values, 'flowlog'), token: stringValue(values, 'token'), namespace: stringValue(values, 'namespace') },
    invocation.io.env,
    file,
    path,
  );
  return new ApiClient(settings, { target: flowlogTarget(settings) });
}

const UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `90s`, `15m`, `2h`, `7d`, `1w` → milliseconds. */
export function parseDuration(text: string, option: string): number {
  const m = /^(\d+)\s*([smhdw])$/i.exec(text.trim());
  if (!m) throw new UsageError(`${option} ${text} is not a duration`, [`use a number and a unit: 30s, 15m, 2h, 7d or 1w, e.g. ${option} 1h`]);
  return Number(m[1]) * UNITS[m[2]!.toLowerCase()]!;
}

export function parseLimit(text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 1000) throw new UsageError(`--limit ${text} is not a number from 1 to 1000`, ['for example --limit 50']);
  return n;
}

/**
 * The query every flowlog listing takes: the namespace only when one was
 * chosen (otherwise flowlog uses the token's), recursive, and the time window.
 */
export function selectionQuery(client: ApiClient, invocation: Invocation, now = Date.now()): Record<string, string> {
  const query: Record<string, string> = {};
  if (client.settings.origins.namespace.from !== 'default') query.namespace = client.settings.namespace;
  if (invocation.values.recursive === true) query.recursive = 'true';
  const since = stringValue(invocation.values, 'since');
  if (since !== undefined) query.from = String(now - parseDuration(since, '--since'));
  return query;
}

/** `2026-11-28T21:57:55Z`: UTC, to the second. */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Reads pages until `limit` items or the end. */
export async function collect<T>(client: ApiClient, path: string, field: string, query: Record<string, string>, limit: number, verb: string): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.request<Record<string, unknown>>('GET', path, {
      query: { ...query, limit: String(Math.min(1000, limit - items.length)), ...(cursor ? { cursor } : {}) },
      verb,
      subject: field,
      service: 'flowlog service',
    });
    items.push(...((page.body[field] as T[] | undefined) ?? []));
    cursor = typeof page.body.nextCursor === 'string' ? page.body.nextCursor : undefined;
  } while (cursor && items.length < limit);
  return items.slice(0, limit);
}
