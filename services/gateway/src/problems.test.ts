import { test } from 'node:test';
import assert from 'node:assert/strict';
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { ServiceRouteSchema } from '@microseg/proto/policy';
import { RoutingState } from './state.ts';
import { ProblemLog, problemEvent, servingProblems, type ServingProblem } from './problems.ts';
import { eventCatalogue } from '@microseg/contracts';

const route = (id: string, exposedPort: number, extra: MessageInitShape<typeof ServiceRouteSchema> = {}) =>
  create(ServiceRouteSchema, { id, name: `svc-${id}`, namespace: `/ns-${id}`, hosts: [`${id}.example.test`], exposedPort, ...extra });

const reasons: Array<{ code: string; says: RegExp }> = [
  { code: 'RESERVED', says: /exposedPort 7090 is the gateway's own admin port\. Choose another exposedPort\.$/ },
  { code: 'EADDRINUSE', says: /exposedPort 7090 is in use by another program on the gateway's host\. Choose another exposedPort, or free the port\.$/ },
  { code: 'EACCES', says: /may not listen on exposedPort 7090 \(ports below 1024 need a privilege\)/ },
  { code: 'EADDRNOTAVAIL', says: /exposedPort 7090 cannot be opened on the gateway's listen address \(EADDRNOTAVAIL\)\.$/ },
];

for (const { code, says } of reasons) {
  test(`servingProblems: a port that cannot be opened (${code}) is a problem of every service on it, and of no other`, () => {
    const state = new RoutingState([route('a', 7090), route('b', 7090, { hosts: ['b.example.test'] }), route('c', 8443)], 1n);
    const problems = servingProblems(state, new Map([[7090, code]]), []);
    assert.deepEqual(
      problems.map((p) => [p.serviceId, p.namespace, p.kind, p.port]),
      [
        ['a', '/ns-a', 'port', 7090],
        ['b', '/ns-b', 'port', 7090],
      ],
    );
    for (const p of problems) assert.match(p.message, says);
    assert.match(problems[0]!.message, /^Service svc-a is not served: /);
  });
}

test('servingProblems: a certificate problem names the service and the hosts whose handshakes are refused', () => {
  const bad = route('a', 8443, { hosts: ['a.example.test', 'www.a.example.test'] });
  const [problem, ...rest] = servingProblems(new RoutingState([bad], 1n), new Map(), [{ route: bad, message: 'TLSCertificateKey is missing' }]);
  assert.equal(rest.length, 0);
  assert.equal(problem!.kind, 'certificate');
  assert.equal(
    problem!.message,
    'Service svc-a is not served: TLSCertificateKey is missing. TLS connections for a.example.test, www.a.example.test are refused until it is fixed.',
  );
});

const problem = (serviceId: string, message = 'm'): ServingProblem => ({ serviceId, serviceName: serviceId, namespace: '/ns', kind: 'port', port: 1, message });

test('ProblemLog: each problem is raised once however many syncs find it, resolved once when gone, raised again if it comes back', () => {
  const raised: string[] = [];
  const resolved: string[] = [];
  const log = new ProblemLog({ raised: (p) => raised.push(`${p.serviceId}:${p.message}`), resolved: (p) => resolved.push(p.serviceId) });
  assert.equal(log.replace([]), false);
  assert.equal(log.replace([problem('a'), problem('b')]), true);
  assert.equal(log.replace([problem('b'), problem('a')]), false, 'the same problems: nothing new to tell');
  assert.equal(log.replace([problem('a'), problem('b')]), false);
  assert.deepEqual(raised, ['a:m', 'b:m']);
  assert.equal(log.replace([problem('a', 'another reason')]), true, 'a new reason is a new problem');
  assert.deepEqual(raised, ['a:m', 'b:m', 'a:another reason']);
  assert.deepEqual(resolved, ['a', 'b']);
  assert.deepEqual(
    log.list.map((p) => p.message),
    ['another reason'],
  );
  assert.equal(log.replace([]), true);
  assert.equal(log.replace([problem('a', 'another reason')]), true);
  assert.deepEqual(raised.length, 4);
});

test('problemEvent: an Error event of the catalogue in the service’s namespace; its end an Info event', () => {
  const p: ServingProblem = {
    serviceId: 'svc-id',
    serviceName: 'app',
    namespace: '/acme/app',
    kind: 'port',
    port: 7090,
    message: "Service app is not served: exposedPort 7090 is the gateway's own admin port. Choose another exposedPort.",
  };
  const raised = problemEvent(p, 'raised', 'gw-1');
  assert.deepEqual(raised, {
    kind: 'serviceNotServedPortCannotOpen',
    input: { content: `${p.message} (gateway gw-1)`, targetIdentity: 'service', targetId: 'svc-id', namespace: '/acme/app' },
  });
  assert.equal(eventCatalogue[raised.kind].level, 'Error');
  assert.equal(eventCatalogue[raised.kind].origin, 'gateway', 'the gateway may publish it (its bus permissions)');
  assert.equal(problemEvent({ ...p, kind: 'certificate' }, 'raised', 'gw-1').kind, 'serviceNotServedCertificateUnusable');
  const resolved = problemEvent(p, 'resolved', 'gw-1');
  assert.equal(eventCatalogue[resolved.kind].level, 'Info');
  assert.equal(resolved.input.content, 'Service app is served again by gateway gw-1.');
});
