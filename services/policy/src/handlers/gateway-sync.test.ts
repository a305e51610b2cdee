// Unit (fakes): svc.policy.v1.gateway.sync — a gateway's processing units registered (an event when new or
// changed, nothing for a heartbeat), the services it must serve with their TLS keys opened, and the services
// it must not serve left out and reported once each: port and host taken by an older service, ports its
// gateway does not allow, a TLS key this replica cannot open.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { create } from '@bufbuild/protobuf';
import { requests, type PolicyObject, type ProcessingUnitObject } from '@microseg/contracts';
import { GatewaySyncRequestSchema } from '@microseg/proto/policy';
import { SecretHealthReporter } from '../secret-health.ts';
import { SecretBox, sealObject } from '../secrets.ts';
import { FakeBus } from '../testing/fake-bus.ts';
import { MemoryObjectStore } from '../testing/api-fakes.ts';
import { service } from '../testing/objects.ts';
import { processingUnitsOf, serveGatewaySync } from './gateway-sync.ts';

const NOW = new Date('2026-11-28T12:00:00.000Z');
const secrets = new SecretBox([Buffer.alloc(32, 7)]);
const otherKey = new SecretBox([Buffer.alloc(32, 8)]);

function setup(objects: PolicyObject[]) {
  const store = new MemoryObjectStore(objects);
  const bus = new FakeBus();
  serveGatewaySync(bus, { store, secrets, secretHealth: new SecretHealthReporter(secrets, bus, () => undefined), assertionKeys, now: () => NOW });
  const sync = (
    units: Array<{ name: string; namespace: string; tags: string[]; address?: string }>,
    extra: { problems?: Array<{ serviceId: string; message: string }>; routesOnly?: boolean } = {},
  ) =>
    bus.call(requests.policyGatewaySync, {
      gatewayId: 'gw-1',
      exposedPorts: [443],
      processingUnits: units.map((u) => ({ address: '10.0.0.5', applicationPorts: [3000], ...u })),
      ...extra,
    });
  return { store, bus, sync };
}

const assertionKeys = {
  forGateways: () => ({
    issuer: 'microseg',
    ttlSeconds: 60,
    keys: [{ kid: 'k1', publicJwk: '{}', privateKeyPem: 'PEM', activateAtMs: 1n, publishUntilMs: 0n }],
  }),
};

const webUnit = { name: 'web', namespace: '/acme', tags: ['app=web'] };

test('a new processing unit is stored as registered by its gateway, with one event; a repeat changes nothing', async () => {
  const { store, bus, sync } = setup([service('web', '/acme')]);
  const answer = await sync([webUnit]);
  assert.deepEqual(
    answer.services?.map((s) => s.name),
    ['web'],
  );
  assert.equal(answer.services?.[0]?.upstreamAddress, '10.0.0.5');
  assert.equal(answer.revision, BigInt(store.snapshot.revision));
  const unit = store.snapshot.processingUnits[0]!;
  assert.deepEqual(
    {
      name: unit.name,
      gatewayID: unit.gatewayID,
      status: unit.status,
      lastSeen: unit.lastSeen,
      applicationPorts: unit.applicationPorts,
      exposedPorts: unit.exposedPorts,
    },
    { name: 'web', gatewayID: 'gw-1', status: 'Running', lastSeen: NOW.toISOString(), applicationPorts: [3000], exposedPorts: [443] },
  );
  assert.deepEqual(
    bus.events.map((e) => [e.kind, e.input.namespace, e.input.content]),
    [['processingUnitRegistered', '/acme', 'Processing unit web at 10.0.0.5 was registered by gateway gw-1.']],
  );
  await sync([webUnit]);
  assert.equal(bus.events.length, 1, 'a heartbeat is no news');
});

test("routes only (a gateway's other workers): the same services, and nothing stored or announced", async () => {
  const { store, bus, sync } = setup([service('web', '/acme')]);
  const answer = await sync([webUnit], { routesOnly: true, problems: [{ serviceId: 'web', message: 'not mine to say' }] });
  assert.deepEqual(
    answer.services?.map((s) => [s.name, s.upstreamAddress]),
    [['web', '10.0.0.5']],
  );
  assert.equal(store.snapshot.processingUnits.length, 0, 'no unit registered');
  assert.deepEqual(bus.events, [], 'no event');
  // The first worker's registration stores the unit once; the others' questions leave it as it is.
  await sync([webUnit]);
  const stored = structuredClone(store.snapshot.processingUnits);
  await sync([webUnit], { routesOnly: true, problems: [{ serviceId: 'web', message: 'not mine to say' }] });
  assert.deepEqual(store.snapshot.processingUnits, stored);
  assert.equal(bus.events.length, 1);
});

test("the gateway's problems are kept on its units, bounded in number and length", () => {
  const problems = Array.from({ length: 1500 }, (_, i) => ({ serviceId: `s${i}`, kind: 'port', port: 443, message: 'x'.repeat(5000) }));
  const request = (withProblems: typeof problems) =>
    create(GatewaySyncRequestSchema, { gatewayId: 'gw', processingUnits: [{ name: 'a', namespace: '/' }], problems: withProblems });
  const [unit] = processingUnitsOf(request(problems), NOW) as [ProcessingUnitObject];
  assert.equal(unit.serviceProblems?.length, 1000);
  assert.equal(unit.serviceProblems?.[0]?.message.length, 1024);
  const [clean] = processingUnitsOf(request([]), NOW) as [ProcessingUnitObject];
  assert.equal('serviceProblems' in clean, false);
});

test('port and host taken by an older service: the newer is left out and reported once, naming the older only in its own namespace', async () => {
  const older = service('old', '/acme', { hosts: ['shop.example.com'], selectors: [['app=web']], createTime: '2026-01-01T00:00:00.000Z' });
  const newer = service('new', '/acme', { hosts: ['SHOP.example.com'], selectors: [['app=web']], createTime: '2026-02-01T00:00:00.000Z' });
  const intruder = service('intruder', '/acme/other', {
    hosts: ['shop.example.com'],
    selectors: [['app=web']],
    propagate: false,
    createTime: '2026-03-01T00:00:00.000Z',
  });
  const { bus, sync } = setup([older, newer, intruder]);
  const answer = await sync([webUnit, { name: 'web2', namespace: '/acme/other', tags: ['app=web'] }]);
  assert.deepEqual(
    answer.services?.map((s) => s.name),
    ['old'],
  );
  await sync([webUnit, { name: 'web2', namespace: '/acme/other', tags: ['app=web'] }]);
  const reports = bus.events.filter((e) => e.kind === 'serviceNotServedPortAndHostTaken');
  assert.equal(reports.length, 2, 'once per service and process');
  assert.match(
    reports.find((e) => e.input.targetId === newer.ID)!.input.content,
    /an older service \(old\) already serves exposedPort 443 with host shop\.example\.com/,
  );
  assert.match(
    reports.find((e) => e.input.targetId === intruder.ID)!.input.content,
    /an older service already serves/,
    'another namespace does not learn its name',
  );
  assert.ok(reports.every((e) => e.options.msgId?.startsWith('not-served-')));
});

test("ports its unit's gateway does not allow: left out and reported", async () => {
  const { bus, sync } = setup([service('web', '/acme', { port: 8080 })]);
  const answer = await sync([webUnit]);
  assert.deepEqual(answer.services, []);
  const [report] = bus.events.filter((e) => e.kind === 'serviceNotServedPortNotAllowed');
  assert.match(report!.input.content, /^Service web is not served: port 8080 is not an application port of processing unit web/);
});

test('a TLS key is sent opened; one this replica cannot open leaves that service out, not the others', async () => {
  const readable = sealObject(secrets, service('tls', '/acme', { TLSCertificate: 'CERT', TLSCertificateKey: 'the-key', selectors: [['app=web']] }));
  const unreadable = sealObject(
    otherKey,
    service('lost', '/acme', { TLSCertificate: 'CERT', TLSCertificateKey: 'lost-key', hosts: ['lost.example.com'], selectors: [['app=web']] }),
  );
  const plain = service('plain', '/acme', { hosts: ['plain.example.com'], selectors: [['app=web']] });
  const { bus, sync } = setup([readable, unreadable, plain]);
  const answer = await sync([webUnit]);
  assert.deepEqual(answer.services?.map((s) => [s.name, s.tlsCertificateKey]).sort(), [
    ['plain', ''],
    ['tls', 'the-key'],
  ]);
  assert.ok(bus.events.some((e) => e.kind === 'secretUnreadable' && e.input.targetId === unreadable.ID));
});

test('the reply carries the assertion keys, private halves included (the gateway signs with them)', async () => {
  const { sync } = setup([]);
  const reply = await sync([webUnit]);
  assert.equal(reply.assertion?.issuer, 'microseg');
  assert.equal(reply.assertion?.ttlSeconds, 60);
  assert.deepEqual(
    reply.assertion?.keys?.map((k) => [k.kid, k.privateKeyPem]),
    [['k1', 'PEM']],
  );
});
