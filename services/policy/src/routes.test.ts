// Which routes a gateway gets when services of different namespaces claim the same port and host.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PolicyObject, ProcessingUnitObject, ServiceObject } from '@microseg/contracts';
import { parseImportDocument } from './objects/import-file.ts';
import { routesFor } from './routes.ts';
import { Snapshot } from './snapshot.ts';

function service(namespace: string, name: string, createTime: string | undefined, extra: object = {}): ServiceObject {
  const doc = { namespace, data: { services: [{ name, hosts: ['localhost'], port: 3000, exposedPort: 8443, selectors: [['app=x']], ...extra }] } };
  const parsed = parseImportDocument(JSON.stringify(doc), 'test')[0] as ServiceObject;
  return createTime ? { ...parsed, createTime } : parsed;
}

function pu(
  namespace: string,
  name: string,
  ports: { applicationPorts?: number[]; exposedPorts?: number[] } = { applicationPorts: [3000], exposedPorts: [8443, 9443] },
): ProcessingUnitObject {
  const doc = { namespace, data: { processingunits: [{ name, address: '127.0.0.1', associatedTags: ['app=x'], ...ports }] } };
  return parseImportDocument(JSON.stringify(doc), 'test')[0] as ProcessingUnitObject;
}

const victimPu = pu('/acme/team-b', 'victim-pu');
const attackerPu = pu('/acme/team-c', 'attacker-pu');

function served(objects: PolicyObject[]) {
  const conflicts: string[] = [];
  const routes = routesFor(Snapshot.build(objects, 1), [victimPu, attackerPu], (kept, dropped, port, host) =>
    conflicts.push(`${kept.name} kept ${port} ${host} from ${dropped.name}`),
  );
  return { names: routes.map((r) => r.name), conflicts };
}

test('a newer service on the same exposedPort and host, in another namespace, is not served: the older keeps its traffic', () => {
  const victim = service('/acme/team-b', 'victim', '2026-01-01T00:00:00.000Z');
  const attacker = service('/acme/team-c', 'attacker', '2026-06-01T00:00:00.000Z', { hosts: ['LOCALHOST', 'other.example'] });
  // Whatever order the store lists them in.
  for (const objects of [
    [victim, attacker],
    [attacker, victim],
  ]) {
    assert.deepEqual(served(objects), { names: ['victim'], conflicts: ['victim kept 8443 localhost from attacker'] });
  }
});

test('objects without createTime (bootstrap files) count as the oldest', () => {
  const bootstrap = service('/acme/team-b', 'bootstrap', undefined);
  const later = service('/acme/team-c', 'later', '2020-01-01T00:00:00.000Z');
  assert.deepEqual(served([later, bootstrap]).names, ['bootstrap']);
});

test('other hosts or ports, or a disabled older service, are no conflict', () => {
  const victim = service('/acme/team-b', 'victim', '2026-01-01T00:00:00.000Z');
  assert.deepEqual(served([victim, service('/acme/team-c', 'other-host', '2026-06-01T00:00:00.000Z', { hosts: ['other.example'] })]).names, [
    'victim',
    'other-host',
  ]);
  assert.deepEqual(served([victim, service('/acme/team-c', 'other-port', '2026-06-01T00:00:00.000Z', { exposedPort: 9443 })]).names, ['victim', 'other-port']);
  const disabled = service('/acme/team-b', 'disabled', '2026-01-01T00:00:00.000Z', { disabled: true });
  assert.deepEqual(served([disabled, service('/acme/team-c', 'newer', '2026-06-01T00:00:00.000Z')]), { names: ['newer'], conflicts: [] });
});

test("a service whose ports its unit's gateway does not list is not served, and said so", () => {
  const refused: string[] = [];
  const only = (unit: ProcessingUnitObject, objects: PolicyObject[]) =>
    routesFor(Snapshot.build(objects, 1), [unit], undefined, (service, p, problem) =>
      refused.push(`${service.name} on ${p.name}: ${problem.attribute} ${problem.message}`),
    ).map((r) => r.name);
  const ok = service('/acme/team-b', 'ok', undefined);
  const toPolicy = service('/acme/team-b', 'to-policy', undefined, { port: 7070 });
  const onAdmin = service('/acme/team-b', 'on-admin', undefined, { hosts: ['admin.example'], exposedPort: 7090 });
  assert.deepEqual(only(victimPu, [ok, toPolicy, onAdmin]), ['ok']);
  assert.deepEqual(refused.sort(), [
    "on-admin on victim-pu: exposedPort 7090 is not a port the gateway of processing unit victim-pu may open (allowed: 8443, 9443); its gateway's file lists them",
    "to-policy on victim-pu: port 7070 is not an application port of processing unit victim-pu (allowed: 3000); its gateway's file lists them",
  ]);
  // A unit registered without ports (an older gateway) allows nothing: fail closed until it registers again.
  assert.deepEqual(only(pu('/acme/team-b', 'old', {}), [ok]), []);
});

test('forwardAuth reaches the gateway in the route; a service stored before the field existed is not served through forward-auth', () => {
  const ingress = service('/acme/team-b', 'ingress', '2026-01-01T00:00:00.000Z', { forwardAuth: true });
  assert.equal(ingress.forwardAuth, true);
  const plain = service('/acme/team-b', 'plain', '2026-01-01T00:00:00.000Z', { hosts: ['plain.example'] });
  assert.equal(plain.forwardAuth, false, 'the schema says false when the field is left out');
  const stored = service('/acme/team-b', 'stored', '2026-01-01T00:00:00.000Z', { hosts: ['stored.example'] });
  delete stored.forwardAuth;
  const routes = routesFor(Snapshot.build([ingress, plain, stored], 1), [victimPu]);
  assert.deepEqual(routes.map((r) => [r.name, r.forwardAuth]).sort(), [
    ['ingress', true],
    ['plain', false],
    ['stored', false],
  ]);
});

test("a service's applicationProtocol and applicationCA reach its route; an older object without them is HTTP/1.1 with the system's CAs", () => {
  const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----';
  const h2 = service('/acme/team-b', 'h2', undefined, { applicationProtocol: 'HTTP/2', exposedServiceIsTLS: true });
  const routes = routesFor(Snapshot.build([{ ...h2, applicationCA: PEM }], 1), [victimPu]);
  assert.deepEqual(
    routes.map((r) => [r.applicationProtocol, r.applicationCa, r.exposedServiceIsTls]),
    [['HTTP/2', PEM, true]],
  );
  const { applicationProtocol: _, ...older } = service('/acme/team-b', 'older', undefined);
  const olderRoutes = routesFor(Snapshot.build([older], 1), [victimPu]);
  assert.deepEqual(
    olderRoutes.map((r) => [r.applicationProtocol, r.applicationCa]),
    [['HTTP/1.1', '']],
  );
});
