// Unit (fakes): svc.policy.v1.decide as the gateway meets it — the incoming network policy before the
// endpoints, the revision of the snapshot it was made from, an unknown service refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requests } from '@microseg/contracts';
import { MicrosegError } from '@microseg/errors';
import { Decision } from '@microseg/proto/policy';
import { FakeBus } from '../testing/fake-bus.ts';
import { MemoryObjectStore } from '../testing/api-fakes.ts';
import { externalNetwork, networkPolicy, oidcService, processingUnit, resourceSpec } from '../testing/objects.ts';
import { serveDecide } from './decide.ts';

const web = oidcService('web', '/acme');
const store = new MemoryObjectStore([
  web,
  processingUnit('web', '/acme'),
  resourceSpec('web', '/acme', [
    { URI: '/public/*', methods: ['GET'], public: true, allowedScopes: [] },
    { URI: '/admin', methods: ['GET'], public: false, allowedScopes: [['role=admin']] },
  ]),
  externalNetwork('blocked', '/acme', ['203.0.113.0/24']),
  networkPolicy('block', '/acme', { subject: [['net=blocked']], object: [['app=web']], action: 'Reject', applyPolicyMode: 'IncomingTraffic' }),
]);
const bus = new FakeBus();
serveDecide(bus, { store });
const ask = (fields: { path: string; clientIp?: string; authenticated?: boolean; tags?: string[] }) =>
  bus.call(requests.policyDecide, { serviceId: web.ID, method: 'GET', ...fields });

test('it serves svc.policy.v1.decide', () => {
  assert.deepEqual(bus.served, [requests.policyDecide.subject]);
});

test('endpoints decide for a client no network policy refuses; the answer carries the snapshot revision', async () => {
  const cases: Array<[fields: Parameters<typeof ask>[0], decision: Decision, reason: string]> = [
    [{ path: '/public/logo.png', clientIp: '198.51.100.7' }, Decision.ALLOW, 'public'],
    [{ path: '/admin', clientIp: '198.51.100.7' }, Decision.LOGIN, 'login-required'],
    [{ path: '/admin', authenticated: true, tags: ['role=admin'] }, Decision.ALLOW, 'scope'],
    [{ path: '/admin', authenticated: true, tags: ['role=user'] }, Decision.DENY, 'scope-mismatch'],
    [{ path: '/elsewhere' }, Decision.DENY, 'no-endpoint'],
  ];
  for (const [fields, decision, reason] of cases) {
    const answer = await ask(fields);
    assert.deepEqual([answer.decision, answer.reason], [decision, reason], JSON.stringify(fields));
    assert.equal(answer.revision, BigInt(store.snapshot.revision));
  }
});

test('a client address a network policy rejects is denied before any endpoint, naming the policy', async () => {
  const answer = await ask({ path: '/public/logo.png', clientIp: '203.0.113.9' });
  assert.equal(answer.decision, Decision.DENY);
  assert.equal(answer.reason, 'network-policy');
  assert.equal(answer.policyName, 'block');
  assert.equal(answer.namespace, '/acme');
  assert.equal(answer.byDefault, false);
});

test('an unknown service is refused with POLICY_SERVICE_UNKNOWN', async () => {
  await assert.rejects(
    bus.call(requests.policyDecide, { serviceId: 'nobody', method: 'GET', path: '/' }),
    (err: unknown) => err instanceof MicrosegError && err.code === 'POLICY_SERVICE_UNKNOWN',
  );
});

test('each request meets the snapshot of the moment: a change made after serving is seen', async () => {
  await store.replace({ ...web, disabled: true });
  const answer = await ask({ path: '/public/logo.png' });
  assert.deepEqual([answer.decision, answer.reason, answer.revision], [Decision.DENY, 'disabled', BigInt(store.snapshot.revision)]);
});
