// Unit (fakes): svc.policy.v1.flow.check — may a service's processing unit reach an IdP address? The answer
// names the deciding policy; a flow an operator must see (rejected, or accepted by a policy that logs) is
// published as a flow event like a gateway's, and any other is not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requests, subjects } from '@microseg/contracts';
import { MicrosegError } from '@microseg/errors';
import { FakeBus } from '../testing/fake-bus.ts';
import { MemoryObjectStore } from '../testing/api-fakes.ts';
import { externalNetwork, namespaceObject, networkPolicy, oidcService, processingUnit } from '../testing/objects.ts';
import { serveFlowCheck } from './flow-check.ts';

const NOW = Date.UTC(2026, 10, 28, 12, 0, 0);
const web = oidcService('web', '/acme');

function setup(logsEnabled: boolean) {
  const store = new MemoryObjectStore([
    web,
    processingUnit('web', '/acme', { address: '10.0.0.9' }),
    // Outgoing traffic is refused unless a policy allows it.
    namespaceObject('/', '/', { defaultPUOutgoingTrafficAction: 'Reject', defaultPUIncomingTrafficAction: 'Allow' }),
    externalNetwork('idp', '/acme', ['idp.example.com', '192.0.2.10'], { servicePorts: ['tcp/443'] }),
    networkPolicy('to-idp', '/acme', { subject: [['app=web']], object: [['net=idp']], action: 'Allow', applyPolicyMode: 'OutgoingTraffic', logsEnabled }),
  ]);
  const bus = new FakeBus();
  serveFlowCheck(bus, { store, now: () => NOW });
  const check = (host: string, ip: string, port = 443) =>
    bus.call(requests.policyFlowCheck, { serviceId: web.ID, host, ip, port, protocol: 'tcp', purpose: 'discovery' });
  return { bus, check };
}

test('a flow a policy allows is allowed and names the policy; published only when the policy logs', async () => {
  for (const logsEnabled of [false, true]) {
    const { bus, check } = setup(logsEnabled);
    const answer = await check('idp.example.com', '192.0.2.10');
    assert.equal(answer.allowed, true);
    assert.equal(answer.policyName, 'to-idp');
    assert.equal(bus.published.length, logsEnabled ? 1 : 0, `logsEnabled: ${logsEnabled}`);
  }
});

test('a flow nothing allows is refused by the default and published as a rejected flow of the unit', async () => {
  const { bus, check } = setup(false);
  const answer = await check('elsewhere.example.com', '198.51.100.4');
  assert.equal(answer.allowed, false);
  assert.equal(answer.policyName, '');
  assert.equal(bus.published.length, 1);
  const [{ subject, message, msgId }] = bus.published as [{ subject: string; message: Record<string, unknown>; msgId: string }];
  assert.equal(subject, subjects.gatewayDecision);
  assert.equal(message.id, msgId, 'the flow id is its message id');
  assert.deepEqual(
    {
      action: message.action,
      dropReason: message.dropReason,
      uri: message.uri,
      timeMs: message.timeMs,
      byDefault: message.byDefault,
      namespace: message.namespace,
      serviceId: message.serviceId,
    },
    { action: 'Reject', dropReason: 'policy', uri: 'tcp/443 discovery', timeMs: BigInt(NOW), byDefault: true, namespace: '/acme', serviceId: web.ID },
  );
  assert.deepEqual(message.source, { type: 'ProcessingUnit', id: 'web', name: 'web', ip: '10.0.0.9', namespace: '/acme' });
  assert.deepEqual(message.destination, { type: 'ExternalNetwork', id: 'elsewhere.example.com', name: 'somewhere', ip: '198.51.100.4', port: 443 });
});

test('an unknown service is refused with POLICY_SERVICE_UNKNOWN', async () => {
  const { bus } = setup(false);
  await assert.rejects(
    bus.call(requests.policyFlowCheck, { serviceId: 'nobody', host: 'x', port: 443 }),
    (err: unknown) => err instanceof MicrosegError && err.code === 'POLICY_SERVICE_UNKNOWN',
  );
});
