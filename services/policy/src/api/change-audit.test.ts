// Unit (fake bus): a change through the API is one Info event of the catalogue, in the object's namespace,
// naming the token by its name only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { eventCatalogue } from '@microseg/contracts';
import { FakeBus } from '../testing/fake-bus.ts';
import { changeAudit } from './change-audit.ts';

test('created, updated and deleted: the kind, a precise title, what and by whom', () => {
  const bus = new FakeBus();
  const audit = changeAudit(bus);
  const object = { kind: 'service', ID: 'svc-1', name: 'shop', namespace: '/acme' };
  audit({ tokenID: 't1', name: 'ops', role: 'editor', namespace: '/' }, 'created', object);
  audit({ tokenID: 't1', name: 'ops', role: 'editor', namespace: '/' }, 'updated', object);
  audit(undefined, 'deleted', object);
  assert.deepEqual(
    bus.events.map((e) => [e.kind, eventCatalogue[e.kind].level, e.input.title, e.input.content, e.input.targetIdentity, e.input.targetId, e.input.namespace]),
    [
      ['objectCreated', 'Info', 'service created', 'service shop was created in /acme by token ops.', 'service', 'svc-1', '/acme'],
      ['objectUpdated', 'Info', 'service updated', 'service shop was updated in /acme by token ops.', 'service', 'svc-1', '/acme'],
      ['objectDeleted', 'Info', 'service deleted', 'service shop was deleted in /acme by token unknown.', 'service', 'svc-1', '/acme'],
    ],
  );
});
