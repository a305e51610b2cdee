import type { JetStreamManager } from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';
import { streams } from '@microseg/contracts';

/**
 * Create or update the events stream. Uses only features of nats-server 2.9
 * (no stream metadata, no per-key TTL), so it runs on Debian's server too.
 */
export async function ensureEventStream(jsm: JetStreamManager): Promise<void> {
  const config = {
    name: streams.events.name,
    subjects: [...streams.events.subjects],
    max_age: nanos(streams.events.maxAgeMs),
    duplicate_window: nanos(streams.events.duplicateWindowMs),
  };
  try {
    await jsm.streams.info(config.name);
    await jsm.streams.update(config.name, config);
  } catch (err) {
    if (!isNotFound(err)) throw err;
    try {
      await jsm.streams.add(config);
    } catch (addErr) {
      // Another replica created it first.
      if (!String(addErr).includes('already in use')) throw addErr;
    }
  }
}

function isNotFound(err: unknown): boolean {
  const e = err as { code?: unknown; api_error?: { err_code?: number } };
  return e?.api_error?.err_code === 10059 || /not found/i.test(String(err));
}
