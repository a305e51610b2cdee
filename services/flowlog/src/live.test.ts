// Unit: the live hub hands each record to the clients that want its namespace, forgets a client that
// leaves, and ends every stream when it stops (so that the HTTP server can close).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '@microseg/telemetry';
import { LiveHub, type LiveClient, type LiveMessage } from './live.ts';
import { inNamespace } from './records.ts';

function client(namespace: string, recursive: boolean) {
  const received: string[] = [];
  let ended = false;
  const c: LiveClient = {
    wants: (ns) => inNamespace(ns, namespace, recursive),
    send: (m) => void received.push(`${m.type} ${m.data.namespace}`),
    end: () => void (ended = true),
  };
  return { c, received, ended: () => ended };
}

const event = (namespace: string): LiveMessage => ({
  type: 'event',
  data: { id: 'e', time: 0, level: 'Info', category: 'crud', title: 't', content: 'c', targetIdentity: 'x', targetID: 'y', namespace, origin: 'policy' },
});

test('each client gets the records of its namespace (and subtree when recursive) only', () => {
  const hub = new LiveHub(createLogger('flowlog', 'silent'));
  const acme = client('/acme', false);
  const tree = client('/acme', true);
  hub.add(acme.c);
  const removeTree = hub.add(tree.c);
  for (const ns of ['/acme', '/acme/dev', '/acmeco']) hub.publish(event(ns));
  assert.deepEqual(acme.received, ['event /acme']);
  assert.deepEqual(tree.received, ['event /acme', 'event /acme/dev']);
  removeTree();
  hub.publish(event('/acme'));
  assert.equal(tree.received.length, 2, 'a client that left gets nothing more');
  hub.stop();
  assert.equal(acme.ended(), true);
  hub.publish(event('/acme'));
  assert.equal(acme.received.length, 2, 'nothing after stop');
});
