// Unit (fake bus): the Platform graph's inventory from the policy service — its answer mapped as the graph
// takes it; a refusal or silence turned into an empty inventory and a warning, never a failed graph.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { create } from '@bufbuild/protobuf';
import { BusRequestError, type Bus } from '@microseg/bus';
import { requests } from '@microseg/contracts';
import { MicrosegError } from '@microseg/errors';
import { InventoryResponseSchema } from '@microseg/proto/policy';
import { emptyInventory } from './graph.ts';
import { askInventory } from './inventory.ts';

function bus(answer: () => unknown) {
  const asked: unknown[] = [];
  const fake = {
    request: async (contract: { subject: string }, message: unknown, timeoutMs: number) => (asked.push([contract.subject, message, timeoutMs]), answer()),
  } as unknown as Pick<Bus, 'request'>;
  return { fake, asked };
}

test("the policy service's answer, as the graph takes it", async () => {
  const reply = create(InventoryResponseSchema, {
    processingUnits: [{ id: 'pu', name: 'nginx', namespace: '/acme', tags: ['a=b'], address: '10.0.0.1', status: 'Running', lastSeenMs: 42n }],
    networkPolicies: [
      {
        id: 'np',
        name: 'p',
        namespace: '/acme',
        subject: [{ tags: ['a=b'] }, { tags: ['c=d'] }],
        object: [],
        action: 'Allow',
        applyPolicyMode: 'Bidirectional',
      },
    ],
    namespaces: [{ path: '/acme', incomingDefault: 'Allow', outgoingDefault: 'Reject', incomingDecidedBy: '/', outgoingDecidedBy: '/' }],
  });
  const { fake, asked } = bus(() => reply);
  const { value, warning } = await askInventory(fake, 1_500)('/acme', true);
  assert.equal(warning, undefined);
  assert.deepEqual(asked, [[requests.policyInventory.subject, { namespace: '/acme', recursive: true }, 1_500]]);
  assert.deepEqual(value.processingUnits, [
    { id: 'pu', name: 'nginx', namespace: '/acme', tags: ['a=b'], address: '10.0.0.1', status: 'Running', lastSeenMs: 42 },
  ]);
  assert.deepEqual(value.networkPolicies[0]?.subject, [['a=b'], ['c=d']]);
  assert.equal(value.namespaces[0]?.outgoingDefault, 'Reject');
});

test('a refusal or no answer: an empty inventory and a warning saying which; anything else fails', async () => {
  const refused = await askInventory(bus(() => Promise.reject(new MicrosegError('BAD_REQUEST', 'the namespace must be a path'))).fake, 1)('/x', false);
  assert.deepEqual(refused, { value: emptyInventory(), warning: 'The policy service could not list the objects: the namespace must be a path' });
  const silent = await askInventory(bus(() => Promise.reject(new BusRequestError('no-responders', 'x'))).fake, 1)('/x', false);
  assert.deepEqual(silent.value, emptyInventory());
  assert.match(silent.warning!, /did not answer/);
  await assert.rejects(askInventory(bus(() => Promise.reject(new TypeError('bug'))).fake, 1)('/x', false), TypeError);
});
