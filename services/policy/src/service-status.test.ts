// Unit (fakes): what a service's editors see on it — Served, NotServed with every reason (ports its gateway
// does not allow, its port and host taken by an older service, a secret this replica cannot open, a problem
// its gateway reported), NoProcessingUnit, Disabled — computed once per snapshot.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PolicyObject, ServiceObject } from '@microseg/contracts';
import { serviceStatuses, type UnreadableFields } from './service-status.ts';
import { Snapshot } from './snapshot.ts';
import { processingUnit, service } from './testing/objects.ts';

const NS = '/acme';
const nothingUnreadable: UnreadableFields = () => [];
const statusesOf = (objects: PolicyObject[], unreadable = nothingUnreadable) => serviceStatuses(Snapshot.build(objects, 1), unreadable);
const statusOf = (target: ServiceObject, objects: PolicyObject[], unreadable = nothingUnreadable) =>
  statusesOf([target, ...objects], unreadable).get(target.ID)!;

const web = service('web', NS);
const webPu = processingUnit('web', NS, { gatewayID: 'gw-1' });

test('a service routed to a running unit of a gateway is Served, with no problems', () => {
  assert.deepEqual(statusOf(web, [webPu]), { servingStatus: 'Served', servingProblems: [] });
});

test('a service that selects no running unit: NoProcessingUnit, telling to check the selectors', () => {
  const expected = { servingStatus: 'NoProcessingUnit', servingProblems: ['it selects no running processing unit of a gateway: check its selectors'] };
  assert.deepEqual(statusOf(web, []), expected);
  assert.deepEqual(statusOf(web, [{ ...webPu, status: 'Stopped' }]), expected);
  assert.deepEqual(statusOf(web, [processingUnit('api', NS)]), expected);
});

test('a disabled service is Disabled, whatever else holds', () => {
  const disabled = { ...web, disabled: true };
  assert.deepEqual(statusOf(disabled, [webPu]), { servingStatus: 'Disabled', servingProblems: [] });
  assert.equal(statusOf(disabled, []).servingStatus, 'Disabled');
});

test("ports its unit's gateway does not allow: NotServed, naming the attribute", () => {
  const wrongPort = { ...web, port: 7070 };
  assert.deepEqual(statusOf(wrongPort, [webPu]), {
    servingStatus: 'NotServed',
    servingProblems: ["port 7070 is not an application port of processing unit web (allowed: 3000); its gateway's file lists them"],
  });
  const wrongExposed = { ...web, exposedPort: 9443 };
  assert.match(statusOf(wrongExposed, [webPu]).servingProblems[0] ?? '', /^exposedPort 9443 is not a port the gateway/);
});

/** A service created at `createTime`, on app.example.com:443, fronting the units tagged app=web. */
const created = (name: string, namespace: string, createTime: string): ServiceObject =>
  service(name, namespace, { hosts: ['app.example.com'], selectors: [['app=web']], createTime });

test('the newer of two services on one exposedPort and host of a gateway is NotServed; the older one named only in its own namespace', () => {
  const older = created('older', NS, '2026-01-01T00:00:00.000Z');
  const newer = { ...created('newer', NS, '2026-02-01T00:00:00.000Z'), hosts: ['APP.example.com'] };
  const statuses = statusesOf([newer, older, webPu]);
  assert.deepEqual(statuses.get(older.ID), { servingStatus: 'Served', servingProblems: [] });
  assert.deepEqual(statuses.get(newer.ID), {
    servingStatus: 'NotServed',
    servingProblems: ['exposedPort 443 with host app.example.com is already served by an older service (older); choose another host or port'],
  });

  // Another tenant's newer service behind the same gateway: refused, without reading the older one's name.
  const elsewhere = created('elsewhere', '/other', '2026-02-01T00:00:00.000Z');
  const crossTenant = statusesOf([elsewhere, older, webPu, processingUnit('web', '/other', { gatewayID: 'gw-1' })]);
  assert.equal(crossTenant.get(older.ID)?.servingStatus, 'Served');
  assert.deepEqual(crossTenant.get(elsewhere.ID), {
    servingStatus: 'NotServed',
    servingProblems: ['exposedPort 443 with host app.example.com is already served by an older service; choose another host or port'],
  });
});

test('conflicts are per gateway: the same port and host behind two gateways are both served', () => {
  const a = service('a', NS, { hosts: ['app.example.com'], selectors: [['app=a']] });
  const b = service('b', NS, { hosts: ['app.example.com'], selectors: [['app=b']] });
  const statuses = statusesOf([a, b, processingUnit('a', NS, { gatewayID: 'gw-1' }), processingUnit('b', NS, { gatewayID: 'gw-2' })]);
  assert.deepEqual([statuses.get(a.ID)?.servingStatus, statuses.get(b.ID)?.servingStatus], ['Served', 'Served']);
});

test('a secret this replica cannot open: NotServed, naming the field', () => {
  const asked: string[] = [];
  const unreadable: UnreadableFields = (s) => (asked.push(s.name), s.ID === web.ID ? ['OIDCClientSecret', 'TLSCertificateKey'] : []);
  const other = service('other', NS, { hosts: ['other.example.com'], selectors: [['app=web']] });
  const statuses = statusesOf([web, other, webPu], unreadable);
  assert.deepEqual(statuses.get(web.ID), {
    servingStatus: 'NotServed',
    servingProblems: [
      'OIDCClientSecret cannot be opened by the policy service (msctl secrets status says why and what to do)',
      'TLSCertificateKey cannot be opened by the policy service (msctl secrets status says why and what to do)',
    ],
  });
  assert.equal(statuses.get(other.ID)?.servingStatus, 'Served', 'the others are served');
  assert.deepEqual(asked.sort(), ['other', 'web']);
});

test("a gateway's own problems count only for services its units front, once each", () => {
  const api = service('api', '/other', { hosts: ['api.example.com'], selectors: [['app=api']] });
  const reporting = {
    ...webPu,
    serviceProblems: [
      { serviceID: web.ID, message: 'cannot bind port 443' },
      { serviceID: api.ID, message: 'this is the other tenant’s service' },
      { serviceID: 'unknown', message: 'no such service' },
    ],
  };
  const sibling = { ...reporting, ID: 'web-2', address: '10.0.0.2' };
  const statuses = statusesOf([web, api, reporting, sibling, processingUnit('api', '/other', { gatewayID: 'gw-2' })]);
  assert.deepEqual(statuses.get(web.ID), { servingStatus: 'NotServed', servingProblems: ['gateway gw-1: cannot bind port 443'] });
  assert.deepEqual(statuses.get(api.ID), { servingStatus: 'Served', servingProblems: [] }, 'gw-1 cannot put words on a service it does not front');
  assert.equal(statuses.has('unknown'), false);
});

test('computed once per snapshot: the same answer, without asking again; a new snapshot computes afresh', () => {
  let calls = 0;
  const counting: UnreadableFields = () => (calls++, []);
  const snapshot = Snapshot.build([web, webPu], 1);
  const first = serviceStatuses(snapshot, counting);
  assert.equal(serviceStatuses(snapshot, counting), first);
  assert.equal(calls, 1);
  const next = serviceStatuses(Snapshot.build([web], 2), counting);
  assert.equal(calls, 2);
  assert.equal(next.get(web.ID)?.servingStatus, 'NoProcessingUnit');
});
