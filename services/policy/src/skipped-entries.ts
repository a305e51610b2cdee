// A bucket entry that was skipped (stored-entries.ts) is an Error event for the
// administrators of `/` (the entry's own namespace cannot be trusted) and a log
// line: the bucket, the key, the revision and what is wrong, never the value.
import type { Bus } from '@microseg/bus';
import type { SkippedEntry } from './store.ts';

/** `remedy`: how to put right what the entry was meant to be (write the object again, make a new token). */
export function reportSkippedEntries(
  bus: Bus,
  bucket: string,
  remedy: string,
  log: (fields: Record<string, unknown>, msg: string) => void,
): (skipped: SkippedEntry) => void {
  return ({ key, revision, problem }) => {
    // Keys are chosen by whoever wrote the entry: shown cut short, as JSON.
    const shownKey = JSON.stringify(key.slice(0, 200));
    log({ bucket, key: key.slice(0, 200), revision, problem }, 'skipped a malformed bucket entry');
    bus.emitEvent(
      'malformedEntrySkipped',
      {
        content: `The entry ${shownKey} (revision ${revision}) of the bucket ${bucket} ${problem}. It is ignored: nothing it says is used. Delete it (nats kv del ${bucket} ${shownKey}); ${remedy}.`,
        targetIdentity: 'bucketentry',
        targetId: key.slice(0, 200),
        namespace: '/',
      },
      // Every replica skips the same entry: JetStream keeps one event.
      { msgId: `skipped-${bucket}-${revision}` },
    );
  };
}
