// Unit: the Platform view's graph from an inventory and flow aggregates.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildGraph, emptyInventory, styleOf, type EdgeStyle, type Inventory } from './graph.ts';
import type { StoredFlow } from './records.ts';

const NS = '/acme/team-b/dev/private-app';
const T0 = Date.UTC(2026, 10, 28, 12, 0, 0);
const window = { from: T0, to: T0 + 5 * 60_000 };

const inventory: Inventory = {
  processingUnits: [
    {
      id: 'pu-1',
      name: 'nginx',
      namespace: NS,
      tags: ['type=private-app', '$identity=processingunit'],
      address: '127.0.0.1',
      status: 'Running',
      lastSeenMs: T0,
    },
  ],
  services: [
    {
      id: 'svc-1',
      name: 'private-app',
      namespace: NS,
      hosts: ['localhost'],
      exposedPort: 8443,
      port: 3000,
      authorizationType: 'OIDC',
      disabled: false,
      processingUnits: ['nginx'],
      tags: [],
    },
  ],
  externalNetworks: [{ id: 'en-1', name: 'demo-idp', namespace: NS, entries: ['localhost'], servicePorts: ['tcp/9400'], tags: ['ext:name=idp'] }],
  networkPolicies: [],
  namespaces: [{ path: NS, incomingDefault: 'Allow', outgoingDefault: 'Reject', incomingDecidedBy: '/', outgoingDecidedBy: '/' }],
};

function flow(fields: Partial<StoredFlow> & Pick<StoredFlow, 'source' | 'destination'>): StoredFlow {
  return {
    namespace: NS,
    serviceID: '',
    URI: 'GET /',
    action: 'Accept',
    dropReason: '',
    policyID: '',
    policyName: '',
    byDefault: false,
    user: '',
    minute: T0,
    count: 1,
    firstSeen: T0 + 1_000,
    lastSeen: T0 + 2_000,
    ...fields,
  };
}

const pu = { type: 'ProcessingUnit', id: 'nginx', name: 'nginx', ip: '127.0.0.1', namespace: NS };
const idp = { type: 'ExternalNetwork', id: 'demo-idp', name: 'demo-idp', ip: 'localhost', port: 9400, namespace: '' };
const app = { type: 'ProcessingUnit', id: 'nginx', name: 'nginx', ip: '127.0.0.1', port: 3000, namespace: NS };
const user = (name: string) => ({ type: 'Claims', id: name, name, ip: '127.0.0.1', namespace: '' });

const walkthroughFlows: StoredFlow[] = [
  flow({ source: pu, destination: idp, URI: 'tcp/9400 discovery', policyID: 'np-1', policyName: 'allow-app-to-idp' }),
  flow({
    source: pu,
    destination: idp,
    URI: 'tcp/9400 token',
    policyID: 'np-1',
    policyName: 'allow-app-to-idp',
    count: 2,
    minute: T0 + 60_000,
    firstSeen: T0 + 61_000,
    lastSeen: T0 + 90_000,
  }),
  flow({
    source: user('alice@example.com'),
    destination: app,
    serviceID: 'svc-1',
    URI: 'GET /',
    user: 'alice@example.com',
    policyID: 'hrs-1',
    policyName: 'private-app-api',
    count: 3,
  }),
  flow({
    source: user('alice@example.com'),
    destination: app,
    serviceID: 'svc-1',
    URI: 'GET /_echo',
    user: 'alice@example.com',
    policyID: 'hrs-1',
    policyName: 'private-app-api',
  }),
  flow({
    source: user('bob@example.com'),
    destination: app,
    serviceID: 'svc-1',
    URI: 'GET /',
    action: 'Reject',
    dropReason: 'api',
    user: 'bob@example.com',
    policyID: 'hrs-1',
    policyName: 'private-app-api',
    minute: T0 + 120_000,
    lastSeen: T0 + 125_000,
  }),
];

test('without traffic: the registered processing unit, its service and the external network are there', () => {
  const graph = buildGraph(inventory, [], window, T0 + 60_000);
  assert.deepEqual(
    graph.nodes.map((n) => [n.id, n.type, n.status ?? '']),
    [
      [`ext:${NS}/demo-idp`, 'ExternalNetwork', ''],
      [`pu:${NS}/nginx`, 'ProcessingUnit', 'Running'],
      ['svc:svc-1', 'Service', ''],
    ],
  );
  assert.deepEqual(
    graph.edges.map((e) => [e.source, e.target, e.style]),
    [['svc:svc-1', `pu:${NS}/nginx`, 'selects']],
  );
  assert.equal(graph.summary, '1 processing unit, 1 service, 1 external network and 0 flows');
});

test('the walkthrough: PU → IdP accepted by allow-app-to-idp, alice → service accepted, bob → service rejected with reason and policy', () => {
  const graph = buildGraph(inventory, walkthroughFlows, window);
  const edge = (source: string, target: string) => graph.edges.find((e) => e.source === source && e.target === target);

  const toIdp = edge(`pu:${NS}/nginx`, `ext:${NS}/demo-idp`);
  assert.deepEqual(
    { style: toIdp?.style, hits: toIdp?.hits, policies: toIdp?.policies.map((p) => p.name) },
    { style: 'accept-policy', hits: 3, policies: ['allow-app-to-idp'] },
  );
  assert.deepEqual(toIdp?.uris, [
    { uri: 'tcp/9400 token', action: 'Accept', hits: 2 },
    { uri: 'tcp/9400 discovery', action: 'Accept', hits: 1 },
  ]);
  assert.deepEqual([toIdp?.firstSeen, toIdp?.lastSeen, toIdp?.ports], [T0 + 1_000, T0 + 90_000, [9400]]);

  const alice = edge('user:alice@example.com', 'svc:svc-1');
  assert.deepEqual(
    { style: alice?.style, hits: alice?.hits, users: alice?.users, uris: alice?.uris.map((u) => `${u.uri} ${u.hits}`) },
    {
      style: 'accept-policy',
      hits: 4,
      users: [{ name: 'alice@example.com', hits: 4 }],
      uris: ['GET / 3', 'GET /_echo 1'],
    },
  );

  const bob = edge('user:bob@example.com', 'svc:svc-1');
  assert.deepEqual(
    { style: bob?.style, rejected: bob?.rejected, dropReasons: bob?.dropReasons, policy: bob?.policies[0]?.name },
    {
      style: 'reject-policy',
      rejected: 1,
      dropReasons: [{ reason: 'api', hits: 1 }],
      policy: 'private-app-api',
    },
  );

  assert.equal(graph.summary, '1 processing unit, 1 service, 1 external network, 2 users and 3 flows');
  assert.deepEqual(
    graph.timeline.buckets.slice(0, 3).map((b) => [b.accepted, b.rejected]),
    [
      [5, 0],
      [2, 0],
      [0, 1],
    ],
  );
  assert.equal(graph.timeline.bucketMs, 60_000);
});

const styles: Array<[accepted: number, rejected: number, byPolicy: { accepted: number; rejected: number }, sameRequestBoth: boolean, style: EdgeStyle]> = [
  [3, 0, { accepted: 3, rejected: 0 }, false, 'accept-policy'],
  [3, 0, { accepted: 0, rejected: 0 }, false, 'accept-default'],
  [3, 0, { accepted: 1, rejected: 0 }, false, 'accept-policy'],
  [0, 2, { accepted: 0, rejected: 2 }, false, 'reject-policy'],
  [0, 2, { accepted: 0, rejected: 0 }, false, 'reject-default'],
  [1, 1, { accepted: 1, rejected: 1 }, false, 'reject-policy'],
  [1, 1, { accepted: 1, rejected: 0 }, false, 'reject-default'],
  [1, 1, { accepted: 1, rejected: 1 }, true, 'mixed'],
  [1, 1, { accepted: 0, rejected: 0 }, true, 'mixed'],
];
for (const [accepted, rejected, byPolicy, sameRequestBoth, style] of styles) {
  test(`an edge with ${accepted} accepted (${byPolicy.accepted} by policy) and ${rejected} rejected (${byPolicy.rejected} by policy)${sameRequestBoth ? ', one request both ways,' : ''} is ${style}`, () => {
    assert.equal(styleOf(accepted, rejected, byPolicy, sameRequestBoth), style);
  });
}

test('bob: his login callback accepted and his GET / refused make a red edge, not an orange one', () => {
  const bob = user('bob@example.com');
  const graph = buildGraph(
    inventory,
    [
      flow({ source: bob, destination: app, serviceID: 'svc-1', URI: 'GET /aporeto/oidc/callback', user: 'bob@example.com' }),
      flow({
        source: bob,
        destination: app,
        serviceID: 'svc-1',
        URI: 'GET /',
        action: 'Reject',
        dropReason: 'api',
        user: 'bob@example.com',
        policyID: 'hrs-1',
        policyName: 'private-app-api',
      }),
    ],
    window,
  );
  assert.equal(graph.edges.find((e) => e.source === 'user:bob@example.com')?.style, 'reject-policy');
});

test('a rejection by the namespace default is dashed red; a policy change within the window makes the edge orange', () => {
  const denied = flow({ source: pu, destination: idp, URI: 'tcp/9400 discovery', action: 'Reject', dropReason: 'policy', byDefault: true });
  assert.equal(buildGraph(inventory, [denied], window).edges.find((e) => e.target.startsWith('ext:'))?.style, 'reject-default');
  const allowed = flow({ source: pu, destination: idp, URI: 'tcp/9400 discovery', policyName: 'allow-app-to-idp', policyID: 'np-1' });
  const both = buildGraph(inventory, [denied, allowed], window).edges.find((e) => e.target.startsWith('ext:'));
  assert.equal(both?.style, 'mixed');
  assert.deepEqual(both?.policies.map((p) => [p.action, p.name, p.byDefault]).sort(), [
    ['Accept', 'allow-app-to-idp', false],
    ['Reject', '', true],
  ]);
});

test('parties known only from flows still get nodes: an unregistered unit, an unknown network, somewhere', () => {
  const graph = buildGraph(
    emptyInventory(),
    [
      flow({ source: { ...pu, name: 'ghost' }, destination: { ...idp, name: 'elsewhere' }, action: 'Reject', dropReason: 'policy' }),
      flow({
        source: { type: 'ExternalNetwork', id: 'somewhere', name: 'somewhere', ip: '203.0.113.9', namespace: '' },
        destination: app,
        serviceID: 'svc-9',
        URI: 'GET /public/hello',
      }),
    ],
    window,
  );
  assert.deepEqual(
    graph.nodes.map((n) => [n.id, n.type, n.status ?? '']),
    [
      [`ext:${NS}/elsewhere`, 'ExternalNetwork', ''],
      [`pu:${NS}/ghost`, 'ProcessingUnit', 'Unknown'],
      [`pu:${NS}/nginx`, 'ProcessingUnit', 'Unknown'],
      ['somewhere', 'Somewhere', ''],
      ['svc:svc-9', 'Service', ''],
    ],
  );
  assert.deepEqual(graph.nodes.find((n) => n.id === 'somewhere')?.details.addresses, ['203.0.113.9']);
  assert.equal(graph.summary, '2 processing units, 1 service, 1 external network, 1 unknown address and 2 flows');
});

test('a running processing unit not heard of for more than three minutes is shown as Silent', () => {
  const status = (now: number) => buildGraph(inventory, [], window, now).nodes.find((n) => n.type === 'ProcessingUnit')?.status;
  assert.equal(status(T0 + 3 * 60_000), 'Running');
  assert.equal(status(T0 + 3 * 60_000 + 1), 'Silent');
});

test('the timeline has at most about 60 bars whatever the window', () => {
  const day = buildGraph(emptyInventory(), [], { from: T0, to: T0 + 24 * 3_600_000 });
  assert.ok(day.timeline.buckets.length <= 61, String(day.timeline.buckets.length));
  assert.equal(day.timeline.bucketMs, 24 * 60_000);
});
