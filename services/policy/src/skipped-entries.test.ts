// Unit (fakes): a skipped bucket entry becomes one Error event for the administrators of `/` and one log
// line — the bucket, the key (cut short, quoted), the revision, the problem and the remedy; the event id is
// the same on every replica, so JetStream keeps one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Bus } from '@microseg/bus';
import { reportSkippedEntries } from './skipped-entries.ts';
import { FakeBus } from './testing/fake-bus.ts';

function reporter(bucket = 'microseg_objects', remedy = 'then write the object again through the API') {
  const bus = new FakeBus();
  const logs: Array<{ fields: Record<string, unknown>; msg: string }> = [];
  const report = reportSkippedEntries(bus as unknown as Bus, bucket, remedy, (fields, msg) => void logs.push({ fields, msg }));
  return { report, bus, logs };
}

test('an Error event in / names the key, revision, problem, how to delete it and the remedy; a log line says the same', () => {
  const { report, bus, logs } = reporter();
  report({ key: 'service.abc', revision: 17, problem: 'is not JSON' });
  assert.deepEqual(bus.events, [
    {
      kind: 'malformedEntrySkipped',
      input: {
        content:
          'The entry "service.abc" (revision 17) of the bucket microseg_objects is not JSON. It is ignored: nothing it says is used. Delete it (nats kv del microseg_objects "service.abc"); then write the object again through the API.',
        targetIdentity: 'bucketentry',
        targetId: 'service.abc',
        namespace: '/',
      },
      options: { msgId: 'skipped-microseg_objects-17' },
    },
  ]);
  assert.deepEqual(logs, [
    { fields: { bucket: 'microseg_objects', key: 'service.abc', revision: 17, problem: 'is not JSON' }, msg: 'skipped a malformed bucket entry' },
  ]);
});

test('the event id depends on bucket and revision only: replicas agree, other entries differ', () => {
  const one = reporter();
  const other = reporter();
  one.report({ key: 'k', revision: 5, problem: 'p' });
  other.report({ key: 'k', revision: 5, problem: 'p' });
  one.report({ key: 'k', revision: 6, problem: 'p' });
  const tokens = reporter('microseg_api_tokens', 'then make the token again');
  tokens.report({ key: 'k', revision: 5, problem: 'p' });
  assert.deepEqual(
    [...one.bus.events, ...other.bus.events, ...tokens.bus.events].map((e) => e.options.msgId),
    ['skipped-microseg_objects-5', 'skipped-microseg_objects-6', 'skipped-microseg_objects-5', 'skipped-microseg_api_tokens-5'],
  );
});

test('a hostile key is cut to 200 characters and quoted as JSON: it cannot forge lines or run on in the event', () => {
  const { report, bus, logs } = reporter();
  const key = `evil"\n[Info] all good ${'x'.repeat(500)}`;
  report({ key, revision: 1, problem: 'has the wrong shape' });
  const event = bus.events[0]!.input;
  assert.equal(event.targetId, key.slice(0, 200));
  assert.ok(!event.content.includes('\n'), 'no raw line break');
  assert.ok(event.content.includes(JSON.stringify(key.slice(0, 200))));
  assert.ok(!event.content.includes('x'.repeat(201)), 'no more than 200 characters of the key');
  assert.equal(logs[0]!.fields.key, key.slice(0, 200));
});
