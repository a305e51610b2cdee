// Unit: the Warning event written for a rejected network flow.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { create } from '@bufbuild/protobuf';
import { eventCatalogue } from '@microseg/contracts';
import { FlowEventSchema } from '@microseg/proto/events';
import { FakeBus } from '../testing/fake-bus.ts';
import { denialEvent, denialReporter } from './network-denials.ts';

const NOW = Date.UTC(2026, 10, 28, 12, 30, 15);
const NS = '/acme/team-b/dev/private-app';

const outgoing = (fields: Record<string, unknown> = {}) =>
  create(FlowEventSchema, {
    id: 'flow-1',
    timeMs: BigInt(NOW),
    namespace: NS,
    source: { type: 'ProcessingUnit', id: 'nginx', name: 'nginx', ip: '127.0.0.1', namespace: NS },
    destination: { type: 'ExternalNetwork', id: 'demo-idp', name: 'demo-idp', ip: 'localhost', port: 9400 },
    uri: 'tcp/9400 discovery',
    action: 'Reject',
    dropReason: 'policy',
    byDefault: true,
    ...fields,
  });

test('a rejection by the namespace default names the default and what was refused', () => {
  const bus = new FakeBus();
  denialReporter(bus, () => NOW)(outgoing());
  assert.equal(bus.events.length, 1);
  const [{ kind, input: denial }] = bus.events as [(typeof bus.events)[0]];
  const { level, category, title } = eventCatalogue[kind];
  assert.deepEqual(
    { level, category, title, namespace: denial.namespace, targetIdentity: denial.targetIdentity, targetId: denial.targetId },
    { level: 'Warning', category: 'network', title: 'Network access denied', namespace: NS, targetIdentity: 'namespace', targetId: NS },
  );
  assert.equal(
    denial.content,
    `processing unit nginx may not reach external network demo-idp (localhost:9400) (tcp/9400 discovery): rejected by the default of the namespace ${NS} (no policy allows it).`,
  );
});

test('a rejection by a policy names the policy and targets it', () => {
  const denial = denialEvent(
    outgoing({
      source: { type: 'ExternalNetwork', id: 'somewhere', name: 'somewhere', ip: '203.0.113.9' },
      destination: { type: 'ProcessingUnit', id: 'nginx', name: 'nginx', ip: '127.0.0.1', port: 3000, namespace: NS },
      uri: 'GET /',
      policyId: 'pol-1',
      policyName: 'block-loopback',
      byDefault: false,
    }),
    NOW,
  );
  assert.equal(denial?.input.content, '203.0.113.9 may not reach processing unit nginx (port 3000) (GET /): rejected by network policy block-loopback.');
  assert.equal(denial?.input.targetIdentity, 'networkaccesspolicy');
  assert.equal(denial?.input.targetId, 'pol-1');
});

test('accepted flows and refusals that are not network policy (api, missingtoken, dial) write no event', () => {
  assert.equal(denialEvent(outgoing({ action: 'Accept', dropReason: '' }), NOW), undefined);
  for (const dropReason of ['api', 'missingtoken', 'token', 'dial', 'unavailable'])
    assert.equal(denialEvent(outgoing({ dropReason }), NOW), undefined, dropReason);
});

test('the same denial repeated within a minute has one message id (JetStream keeps one event); the next minute another', () => {
  const first = denialEvent(outgoing({ id: 'a' }), NOW)!;
  const again = denialEvent(outgoing({ id: 'b' }), NOW + 20_000)!;
  const nextMinute = denialEvent(outgoing({ id: 'c' }), NOW + 60_000)!;
  const otherPort = denialEvent(outgoing({ id: 'd', destination: { type: 'ExternalNetwork', name: 'demo-idp', ip: 'localhost', port: 443 } }), NOW)!;
  assert.equal(first.msgId, again.msgId);
  assert.notEqual(first.msgId, nextMinute.msgId);
  assert.notEqual(first.msgId, otherPort.msgId);
  assert.notEqual(first.id, again.id, 'each event keeps an id of its own');
});

test('one replica records a denial once a minute: repeats in the same minute are not emitted again', () => {
  let now = NOW;
  const bus = new FakeBus();
  const report = denialReporter(bus, () => now);
  report(outgoing({ id: 'a' }));
  report(outgoing({ id: 'b' }));
  report(outgoing({ id: 'c', action: 'Accept', dropReason: '' }));
  assert.equal(bus.events.length, 1, 'the repeat and the accepted flow add nothing');
  assert.deepEqual(bus.events[0]!.options, { id: 'network-denied-a', timeMs: NOW, msgId: denialEvent(outgoing(), NOW)!.msgId });
  now += 60_000;
  report(outgoing({ id: 'd' }));
  assert.equal(bus.events.length, 2, 'the next minute reports it again');
  assert.notEqual(bus.events[1]!.options.msgId, bus.events[0]!.options.msgId);
});
