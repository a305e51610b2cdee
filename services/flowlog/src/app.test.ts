// Integration: flowlog as a whole — the durable consumer, the API, the live
// stream and the pages — against real nats-server and redis-server, with a
// stand-in for the policy service (token verification and inventory).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { Bus, type BusLogger } from '@microseg/bus';
import { requests, subjects } from '@microseg/contracts';
import { FlowEventSchema, LogEventSchema } from '@microseg/proto/events';
import { createLogger } from '@microseg/telemetry';
import { startNats, startRedis, waitFor, type RunningServer } from '@microseg/testkit';
import { buildFlowlogApp, type FlowlogApp } from './app.ts';
import { flowlogConfigSchema } from './config.ts';

const quiet: BusLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };
const APP = '/acme/team-b/dev/private-app';
const tokens = new Map<string, { name: string; role: string; namespace: string }>([
  ['tok-root', { name: 'admin', role: 'admin', namespace: '/' }],
  ['tok-team-b', { name: 'team-b-viewer', role: 'viewer', namespace: '/acme/team-b' }],
  ['tok-team-c', { name: 'team-c-viewer', role: 'viewer', namespace: '/acme/team-c' }],
]);

let nats: RunningServer;
let redis: RunningServer;
let policy: Bus;
let publisher: Bus;
let flowlog: FlowlogApp;
let baseUrl: string;

before(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'microseg-flowlog-api-'));
  nats = await startNats({ isolated: true, dataDir: dir, defaultPort: 0 });
  redis = await startRedis({ isolated: true, dataDir: dir, defaultPort: 0 });
  policy = await Bus.connect({ url: nats.url, name: 'fake-policy', logger: quiet });
  policy.serve(requests.policyTokenVerify, (req) => {
    const viewer = tokens.get(req.token);
    return viewer ? { valid: true, ...viewer } : { valid: false };
  });
  policy.serve(requests.policyInventory, (req) => ({
    processingUnits:
      req.namespace === APP || (req.recursive && APP.startsWith(req.namespace))
        ? [{ id: 'pu-1', name: 'nginx', namespace: APP, status: 'Running', address: '127.0.0.1', tags: ['type=private-app'] }]
        : [],
    namespaces: [{ path: req.namespace, incomingDefault: 'Allow', outgoingDefault: 'Reject', incomingDecidedBy: '/', outgoingDecidedBy: '/' }],
  }));
  await policy.nc.flush();
  publisher = await Bus.connect({ url: nats.url, name: 'publisher', logger: quiet });
  const config = flowlogConfigSchema.parse({ NATS_URL: nats.url, REDIS_URL: redis.url, FLOWLOG_TOKEN_CACHE_MS: '200', LOG_LEVEL: 'silent' });
  flowlog = await buildFlowlogApp(config, createLogger('flowlog', 'silent'));
  await flowlog.http.listen({ host: '127.0.0.1', port: 0 });
  const address = flowlog.http.server.address() as { port: number };
  baseUrl = `http://127.0.0.1:${address.port}`;
});

after(async () => {
  await flowlog?.close(1_000);
  await publisher?.close(1_000);
  await policy?.close(1_000);
  await nats?.stop();
  await redis?.stop();
});

function flow(fields: MessageInitShape<typeof FlowEventSchema> = {}): MessageInitShape<typeof FlowEventSchema> {
  return {
    id: randomUUID(),
    timeMs: BigInt(Date.now()),
    namespace: APP,
    source: { type: 'Claims', id: 'alice@example.com', name: 'alice@example.com', ip: '127.0.0.1' },
    destination: { type: 'ProcessingUnit', id: 'nginx', name: 'nginx', ip: '127.0.0.1', port: 3000, namespace: APP },
    serviceId: 'svc-1',
    uri: 'GET /',
    action: 'Accept',
    policyId: 'hrs-1',
    policyName: 'private-app-api',
    user: 'alice@example.com',
    ...fields,
  } as MessageInitShape<typeof FlowEventSchema>;
}

function publishFlow(fields: MessageInitShape<typeof FlowEventSchema> = {}) {
  const event = flow(fields);
  publisher.publishEvent(subjects.gatewayDecision, FlowEventSchema, event, event.id!);
  return event;
}

function publishLog(fields: MessageInitShape<typeof LogEventSchema>) {
  const id = randomUUID();
  publisher.publishEvent(
    subjects.logEvent('authn'),
    LogEventSchema,
    { id, timeMs: BigInt(Date.now()), level: 'Info', category: 'authn', namespace: APP, origin: 'authn', ...fields },
    id,
  );
  return id;
}

async function get(path: string, token?: string): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(`${baseUrl}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text };
}

test('health probes are open; the API needs a valid token', async () => {
  assert.equal((await get('/healthz')).status, 200);
  assert.equal((await get('/readyz')).status, 200);
  for (const path of ['/api/v1/flows', '/api/v1/events', '/api/v1/graph', '/api/v1/whoami', '/api/v1/stream']) {
    const none = await get(path);
    assert.deepEqual([none.status, none.body.code], [401, 'FLOWLOG_UNAUTHENTICATED'], path);
    const bad = await get(path, 'tok-unknown');
    assert.deepEqual([bad.status, bad.body.code], [401, 'FLOWLOG_UNAUTHENTICATED'], path);
  }
  const me = await get('/api/v1/whoami', 'tok-team-b');
  assert.deepEqual(me.body, {
    name: 'team-b-viewer',
    via: 'token',
    role: 'viewer',
    namespace: '/acme/team-b',
    grants: [{ namespace: '/acme/team-b', role: 'viewer', subtree: true }],
  });
  assert.equal(me.headers.get('cache-control'), 'no-store');
});

test('a token reads its namespace subtree and nothing outside it (403)', async () => {
  const inside = publishFlow({ uri: 'GET /inside' });
  publishFlow({ uri: 'GET /outside', namespace: '/acme/team-c' });
  await waitFor(
    'both flows stored',
    async () =>
      (await get('/api/v1/flows?namespace=/&recursive=true', 'tok-root')).body.flows.filter((f: { URI: string }) => f.URI.endsWith('side')).length === 2,
    10_000,
  );

  const teamB = await get('/api/v1/flows?recursive=true', 'tok-team-b');
  assert.equal(teamB.status, 200);
  assert.ok(teamB.body.flows.some((f: { URI: string }) => f.URI === inside.uri));
  assert.ok(!teamB.body.flows.some((f: { namespace: string }) => !f.namespace.startsWith('/acme/team-b')), 'only its subtree');
  for (const ns of ['/acme/team-c', '/acme', '/', '/acme/team-bb']) {
    const refused = await get(`/api/v1/flows?namespace=${ns}`, 'tok-team-b');
    assert.deepEqual([refused.status, refused.body.code], [403, 'FLOWLOG_FORBIDDEN'], ns);
    assert.match(refused.body.message, /may read \/acme\/team-b and below/);
  }
  assert.equal((await get(`/api/v1/events?namespace=/acme/team-c&recursive=true`, 'tok-team-b')).status, 403);
});

test('bad parameters are 400 naming the parameter', async () => {
  const cases: Array<[string, RegExp]> = [
    ['/api/v1/flows?limit=0', /limit/],
    ['/api/v1/flows?limit=5000', /limit/],
    ['/api/v1/flows?action=Maybe', /action: must be Accept or Reject/],
    ['/api/v1/flows?namespace=acme', /namespace: must be a namespace path/],
    ['/api/v1/flows?namespace=/acme/../etc', /namespace/],
    ['/api/v1/events?cursor=garbage', /cursor: is not a cursor this API returned/],
    ['/api/v1/events?from=yesterday', /from: must be milliseconds/],
    ['/api/v1/graph?from=10&to=5', /from: must not be after to/],
  ];
  for (const [path, message] of cases) {
    const res = await get(path, 'tok-root');
    assert.equal(res.status, 400, path);
    assert.match(res.body.message, message, path);
  }
});

test('events: filters and cursor paging, newest first', async () => {
  const marker = randomUUID().slice(0, 8);
  for (let i = 0; i < 7; i++)
    publishLog({ title: `Login succeeded ${marker} ${i}`, level: i % 3 === 0 ? 'Warning' : 'Info', timeMs: BigInt(Date.now() - (10 - i) * 1000) });
  await waitFor('7 events', async () => (await get(`/api/v1/events?namespace=${APP}&q=${marker}`, 'tok-root')).body.events.length === 7, 10_000);

  const titles: string[] = [];
  let cursor = '';
  for (;;) {
    const page = await get(`/api/v1/events?namespace=${APP}&q=${marker}&limit=3${cursor ? `&cursor=${cursor}` : ''}`, 'tok-root');
    assert.equal(page.status, 200, JSON.stringify(page.body));
    titles.push(...page.body.events.map((e: { title: string }) => e.title.split(' ').at(-1)));
    if (!page.body.nextCursor) break;
    cursor = page.body.nextCursor;
  }
  assert.deepEqual(titles, ['6', '5', '4', '3', '2', '1', '0']);
  const warnings = await get(`/api/v1/events?namespace=/acme/team-b&recursive=true&q=${marker}&level=Warning,Error`, 'tok-team-b');
  assert.deepEqual(
    warnings.body.events.map((e: { title: string }) => e.title.split(' ').at(-1)),
    ['6', '3', '0'],
  );
  const none = await get(`/api/v1/events?namespace=/acme/team-b&recursive=true&q=${marker}&category=crud`, 'tok-team-b');
  assert.deepEqual(none.body.events, []);
});

test('graph: the registered processing unit without traffic, users and services with their flows', async () => {
  publishFlow({
    source: { type: 'Claims', id: 'bob@example.com', name: 'bob@example.com', ip: '127.0.0.1' },
    user: 'bob@example.com',
    action: 'Reject',
    dropReason: 'api',
  });
  await waitFor(
    'bob in the graph',
    async () => (await get(`/api/v1/graph?namespace=${APP}`, 'tok-team-b')).body.edges.some((e: { source: string }) => e.source === 'user:bob@example.com'),
    10_000,
  );
  const graph = (await get(`/api/v1/graph?namespace=${APP}`, 'tok-team-b')).body;
  assert.ok(graph.nodes.some((n: { id: string; status: string }) => n.id === `pu:${APP}/nginx` && n.status === 'Running'));
  assert.equal(graph.edges.find((e: { source: string }) => e.source === 'user:bob@example.com').style, 'reject-policy');
  assert.equal(graph.edges.find((e: { source: string }) => e.source === 'user:alice@example.com').style, 'accept-policy');
  assert.deepEqual(graph.warnings, []);
  assert.match(graph.summary, /^1 processing unit, 1 service, 2 users and 2 flows$/);
});

test('the pages are served with a strict Content-Security-Policy; Cytoscape comes from its package', async () => {
  for (const path of ['/', '/events']) {
    const page = await get(path);
    assert.equal(page.status, 200, path);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    const csp = page.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.ok(!csp.includes('unsafe'), csp);
    assert.equal(page.headers.get('x-frame-options'), 'DENY');
    assert.ok(!/<script>|\son\w+="|\sstyle="/.test(page.body), `${path} has no inline script, handler or style`);
  }
  const cytoscape = await get('/assets/cytoscape.min.js');
  assert.equal(cytoscape.status, 200);
  assert.match(cytoscape.headers.get('content-type') ?? '', /javascript/);
  assert.equal((await get('/assets/../src/app.ts')).status, 404);
  assert.equal((await get('/assets/nothing.js')).status, 404);
});

/** Reads a Server-Sent Events stream until `until` says stop. */
async function readStream(
  token: string,
  path: string,
  until: (events: Array<{ type: string; data: any }>) => boolean,
  onReady: () => void,
): Promise<Array<{ type: string; data: any }>> {
  const controller = new AbortController();
  const res = await fetch(`${baseUrl}${path}`, { headers: { authorization: `Bearer ${token}` }, signal: controller.signal });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
  const events: Array<{ type: string; data: any }> = [];
  const decoder = new TextDecoder();
  let buffer = '';
  const deadline = setTimeout(() => controller.abort(), 15_000);
  try {
    for await (const chunk of res.body!) {
      buffer += decoder.decode(chunk, { stream: true });
      let cut;
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const type = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (!type || !data) continue;
        events.push({ type, data: JSON.parse(data) });
        if (type === 'ready') onReady();
        if (until(events)) return events;
      }
    }
    return events;
  } finally {
    clearTimeout(deadline);
    controller.abort();
  }
}

test('the live stream pushes the flows and events of its namespace only, as they happen', async () => {
  const marker = randomUUID();
  const events = await readStream(
    'tok-team-b',
    `/api/v1/stream?namespace=${APP}`,
    (seen) => seen.some((e) => e.type === 'event' && e.data.title === marker),
    () => {
      publishFlow({ uri: `GET /other/${marker}`, namespace: '/acme/team-c' });
      publishFlow({ uri: `GET /live/${marker}` });
      publishLog({ title: marker });
    },
  );
  const flows = events.filter((e) => e.type === 'flow').map((e) => e.data.URI);
  assert.ok(flows.includes(`GET /live/${marker}`));
  assert.ok(!flows.includes(`GET /other/${marker}`), 'another namespace is not streamed');
});

test('a revoked token: its live stream ends with "expired", and the API refuses it after the cache TTL', async () => {
  tokens.set('tok-short', { name: 'short', role: 'viewer', namespace: APP });
  const events = await readStream(
    'tok-short',
    '/api/v1/stream',
    (seen) => seen.some((e) => e.type === 'expired'),
    () => tokens.delete('tok-short'),
  );
  assert.equal(events.at(-1)?.type, 'expired');
  assert.equal((await get('/api/v1/flows', 'tok-short')).status, 401);
});

test('when the policy service does not answer, tokens cannot be checked: 503, never open', async () => {
  await policy.close(1_000);
  const res = await get('/api/v1/flows', 'tok-never-seen');
  assert.deepEqual([res.status, res.body.code], [503, 'FLOWLOG_AUTH_UNAVAILABLE']);
});
