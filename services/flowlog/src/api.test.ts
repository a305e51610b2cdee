// Unit (fakes, app.inject()): the JSON API — a token the policy service vouches for on every route (401
// without, 503 when it cannot be checked, never open), the namespace within the token's subtree (403), a user
// signed in through the gateway within her grants, query strings parsed with zod (400 naming the parameter),
// pages with a cursor, the graph with what the inventory could not say.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import { BusRequestError } from '@microseg/bus';
import { registerErrorHandling } from '@microseg/runtime';
import { encodeCursor, flowlogApi, type ApiDeps } from './api.ts';
import { emptyInventory } from './graph.ts';
import type { FlowQuery, EventQuery } from './store.ts';
import { tokenViewer, type Viewer } from './viewer.ts';

const viewers: Record<string, Viewer> = { 'tok-acme': tokenViewer('acme-viewer', 'viewer', '/acme') };

async function setup(overrides: Partial<ApiDeps> = {}) {
  const asked: Array<{ route: 'flows' | 'events'; query: FlowQuery | EventQuery }> = [];
  const deps: ApiDeps = {
    store: {
      flows: async (query) => (asked.push({ route: 'flows', query }), { items: [], ...(query.limit === 1 ? { next: { score: 5, member: 'm' } } : {}) }),
      events: async (query) => (asked.push({ route: 'events', query }), { items: [] }),
    },
    verifier: { verify: async (token) => viewers[token] },
    live: { add: () => () => undefined },
    inventory: async () => ({ value: emptyInventory(), warning: 'The policy service did not answer.' }),
    recheckMs: 1_000,
    ...overrides,
  };
  const http = Fastify();
  registerErrorHandling(http);
  await http.register(flowlogApi, { prefix: '/api/v1', ...deps });
  const get = async (url: string, token?: string, headers: Record<string, string> = {}) => {
    const res = await http.inject({ url, headers: { ...headers, ...(token ? { authorization: `Bearer ${token}` } : {}) } });
    return { status: res.statusCode, body: res.json(), headers: res.headers };
  };
  return { get, asked };
}

test('every route needs a valid token: 401 without or with a bad one; 503 when the policy service cannot say', async () => {
  const { get } = await setup();
  for (const route of ['whoami', 'flows', 'events', 'graph', 'stream']) {
    assert.equal((await get(`/api/v1/${route}`)).body.code, 'FLOWLOG_UNAUTHENTICATED', route);
    assert.equal((await get(`/api/v1/${route}`, 'tok-unknown')).status, 401, route);
  }
  const away = await setup({ verifier: { verify: async () => Promise.reject(new BusRequestError('timeout', 'svc.policy.v1.token.verify')) } });
  const res = await away.get('/api/v1/flows', 'tok-acme');
  assert.deepEqual([res.status, res.body.code], [503, 'FLOWLOG_AUTH_UNAVAILABLE']);
});

test("the token's namespace by default; one inside its subtree on request; any other 403", async () => {
  const { get, asked } = await setup();
  const who = await get('/api/v1/whoami', 'tok-acme');
  assert.deepEqual(who.body, {
    name: 'acme-viewer',
    via: 'token',
    namespace: '/acme',
    role: 'viewer',
    grants: [{ namespace: '/acme', role: 'viewer', subtree: true }],
  });
  assert.equal(who.headers['cache-control'], 'no-store');
  await get('/api/v1/flows', 'tok-acme');
  await get('/api/v1/events?namespace=/acme/dev&recursive=true&level=Warning,error', 'tok-acme');
  assert.deepEqual(
    asked.map((a) => [a.route, a.query.namespace, a.query.recursive]),
    [
      ['flows', '/acme', false],
      ['events', '/acme/dev', true],
    ],
  );
  assert.deepEqual((asked[1]!.query as EventQuery).levels, ['Warning', 'error']);
  const outside = await get('/api/v1/flows?namespace=/acmeco', 'tok-acme');
  assert.deepEqual([outside.status, outside.body.code], [403, 'FLOWLOG_FORBIDDEN']);
});

test('a user signed in through the gateway: her grants decide, a namespace-only grant is read without its children; no grant is 403 naming her', async () => {
  const grants: Record<string, Array<{ namespace: string; role: string; subtree: boolean }>> = {
    alice: [
      { namespace: '/acme', role: 'viewer', subtree: true },
      { namespace: '/x', role: 'editor', subtree: false },
    ],
    bob: [],
  };
  const { get, asked } = await setup({
    sso: {
      assertions: {
        verify: async (token) =>
          token in grants
            ? { ok: true, user: { subject: token, email: `${token}@example.com`, tags: [`sub=${token}`], expiresAtMs: Date.now() + 60_000 } }
            : { ok: false, reason: 'forged' },
      },
      roles: { grants: async (tags) => grants[tags[0]!.slice(4)] ?? [] },
    },
  });
  const as = (user: string) => ({ 'x-microseg-jwt-assertion': user });
  const who = await get('/api/v1/whoami', undefined, as('alice'));
  assert.deepEqual(who.body, { name: 'alice@example.com', via: 'sso', namespace: '/acme', role: 'viewer', grants: grants.alice });
  assert.equal((await get('/api/v1/flows?namespace=/acme/team-b&recursive=true', undefined, as('alice'))).status, 200);
  assert.equal((await get('/api/v1/flows?namespace=/x', undefined, as('alice'))).status, 200);
  const below = await get('/api/v1/flows?namespace=/x&recursive=true', undefined, as('alice'));
  assert.deepEqual([below.status, below.body.message], [403, 'alice@example.com may read /acme and below, /x only, not /x with what is below it']);
  assert.deepEqual(
    asked.map((a) => [a.query.namespace, a.query.recursive]),
    [
      ['/acme/team-b', true],
      ['/x', false],
    ],
  );
  const bob = await get('/api/v1/whoami', undefined, as('bob'));
  assert.deepEqual([bob.status, bob.body.code], [403, 'FLOWLOG_NO_ACCESS']);
  assert.match(bob.body.message, /signed in as bob@example\.com, but no API authorization policy gives you access/);
  const forged = await get('/api/v1/whoami', undefined, as('mallory'));
  assert.deepEqual([forged.status, forged.body.code], [401, 'FLOWLOG_UNAUTHENTICATED'], 'a refused assertion without a token');
  assert.equal((await get('/api/v1/whoami', 'tok-acme', as('mallory'))).body.name, 'acme-viewer', 'a refused assertion: the token decides');
});

test('bad parameters are 400 naming each; a cursor the API did not give is one', async () => {
  const { get, asked } = await setup();
  const cases: Array<[string, RegExp]> = [
    ['/api/v1/flows?namespace=acme', /namespace: must be a namespace path/],
    ['/api/v1/flows?limit=0&action=Drop', /limit: .*; action: must be Accept or Reject/],
    ['/api/v1/events?from=yesterday', /from: must be milliseconds since the epoch/],
    ['/api/v1/flows?cursor=not-ours', /cursor: is not a cursor this API returned/],
    ['/api/v1/graph?from=10&to=5', /from: must not be after to/],
    ['/api/v1/flows?recursive=yes', /recursive: must be true or false/],
  ];
  for (const [url, message] of cases) {
    const res = await get(url, 'tok-acme');
    assert.equal(res.status, 400, url);
    assert.match(res.body.message, message, url);
  }
  assert.equal(asked.length, 0, 'the store is not asked');
});

test('pages: nextCursor when there may be more, and given back it reads on from there', async () => {
  const { get, asked } = await setup();
  const first = await get('/api/v1/flows?limit=1', 'tok-acme');
  assert.equal(first.body.nextCursor, encodeCursor({ score: 5, member: 'm' }));
  await get(`/api/v1/flows?cursor=${first.body.nextCursor}`, 'tok-acme');
  assert.deepEqual(asked[1]!.query.cursor, { score: 5, member: 'm' });
});

test('graph: the window defaults to the last hour; what the inventory could not say is a warning', async () => {
  const { get, asked } = await setup();
  const res = await get('/api/v1/graph?to=7200000', 'tok-acme');
  assert.equal(res.status, 200);
  assert.deepEqual([res.body.namespace, res.body.recursive, res.body.warnings], ['/acme', false, ['The policy service did not answer.']]);
  assert.deepEqual([asked[0]!.query.from, asked[0]!.query.to], [3_600_000, 7_200_000]);
});

test('filters: repeated filter=key=value / key!=value reach the store parsed; the graph takes them and groupBy', async () => {
  const { get, asked } = await setup();
  await get('/api/v1/flows?filter=user%3Dbob%40example.com&filter=action!%3DAccept', 'tok-acme');
  await get('/api/v1/events?filter=targetID%3Dpu-1', 'tok-acme');
  assert.deepEqual(asked[0]!.query.filters, [
    { field: 'user', value: 'bob@example.com', exclude: false },
    { field: 'action', value: 'Accept', exclude: true },
  ]);
  assert.deepEqual(asked[1]!.query.filters, [{ field: 'targetID', value: 'pu-1', exclude: false }]);
  const graph = await get('/api/v1/graph?filter=dropReason%3Dapi&groupBy=%24namespace,app', 'tok-acme');
  assert.equal(graph.status, 200);
  assert.deepEqual(asked[2]!.query.filters, [{ field: 'dropReason', value: 'api', exclude: false }]);
  assert.deepEqual([graph.body.groups, graph.body.tagKeys], [[], []]);
});

test('bad filters and group keys: 400 {code, message} naming the parameter, JSON that no browser runs; nothing asked of the store', async () => {
  const { get, asked } = await setup();
  const many = Array.from({ length: 21 }, (_, i) => `filter=user%3Du${i}`).join('&');
  const cases: Array<[string, RegExp]> = [
    ['/api/v1/flows?filter=nope%3D1', /^filter: unknown field "nope"; one of namespace, action/],
    ['/api/v1/flows?filter=__proto__%3Dx', /^filter: unknown field "__proto__"/],
    ['/api/v1/events?filter=user%3Dalice', /^filter: unknown field "user"; one of level/],
    ['/api/v1/flows?filter=justtext', /^filter: "justtext" is not key=value or key!=value/],
    [`/api/v1/flows?${many}`, /^filter: at most 20 filters/],
    [`/api/v1/flows?filter=user%3D${'x'.repeat(400)}`, /^filter: a filter is at most 300 characters/],
    ['/api/v1/graph?groupBy=a,b,c,d', /^groupBy: must name at most 3 tag keys/],
    ['/api/v1/graph?groupBy=app%3Dx', /^groupBy.0: must be tag keys/],
    ['/api/v1/graph?filter=%3Cscript%3Ealert(1)%3C%2Fscript%3E%3Dx', /^filter: unknown field "<script>alert\(1\)<\/script>"/],
  ];
  for (const [url, message] of cases) {
    const res = await get(url, 'tok-acme');
    assert.equal(res.status, 400, url);
    assert.equal(res.body.code, 'BAD_REQUEST', url);
    assert.match(res.body.message, message, url);
    assert.match(String(res.headers['content-type']), /^application\/json/, url);
    assert.equal(res.headers['x-content-type-options'], 'nosniff', url);
    assert.match(String(res.headers['content-security-policy']), /default-src 'none'/, url);
  }
  assert.equal(asked.length, 0);
});
