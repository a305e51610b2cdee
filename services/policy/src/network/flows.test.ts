// Unit (fakes): the two flows of SPEC §7 seen from a service's processing unit — browsers coming in on its
// exposedPort, authn's calls to the IdP going out — and the placeholder unit that stands in when the service
// selects none, so that the namespace's defaults and policies still decide.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PolicyObject } from '@microseg/contracts';
import { Snapshot } from '../snapshot.ts';
import { externalNetwork, namespaceObject, networkPolicy, processingUnit, service } from '../testing/objects.ts';
import { checkIncoming, checkOutgoing } from './flows.ts';

const NS = '/acme';
const web = service('web', NS, { exposedPort: 443 });
const webPu = processingUnit('web', NS);
const snapshot = (...objects: PolicyObject[]) => Snapshot.build(objects, 1);

const office = externalNetwork('office', NS, ['203.0.113.0/24'], { servicePorts: ['tcp/443'] });
const officeToWeb = networkPolicy('office-to-web', NS, {
  subject: [['net=office']],
  object: [['app=web']],
  action: 'Allow',
  applyPolicyMode: 'IncomingTraffic',
});
const closedByDefault = namespaceObject(NS, '/', { defaultPUIncomingTrafficAction: 'Reject', defaultPUOutgoingTrafficAction: 'Reject' });

test('incoming: a policy naming the unit by its tags decides, for a client in its external network, on the exposedPort', () => {
  const objects = snapshot(web, webPu, office, officeToWeb, closedByDefault);
  const accepted = checkIncoming(objects, web, '203.0.113.9');
  assert.equal(accepted.action, 'Accept');
  assert.equal(accepted.byDefault, false);
  assert.equal(accepted.policy?.name, 'office-to-web');
  assert.deepEqual(accepted.externalNetworks, ['office']);

  const outsider = checkIncoming(objects, web, '198.51.100.1');
  assert.equal(outsider.action, 'Reject');
  assert.equal(outsider.byDefault, true);
  assert.match(outsider.reason, /default of \/acme: Reject/);

  // The port checked is the service's exposedPort: the office network covers tcp/443 only.
  const onOtherPort = { ...web, exposedPort: 8443 };
  assert.equal(checkIncoming(snapshot(onOtherPort, webPu, office, officeToWeb, closedByDefault), onOtherPort, '203.0.113.9').action, 'Reject');
});

test('incoming: the unit enforces as destination, so an OutgoingTraffic policy does not apply', () => {
  const outgoingOnly = { ...officeToWeb, applyPolicyMode: 'OutgoingTraffic' as const };
  const verdict = checkIncoming(snapshot(web, webPu, office, outgoingOnly, closedByDefault), web, '203.0.113.9');
  assert.equal(verdict.action, 'Reject');
  assert.equal(verdict.byDefault, true);
});

test('incoming: without a unit of its own, a placeholder in the service namespace is judged (no tags, no borrowed policy)', () => {
  // No unit, a stopped unit, or a unit of another namespace: none is the service's.
  for (const units of [[], [processingUnit('web', NS, { status: 'Stopped' })], [processingUnit('web', '/other')]]) {
    const verdict = checkIncoming(snapshot(web, ...units, office, officeToWeb, closedByDefault), web, '203.0.113.9');
    assert.equal(verdict.action, 'Reject', 'a policy for app=web does not reach the placeholder');
    assert.match(verdict.reason, /processing units in \/acme/);
    assert.match(verdict.reason, /default of \/acme: Reject/);
  }
  // Its system tags are still those of a processing unit in the service's namespace.
  const anyUnitHere = networkPolicy('any-unit', NS, {
    subject: [['net=office']],
    object: [['$identity=processingunit', `$namespace=${NS}`]],
    action: 'Allow',
    applyPolicyMode: 'Bidirectional',
  });
  const verdict = checkIncoming(snapshot(web, office, anyUnitHere, closedByDefault), web, '203.0.113.9');
  assert.deepEqual([verdict.action, verdict.policy?.name], ['Accept', 'any-unit']);
});

const idp = externalNetwork('idp', NS, ['idp.example.com'], { servicePorts: ['tcp/443'] });
const webToIdp = networkPolicy('allow-web-to-idp', NS, {
  subject: [['app=web']],
  object: [['net=idp']],
  action: 'Allow',
  applyPolicyMode: 'OutgoingTraffic',
});
const toIdp = { host: 'idp.example.com', ip: '192.0.2.10', port: 443, protocol: 'tcp' as const };

test('outgoing: the call to the IdP is rejected by the root default until a policy allows it, then accepted by that policy', () => {
  const closed = checkOutgoing(snapshot(web, webPu, idp), web, toIdp);
  assert.equal(closed.verdict.action, 'Reject');
  assert.equal(closed.verdict.byDefault, true);
  assert.equal(closed.verdict.report, true);
  assert.equal(
    closed.verdict.reason,
    'no policy allows processing units with app=web to reach idp.example.com [192.0.2.10]:443 (external network idp) (default of /: Reject)',
  );
  assert.equal(closed.processingUnit.ID, webPu.ID, 'the unit that enforced is the service’s own');

  const open = checkOutgoing(snapshot(web, webPu, idp, webToIdp), web, toIdp);
  assert.deepEqual([open.verdict.action, open.verdict.policy?.name, open.verdict.byDefault], ['Accept', 'allow-web-to-idp', false]);
});

test('outgoing: protocol, port and host are those of the target; an empty host means the address alone is matched', () => {
  const objects = snapshot(web, webPu, idp, webToIdp);
  assert.equal(checkOutgoing(objects, web, { ...toIdp, port: 8443 }).verdict.action, 'Reject', 'idp covers tcp/443 only');
  assert.equal(checkOutgoing(objects, web, { ...toIdp, protocol: 'udp' }).verdict.action, 'Reject', 'idp covers tcp only');
  const byAddressOnly = checkOutgoing(objects, web, { ...toIdp, host: '' });
  assert.equal(byAddressOnly.verdict.action, 'Reject', 'a DNS entry does not match an address');
  assert.match(byAddressOnly.verdict.reason, /reach 192\.0\.2\.10:443 \(default/);
  const idpByAddress = { ...idp, entries: ['192.0.2.0/24'] };
  assert.equal(checkOutgoing(snapshot(web, webPu, idpByAddress, webToIdp), web, { ...toIdp, host: '' }).verdict.action, 'Accept');
});

test('outgoing: a namespace that allows by default accepts without reporting; the placeholder unit is returned when none is selected', () => {
  const openNs = namespaceObject(NS, '/', { defaultPUOutgoingTrafficAction: 'Allow' });
  const { verdict, processingUnit: unit } = checkOutgoing(snapshot(web, openNs), web, toIdp);
  assert.deepEqual([verdict.action, verdict.byDefault, verdict.report], ['Accept', true, false]);
  assert.deepEqual(
    { ID: unit.ID, name: unit.name, namespace: unit.namespace, tags: unit.associatedTags },
    { ID: '', name: 'web (no processing unit)', namespace: NS, tags: [] },
  );
});
