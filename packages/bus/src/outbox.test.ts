// Unit: the outbox against a fake JetStream that can fail and that, like the
// real one, stores a msgId once (the de-duplication window).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { JetStreamClient, PubAck } from '@nats-io/jetstream';
import { Outbox, type OutboxEntry } from './outbox.ts';

class FakeStream {
  /** msgIds in the order publish was called, retries included. */
  readonly calls: string[] = [];
  /** msgIds in the order the stream stored them, each once. */
  readonly stored: string[] = [];
  failuresLeft: number;
  /** When set, each publish waits for its own release (oldest first). */
  readonly manual: boolean;
  readonly #pending: Array<() => void> = [];

  constructor(options: { failures?: number; manual?: boolean } = {}) {
    this.failuresLeft = options.failures ?? 0;
    this.manual = options.manual ?? false;
  }

  readonly client = {
    publish: async (_subject: string, _data: Uint8Array, options?: { msgID?: string }): Promise<PubAck> => {
      const msgId = options?.msgID ?? '';
      this.calls.push(msgId);
      if (this.manual) await new Promise<void>((resolve) => this.#pending.push(resolve));
      if (this.failuresLeft > 0) {
        this.failuresLeft--;
        throw new Error('stream unavailable');
      }
      const duplicate = this.stored.includes(msgId);
      if (!duplicate) this.stored.push(msgId);
      return { stream: 'TEST', seq: this.stored.indexOf(msgId) + 1, duplicate, domain: '' };
    },
  } as unknown as JetStreamClient;

  /** Let the oldest waiting publish go on. */
  releaseOne(): boolean {
    const next = this.#pending.shift();
    next?.();
    return next !== undefined;
  }
}

const entry = (msgId: string): OutboxEntry => ({ subject: 'evt.test.v1.event', data: new TextEncoder().encode(msgId), msgId });
const ids = (n: number) => Array.from({ length: n }, (_, i) => `e${i + 1}`);

test('every entry is published once, in order, and flush resolves', async () => {
  const stream = new FakeStream();
  const outbox = new Outbox(stream.client);
  for (const id of ids(5)) outbox.push(entry(id));

  assert.equal(await outbox.flush(5_000), true);
  assert.deepEqual(stream.stored, ids(5));
  assert.deepEqual(stream.calls, ids(5), 'nothing was published twice');
  assert.deepEqual(outbox.stats, { queued: 5, published: 5, retried: 0, dropped: 0 });
  assert.equal(outbox.size, 0);
});

test('flush on an empty outbox resolves at once', async () => {
  const outbox = new Outbox(new FakeStream().client);
  assert.equal(await outbox.flush(0), true);
});

for (const failures of [1, 2, 3]) {
  test(`a stream failing ${failures} time(s) is retried until every entry is acknowledged, in order`, async () => {
    const stream = new FakeStream({ failures });
    const errors: unknown[] = [];
    const outbox = new Outbox(stream.client, { onError: (err) => errors.push(err) });
    for (const id of ids(5)) outbox.push(entry(id));

    assert.equal(await outbox.flush(10_000), true);
    assert.deepEqual(stream.stored, ids(5), 'stored in the order pushed');
    assert.equal(errors.length, failures, 'each failure reported once');
    assert.ok(stream.calls.length > 5, 'failed entries were published again');
    assert.equal(outbox.stats.published, 5);
    assert.equal(outbox.size, 0);
  });
}

test('flush reports false when the deadline passes before the stream accepts', async () => {
  const stream = new FakeStream({ failures: Number.POSITIVE_INFINITY });
  const outbox = new Outbox(stream.client);
  outbox.push(entry('e1'));
  try {
    assert.equal(await outbox.flush(50), false);
    assert.equal(outbox.size, 1, 'the entry is kept for later');
    assert.deepEqual(stream.stored, []);
  } finally {
    outbox.stop();
  }
});

test('overflow drops the oldest entries and counts them', async () => {
  const stream = new FakeStream({ failures: 1 });
  const outbox = new Outbox(stream.client, { capacity: 3 });
  for (const id of ids(5)) outbox.push(entry(id));

  assert.equal(outbox.stats.dropped, 2);
  assert.equal(outbox.size, 3);
  assert.equal(await outbox.flush(5_000), true);
  assert.deepEqual(stream.stored, ['e3', 'e4', 'e5']);
  assert.equal(outbox.stats.queued, 5);
});

test('an acknowledgement that arrives after an overflow does not discard entries never published', async () => {
  const stream = new FakeStream({ manual: true });
  const outbox = new Outbox(stream.client, { capacity: 2 });
  outbox.push(entry('e1')); // published at once, acknowledgement pending
  outbox.push(entry('e2'));
  outbox.push(entry('e3')); // the queue is full: e1 leaves it while its publish is in flight
  assert.equal(outbox.stats.dropped, 1);

  const drained = outbox.flush(5_000);
  // Release every publish as it arrives, until the outbox is idle.
  let idle = false;
  void drained.then(() => (idle = true));
  while (!idle) {
    if (!stream.releaseOne()) await new Promise((resolve) => setImmediate(resolve));
  }

  assert.equal(await drained, true);
  assert.deepEqual(stream.stored, ['e1', 'e2', 'e3'], 'e2 and e3 were still queued and must reach the stream');
  assert.equal(outbox.size, 0);
});
