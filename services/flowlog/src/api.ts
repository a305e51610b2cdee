// The JSON API under /api/v1 (docs/api.md): flows, events, the Platform
// graph and the live stream, each for a namespace (and optionally its
// children) inside the caller's token subtree.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Bus } from '@microseg/bus';
import { BusRequestError } from '@microseg/bus';
import { NAMESPACE_PATH, requests, withinSubtree } from '@microseg/contracts';
import { MicrosegError, type ErrorCode } from '@microseg/errors';
import { z } from '@microseg/config';
import { InventoryRequestSchema, InventoryResponseSchema, type InventoryResponse } from '@microseg/proto/policy';
import { bearerOf, type TokenVerifier, type Viewer } from './auth.ts';
import { buildGraph, emptyInventory, type Inventory } from './graph.ts';
import type { LiveHub, LiveMessage } from './live.ts';
import { inNamespace } from './records.ts';
import type { Cursor, FlowlogStore } from './store.ts';

declare module 'fastify' {
  interface FastifyRequest {
    viewer?: Viewer;
  }
}

export interface ApiDeps {
  store: FlowlogStore;
  verifier: TokenVerifier;
  bus: Bus;
  live: LiveHub;
  busTimeoutMs: number;
  /** How often a live stream checks its token again (a revoked token's stream ends within this). */
  recheckMs: number;
}

const csv = z
  .string()
  .max(200)
  .optional()
  .transform((v) => (v ? v.split(',').map((s) => s.trim()).filter(Boolean) : undefined));
const millis = z.coerce.number({ message: 'must be milliseconds since the epoch' }).int().nonnegative().optional();

const selection = {
  namespace: z.string().regex(NAMESPACE_PATH, 'must be a namespace path such as /acme/team-b').optional(),
  recursive: z.enum(['true', 'false'], { message: 'must be true or false' }).optional().transform((v) => v === 'true'),
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
const flowsQuery = z.object({ ...selection, ...window, ...paging, action: z.enum(['Accept', 'Reject'], { message: 'must be Accept or Reject' }).optional() });
const eventsQuery = z.object({ ...selection, ...window, ...paging, level: csv, category: csv });
const graphQuery = z.object({ ...selection, ...window });
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

/** The namespace asked for (default: the token's), which must lie in the token's subtree. */
function scope(req: FastifyRequest, query: { namespace?: string; recursive: boolean }): { namespace: string; recursive: boolean } {
  const viewer = req.viewer!;
  const namespace = query.namespace ?? viewer.namespace;
  if (!withinSubtree(namespace, viewer.namespace)) throw fail('FLOWLOG_FORBIDDEN', `the token ${viewer.name} may read ${viewer.namespace} and below, not ${namespace}`);
  return { namespace, recursive: query.recursive };
}

export function registerApi(app: FastifyInstance, deps: ApiDeps): void {
  const authenticate = async (req: FastifyRequest): Promise<Viewer> => {
    const token = bearerOf(req.headers.authorization);
    if (!token) throw fail('FLOWLOG_UNAUTHENTICATED');
    let viewer: Viewer | undefined;
    try {
      viewer = await deps.verifier.verify(token);
    } catch (err) {
      req.log.warn({ err: err instanceof BusRequestError ? err.kind : String(err) }, 'token verification unavailable');
      throw fail('FLOWLOG_AUTH_UNAVAILABLE');
    }
    if (!viewer) throw fail('FLOWLOG_UNAUTHENTICATED', 'The token is unknown, revoked or malformed.');
    return viewer;
  };

  app.register(async (api) => {
    api.addHook('onRequest', async (req, reply) => {
      reply.header('cache-control', 'no-store');
      req.viewer = await authenticate(req);
    });

    api.get('/whoami', async (req) => req.viewer);

    api.get('/flows', async (req) => {
      const query = parse(flowsQuery, req);
      const page = await deps.store.flows({ ...query, ...scope(req, query) });
      return { flows: page.items, ...(page.next ? { nextCursor: encodeCursor(page.next) } : {}) };
    });

    api.get('/events', async (req) => {
      const query = parse(eventsQuery, req);
      const page = await deps.store.events({ ...query, ...scope(req, query), levels: query.level, categories: query.category });
      return { events: page.items, ...(page.next ? { nextCursor: encodeCursor(page.next) } : {}) };
    });

    api.get('/graph', async (req) => {
      const query = parse(graphQuery, req);
      const { namespace, recursive } = scope(req, query);
      const to = query.to ?? Date.now();
      const from = query.from ?? to - 3_600_000;
      if (from > to) throw fail('BAD_REQUEST', 'from: must not be after to');
      const [inventory, flows] = await Promise.all([inventoryOf(deps, namespace, recursive), allFlows(deps.store, { namespace, recursive, from, to })]);
      const graph = buildGraph(inventory.value, flows.items, { from, to });
      const warnings = [...(inventory.warning ? [inventory.warning] : []), ...(flows.truncated ? ['Only the most recent 20000 flow aggregates of this window are drawn; narrow the window.'] : [])];
      return { namespace, recursive, ...graph, warnings };
    });

    api.get('/stream', (req, reply) => streamTo(deps, req, reply, scope(req, parse(streamQuery, req))));
  }, { prefix: '/api/v1' });
}

const GRAPH_FLOW_BOUND = 20_000;

async function allFlows(store: FlowlogStore, query: { namespace: string; recursive: boolean; from: number; to: number }) {
  const items = [];
  let cursor: Cursor | undefined;
  do {
    const page = await store.flows({ ...query, limit: 1_000, cursor });
    items.push(...page.items);
    cursor = page.next;
  } while (cursor && items.length < GRAPH_FLOW_BOUND);
  return { items, truncated: Boolean(cursor) };
}

async function inventoryOf(deps: ApiDeps, namespace: string, recursive: boolean): Promise<{ value: Inventory; warning?: string }> {
  let reply: InventoryResponse;
  try {
    reply = await deps.bus.request(requests.policyInventory, { namespace, recursive }, deps.busTimeoutMs);
  } catch (err) {
    if (err instanceof MicrosegError) return { value: emptyInventory(), warning: `The policy service could not list the objects: ${err.message}` };
    if (!(err instanceof BusRequestError)) throw err;
    return { value: emptyInventory(), warning: 'The policy service did not answer: only parties seen in flows are shown, not those without traffic.' };
  }
  return {
    value: {
      processingUnits: reply.processingUnits.map((p) => ({ id: p.id, name: p.name, namespace: p.namespace, tags: [...p.tags], address: p.address, status: p.status, lastSeenMs: Number(p.lastSeenMs) })),
      services: reply.services.map((s) => ({ id: s.id, name: s.name, namespace: s.namespace, hosts: [...s.hosts], exposedPort: s.exposedPort, port: s.port, authorizationType: s.authorizationType, disabled: s.disabled, processingUnits: [...s.processingUnits], tags: [...s.tags] })),
      externalNetworks: reply.externalNetworks.map((n) => ({ id: n.id, name: n.name, namespace: n.namespace, entries: [...n.entries], servicePorts: [...n.servicePorts], tags: [...n.tags] })),
      networkPolicies: reply.networkPolicies.map((p) => ({
        id: p.id,
        name: p.name,
        namespace: p.namespace,
        subject: p.subject.map((c) => [...c.tags]),
        object: p.object.map((c) => [...c.tags]),
        action: p.action,
        applyPolicyMode: p.applyPolicyMode,
        logsEnabled: p.logsEnabled,
        disabled: p.disabled,
        propagate: p.propagate,
      })),
      namespaces: reply.namespaces.map((n) => ({ path: n.path, incomingDefault: n.incomingDefault, outgoingDefault: n.outgoingDefault, incomingDecidedBy: n.incomingDecidedBy, outgoingDecidedBy: n.outgoingDecidedBy })),
    },
  };
}

const HEARTBEAT_MS = 15_000;

/**
 * Server-Sent Events: `event: flow` and `event: event` with the record as
 * JSON, a comment every 15 s to keep proxies from closing the stream, and the
 * token checked again every `recheckMs`: once revoked, `event: expired` and the
 * stream ends.
 */
function streamTo(deps: ApiDeps, req: FastifyRequest, reply: FastifyReply, selection: { namespace: string; recursive: boolean }): void {
  const token = bearerOf(req.headers.authorization)!;
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    'x-accel-buffering': 'no',
    'x-content-type-options': 'nosniff',
    connection: 'keep-alive',
  });
  res.write(`retry: 2000\nevent: ready\ndata: ${JSON.stringify({ namespace: selection.namespace, recursive: selection.recursive })}\n\n`);
  const write = (message: LiveMessage) => res.write(`event: ${message.type}\ndata: ${JSON.stringify(message.data)}\n\n`);
  const remove = deps.live.add({ wants: (namespace) => inNamespace(namespace, selection.namespace, selection.recursive), send: write, end: () => res.end() });
  const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
  const recheck = setInterval(() => {
    deps.verifier.verify(token).then(
      (viewer) => {
        if (viewer && withinSubtree(selection.namespace, viewer.namespace)) return;
        res.write('event: expired\ndata: {"message":"The token is no longer valid."}\n\n');
        res.end();
      },
      () => undefined, // policy away: keep streaming; the next check decides
    );
  }, deps.recheckMs);
  const close = () => {
    clearInterval(heartbeat);
    clearInterval(recheck);
    remove();
  };
  res.once('close', close);
  req.raw.once('close', () => res.end());
}
