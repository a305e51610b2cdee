// The JSON API (docs/api.md), an encapsulated plugin that app.ts mounts under /api/v1: flows, events, the
// Platform graph and the live stream, each for a namespace (and optionally its children) that the caller may
// read. Query strings are parsed with zod; every route needs a caller authenticate.ts vouches for: a user
// signed in through the gateway (the identity assertion, her grants) or an API token.
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { NAMESPACE_PATH } from '@microseg/contracts';
import { MicrosegError, type ErrorCode } from '@microseg/errors';
import { z } from '@microseg/config';
import { authenticate, type AuthenticateDeps, type Caller } from './authenticate.ts';
import { eventFields, flowFields, MAX_FILTERS, parseFilter, type FieldFilter, type FieldTable } from './filters.ts';
import { buildGraph } from './graph.ts';
import { MAX_GROUP_KEYS, TAG_KEY, viewOf } from './graph-view.ts';
import type { InventoryAsker } from './inventory.ts';
import type { LiveHub } from './live.ts';
import { streamTo } from './stream.ts';
import type { Cursor, FlowlogStore } from './store.ts';
import { describeGrants, grantFor } from './viewer.ts';

declare module 'fastify' {
  interface FastifyRequest {
    caller?: Caller;
  }
}

export interface ApiDeps extends AuthenticateDeps {
  store: Pick<FlowlogStore, 'flows' | 'events'>;
  live: Pick<LiveHub, 'add'>;
  /** What exists in a subtree (the policy service's inventory.ts). */
  inventory: InventoryAsker;
  /** How often a live stream checks its caller again (a revoked token's stream ends within this). */
  recheckMs: number;
  /** How often a live stream sends a comment, so that nothing on the way closes it as idle. */
  heartbeatMs?: number;
}

const csv = z
  .string()
  .max(200)
  .optional()
  .transform((v) =>
    v
      ? v
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
      : undefined,
  );
const millis = z.coerce.number({ message: 'must be milliseconds since the epoch' }).int().nonnegative().optional();

const selection = {
  namespace: z.string().regex(NAMESPACE_PATH, 'must be a namespace path such as /acme/team-b').optional(),
  recursive: z
    .enum(['true', 'false'], { message: 'must be true or false' })
    .optional()
    .transform((v) => v === 'true'),
};
const window = { from: millis, to: millis };
const paging = {
  limit: z.coerce.number({ message: 'must be a number' }).int().min(1).max(1000).default(100),
  cursor: z
    .string()
    .max(400)
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === '') return undefined;
      const cursor = decodeCursor(v);
      if (!cursor) ctx.addIssue({ code: 'custom', message: 'is not a cursor this API returned' });
      return cursor;
    }),
  q: z.string().max(200).optional(),
};
/** `filter=key=value` / `filter=key!=value`, repeated (filters.ts); each field one of the route's. */
function filterParam<T>(fields: FieldTable<T>) {
  return z
    .union([z.string(), z.array(z.string())], { message: 'must be key=value or key!=value' })
    .optional()
    .transform((value, ctx): FieldFilter[] => {
      const texts = value === undefined ? [] : typeof value === 'string' ? [value] : value;
      if (texts.length > MAX_FILTERS) {
        ctx.addIssue({ code: 'custom', message: `at most ${MAX_FILTERS} filters` });
        return [];
      }
      const filters: FieldFilter[] = [];
      for (const text of texts) {
        const parsed = parseFilter(text, fields);
        if ('error' in parsed) ctx.addIssue({ code: 'custom', message: parsed.error });
        else filters.push(parsed);
      }
      return filters;
    });
}
const groupBy = csv.pipe(
  z.array(z.string().regex(TAG_KEY, 'must be tag keys such as $namespace,app')).max(MAX_GROUP_KEYS, `must name at most ${MAX_GROUP_KEYS} tag keys`).optional(),
);
const flowsQuery = z.object({
  ...selection,
  ...window,
  ...paging,
  action: z.enum(['Accept', 'Reject'], { message: 'must be Accept or Reject' }).optional(),
  filter: filterParam(flowFields),
});
const eventsQuery = z.object({ ...selection, ...window, ...paging, level: csv, category: csv, filter: filterParam(eventFields) });
const graphQuery = z.object({ ...selection, ...window, filter: filterParam(flowFields), groupBy });
const streamQuery = z.object({ ...selection });

export function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify([cursor.score, cursor.member])).toString('base64url');
}

function decodeCursor(text: string): Cursor | undefined {
  try {
    const [score, member] = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as unknown[];
    return typeof score === 'number' && typeof member === 'string' ? { score, member } : undefined;
  } catch {
    return undefined;
  }
}

const fail = (code: ErrorCode, message?: string) => new MicrosegError(code, message);

function parse<S extends z.ZodType>(schema: S, req: FastifyRequest): z.output<S> {
  const result = schema.safeParse(req.query);
  if (!result.success) throw fail('BAD_REQUEST', result.error.issues.map((i) => `${i.path.join('.') || 'query'}: ${i.message}`).join('; '));
  return result.data;
}

/** The namespace asked for (default: the caller's first), which one of the caller's grants must cover. */
function scope(req: FastifyRequest, query: { namespace?: string; recursive: boolean }): { namespace: string; recursive: boolean } {
  const viewer = req.caller!.viewer;
  const namespace = query.namespace ?? viewer.namespace;
  if (!grantFor(viewer, namespace, query.recursive)) {
    const who = viewer.via === 'token' ? `the token ${viewer.name}` : viewer.name;
    throw fail('FLOWLOG_FORBIDDEN', `${who} may read ${describeGrants(viewer)}, not ${namespace}${query.recursive ? ' with what is below it' : ''}`);
  }
  return { namespace, recursive: query.recursive };
}

export const flowlogApi: FastifyPluginAsync<ApiDeps> = async (api, deps) => {
  api.addHook('onRequest', async (req, reply) => {
    // JSON only, never a page: whatever a query echoes back (a filter's field name) cannot run anywhere.
    reply.headers({
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
    });
    req.caller = await authenticate(deps, req.headers, req.log);
  });

  api.get('/whoami', async (req) => {
    const { name, via, namespace, role, grants } = req.caller!.viewer;
    return { name, via, namespace, role, grants };
  });

  api.get('/flows', async (req) => {
    const query = parse(flowsQuery, req);
    const page = await deps.store.flows({ ...query, ...scope(req, query), filters: query.filter });
    return { flows: page.items, ...(page.next ? { nextCursor: encodeCursor(page.next) } : {}) };
  });

  api.get('/events', async (req) => {
    const query = parse(eventsQuery, req);
    const page = await deps.store.events({ ...query, ...scope(req, query), levels: query.level, categories: query.category, filters: query.filter });
    return { events: page.items, ...(page.next ? { nextCursor: encodeCursor(page.next) } : {}) };
  });

  api.get('/graph', async (req) => {
    const query = parse(graphQuery, req);
    const { namespace, recursive } = scope(req, query);
    const to = query.to ?? Date.now();
    const from = query.from ?? to - 3_600_000;
    if (from > to) throw fail('BAD_REQUEST', 'from: must not be after to');
    const filters = query.filter;
    const [inventory, flows] = await Promise.all([deps.inventory(namespace, recursive), allFlows(deps.store, { namespace, recursive, from, to, filters })]);
    const graph = viewOf(buildGraph(inventory.value, flows.items, { from, to }), { groupBy: query.groupBy ?? [], filtered: filters.length > 0 });
    const warnings = [
      ...(inventory.warning ? [inventory.warning] : []),
      ...(flows.truncated ? ['Only the most recent 20000 flow aggregates of this window are drawn; narrow the window.'] : []),
    ];
    return { namespace, recursive, ...graph, warnings };
  });

  api.get('/stream', (req, reply) => streamTo(deps, req, reply, req.caller!, scope(req, parse(streamQuery, req))));
};

const GRAPH_FLOW_BOUND = 20_000;

async function allFlows(
  store: Pick<FlowlogStore, 'flows'>,
  query: { namespace: string; recursive: boolean; from: number; to: number; filters: readonly FieldFilter[] },
) {
  const items = [];
  let cursor: Cursor | undefined;
  do {
    const page = await store.flows({ ...query, limit: 1_000, cursor });
    items.push(...page.items);
    cursor = page.next;
  } while (cursor && items.length < GRAPH_FLOW_BOUND);
  return { items, truncated: Boolean(cursor) };
}
