// Unit: the inventory of a namespace subtree that the Platform view draws.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requests, type PolicyObject } from '@microseg/contracts';
import { MicrosegError } from '@microseg/errors';
import { FakeBus } from '../testing/fake-bus.ts';
import { Snapshot } from '../snapshot.ts';
import { inventoryOf, serveInventory } from './inventory.ts';

const APP = '/acme/team-b/dev/private-app';
const base = { associatedTags: [], propagate: false };

const objects: PolicyObject[] = [
  {
    ...base,
    kind: 'namespace',
    ID: 'ns-app',
    name: 'private-app',
    namespace: '/acme/team-b/dev',
    defaultPUIncomingTrafficAction: 'Inherit',
    defaultPUOutgoingTrafficAction: 'Inherit',
  },
  {
    ...base,
    kind: 'namespace',
    ID: 'ns-b',
    name: 'team-b',
    namespace: '/acme',
    defaultPUIncomingTrafficAction: 'Reject',
    defaultPUOutgoingTrafficAction: 'Inherit',
  },
  {
    ...base,
    kind: 'processingunit',
    ID: 'pu-1',
    name: 'nginx',
    namespace: APP,
    associatedTags: ['type=private-app'],
    address: '127.0.0.1',
    status: 'Running',
    lastSeen: '2026-11-28T12:00:00.000Z',
    gatewayID: 'gw-1',
  },
  { ...base, kind: 'processingunit', ID: 'pu-2', name: 'other', namespace: '/acme/team-c', address: '10.0.0.2', status: 'Stopped' },
  {
    ...base,
    kind: 'service',
    ID: 'svc-1',
    name: 'private-app',
    namespace: APP,
    type: 'HTTP',
    authorizationType: 'OIDC',
    OIDCScopes: [],
    hosts: ['localhost'],
    port: 3000,
    exposedPort: 8443,
    exposedServiceIsTLS: false,
    selectors: [['type=private-app']],
    exposedAPIs: [],
    claimsToHTTPHeaderMappings: [],
    disabled: false,
  } as unknown as PolicyObject,
  {
    ...base,
    kind: 'externalnetwork',
    ID: 'en-idp',
    name: 'demo-idp',
    namespace: APP,
    entries: ['localhost'],
    servicePorts: ['tcp/9400'],
    associatedTags: ['ext:name=idp'],
  },
  { ...base, kind: 'externalnetwork', ID: 'en-corp', name: 'corp', namespace: '/acme', propagate: true, entries: ['10.0.0.0/8'], servicePorts: ['any'] },
  { ...base, kind: 'externalnetwork', ID: 'en-local', name: 'team-a-only', namespace: '/acme/team-a', entries: ['10.1.0.0/16'], servicePorts: ['any'] },
  {
    ...base,
    kind: 'networkaccesspolicy',
    ID: 'np-1',
    name: 'allow-app-to-idp',
    namespace: APP,
    subject: [['$identity=processingunit', 'type=private-app']],
    object: [['ext:name=idp']],
    action: 'Allow',
    applyPolicyMode: 'OutgoingTraffic',
    logsEnabled: true,
    disabled: false,
  },
];
const snapshot = Snapshot.build(objects, 42);

test('one namespace: its processing units and services, the external networks and policies in force there, and its defaults', () => {
  const inventory = inventoryOf(snapshot, APP, false);
  assert.equal(inventory.revision, 42n);
  assert.deepEqual(
    inventory.processingUnits?.map((pu) => [pu.name, pu.status, pu.address, pu.lastSeenMs, pu.gatewayId]),
    [['nginx', 'Running', '127.0.0.1', BigInt(Date.parse('2026-11-28T12:00:00.000Z')), 'gw-1']],
  );
  assert.ok(inventory.processingUnits?.[0]?.tags?.includes('type=private-app'));
  assert.ok(inventory.processingUnits?.[0]?.tags?.includes('$identity=processingunit'), 'system tags are shown too');
  assert.deepEqual(
    inventory.services?.map((s) => [s.name, s.exposedPort, s.processingUnits]),
    [['private-app', 8443, ['nginx']]],
  );
  assert.deepEqual(
    inventory.externalNetworks?.map((n) => n.name),
    ['corp', 'demo-idp'],
    'its own and the one propagated from /acme; not team-a-only',
  );
  assert.deepEqual(
    inventory.networkPolicies?.map((p) => [p.name, p.action, p.applyPolicyMode, p.logsEnabled, p.subject?.map((c) => c.tags)]),
    [['allow-app-to-idp', 'Allow', 'OutgoingTraffic', true, [['$identity=processingunit', 'type=private-app']]]],
  );
  assert.deepEqual(inventory.namespaces, [
    { path: APP, incomingDefault: 'Reject', outgoingDefault: 'Reject', incomingDecidedBy: '/acme/team-b', outgoingDecidedBy: '/' },
  ]);
});

test('recursive: everything below, with each namespace that holds something', () => {
  const inventory = inventoryOf(snapshot, '/acme', true);
  assert.deepEqual(
    inventory.processingUnits?.map((pu) => pu.name),
    ['nginx', 'other'],
  );
  assert.deepEqual(
    inventory.externalNetworks?.map((n) => n.name),
    ['corp', 'team-a-only', 'demo-idp'],
    'by namespace, then name',
  );
  assert.deepEqual(
    inventory.namespaces?.map((n) => n.path),
    ['/acme', '/acme/team-b', APP, '/acme/team-c'],
  );
});

test('a namespace outside the objects: nothing but its defaults (root defaults when nothing is set)', () => {
  const inventory = inventoryOf(snapshot, '/elsewhere', true);
  assert.deepEqual([inventory.processingUnits, inventory.services, inventory.externalNetworks, inventory.networkPolicies], [[], [], [], []]);
  assert.deepEqual(inventory.namespaces, [
    { path: '/elsewhere', incomingDefault: 'Allow', outgoingDefault: 'Reject', incomingDecidedBy: '/', outgoingDecidedBy: '/' },
  ]);
});

test('served from the snapshot of the moment; a namespace that is not a path is refused with BAD_REQUEST', async () => {
  const bus = new FakeBus();
  serveInventory(bus, { snapshot });
  assert.equal((await bus.call(requests.policyInventory, { namespace: APP })).revision, 42n);
  for (const namespace of ['', 'acme', '/acme/..', '/acme//b']) {
    await assert.rejects(
      bus.call(requests.policyInventory, { namespace, recursive: true }),
      (err: unknown) => err instanceof MicrosegError && err.code === 'BAD_REQUEST',
      JSON.stringify(namespace),
    );
  }
});
