// Unit (fakes): the change broadcast — the API's, sent and flushed before it answers, and the debounced one
// for routing changes the store's watch sees (a burst is one message with the last revision; heartbeats none).
import { mock, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Bus } from '@microseg/bus';
import { subjects } from '@microseg/contracts';
import type { Snapshot } from './snapshot.ts';
import { broadcastRoutingChanges, changeAnnouncer } from './changes.ts';

test('the API announces a revision and waits until the server has it', async () => {
  const steps: string[] = [];
  const bus = {
    broadcast: (subject: string, _schema: unknown, message: { revision?: bigint }) => void steps.push(`broadcast ${subject} ${message.revision}`),
    nc: { flush: async () => void steps.push('flush') },
  } as unknown as Pick<Bus, 'broadcast' | 'nc'>;
  await changeAnnouncer(bus)(42);
  assert.deepEqual(steps, [`broadcast ${subjects.policyChanged} 42`, 'flush']);
});

test('routing changes are broadcast once per burst with the last revision; heartbeats and changes after stop are not', () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    let listener: (snapshot: Snapshot, routingChanged: boolean) => void = () => undefined;
    const sent: bigint[] = [];
    const bus = { broadcast: (_subject: string, _schema: unknown, message: { revision?: bigint }) => void sent.push(message.revision!) } as unknown as Pick<
      Bus,
      'broadcast'
    >;
    const stop = broadcastRoutingChanges({ onChange: (l) => void (listener = l) }, bus, 50);
    const at = (revision: number) => ({ revision }) as Snapshot;
    listener(at(1), true);
    mock.timers.tick(20);
    listener(at(2), true);
    listener(at(3), false);
    mock.timers.tick(49);
    assert.deepEqual(sent, [], 'still within the burst');
    mock.timers.tick(1);
    assert.deepEqual(sent, [2n]);
    listener(at(4), false);
    mock.timers.tick(100);
    assert.deepEqual(sent, [2n], 'a heartbeat is no routing change');
    listener(at(5), true);
    stop();
    listener(at(6), true);
    mock.timers.tick(100);
    assert.deepEqual(sent, [2n], 'nothing once stopped');
  } finally {
    mock.timers.reset();
  }
});
