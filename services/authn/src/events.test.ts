// Unit (fake bus): authn's events go to the bus as given, kind and fields unchanged, in the namespace named
// (the empty one when none is named), with nothing added.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Bus } from '@microseg/bus';
import type { EventInput, EventKind } from '@microseg/contracts';
import { AuthnEvents } from './events.ts';

function recorder() {
  const emitted: Array<{ kind: EventKind; input: EventInput; rest: unknown[] }> = [];
  const bus = { emitEvent: (kind: EventKind, input: EventInput, ...rest: unknown[]) => void emitted.push({ kind, input, rest }) } as unknown as Bus;
  return { events: new AuthnEvents(bus), emitted };
}

test('an event keeps its kind, content, target and namespace', () => {
  const { events, emitted } = recorder();
  events.emit('loginFailed', { content: 'Login to service s failed: unknown state', targetIdentity: 'service', targetId: 's', namespace: '/acme/dev' });
  assert.deepEqual(emitted, [
    {
      kind: 'loginFailed',
      input: { content: 'Login to service s failed: unknown state', targetIdentity: 'service', targetId: 's', namespace: '/acme/dev' },
      rest: [],
    },
  ]);
});

test('an event without a namespace is sent with the empty one, not left undefined', () => {
  const { events, emitted } = recorder();
  events.emit('idpDiscoveryFailed', { content: 'c', targetIdentity: 'service', targetId: 's' });
  assert.equal(emitted[0]!.input.namespace, '');
  assert.ok(Object.hasOwn(emitted[0]!.input, 'namespace'));
});

test('each call is one event, in order', () => {
  const { events, emitted } = recorder();
  events.emit('loginSucceeded', { content: 'a', targetIdentity: 'service', targetId: 's', namespace: '/a' });
  events.emit('loginFailed', { content: 'b', targetIdentity: 'service', targetId: 's', namespace: '/b' });
  assert.deepEqual(
    emitted.map((e) => [e.kind, e.input.namespace]),
    [
      ['loginSucceeded', '/a'],
      ['loginFailed', '/b'],
    ],
  );
});
