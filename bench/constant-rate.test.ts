// Self-test of the constant-rate generator against a tiny local HTTP server:
// it keeps its rate, measures from the intended send time (a 200 ms stall shows
// up in p99 for the requests scheduled during it — the coordinated-omission
// check) and ends within its bounds when the server never answers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { runConstantRate, percentiles, type ResponseRecord } from './constant-rate.ts';

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

test('percentiles are nearest-rank', () => {
  const values = Array.from({ length: 1000 }, (_, i) => i + 1);
  const p = percentiles(values);
  assert.equal(p.p50, 500);
  assert.equal(p.p99, 990);
  assert.equal(p.p999, 999);
  assert.equal(p.max, 1000);
});

test('keeps its rate: never early, hardly late, every request completes', async () => {
  const arrivals: number[] = [];
  const server = await serve((_req, res) => {
    arrivals.push(performance.now());
    res.end('ok');
  });
  try {
    const records: ResponseRecord[] = [];
    const result = await runConstantRate({
      url: `${server.url}/`,
      rate: 500,
      durationMs: 2_000,
      warmupMs: 200,
      connections: 8,
      onResponse: (r) => records.push(r),
    });
    assert.equal(result.scheduled, 1000);
    assert.equal(result.errors, 0, JSON.stringify(result.errorKinds));
    assert.equal(result.completed, 1000);
    assert.equal(result.achievedRate, 500);
    // Each request leaves at its intended time, never before it, and usually within a few ms after it
    // (loose bounds: `npm test` may share a busy 2-core machine whose pauses delay the timers).
    records.sort((a, b) => a.index - b.index);
    for (const [i, r] of records.entries()) {
      assert.ok(r.sentMs >= r.intendedMs - 0.01, `request ${r.index} left ${r.intendedMs - r.sentMs} ms early`);
      if (i > 0) assert.ok(Math.abs(r.intendedMs - records[i - 1]!.intendedMs - 2) < 1e-6, 'intended times 2 ms apart');
    }
    const late = percentiles(records.map((r) => r.sentMs - r.intendedMs));
    assert.ok(late.p50 < 20, `median send delay ${late.p50} ms`);
    // The server saw the warm-up (100) and the measured part, nothing more.
    assert.equal(arrivals.length, 1100);
  } finally {
    await server.close();
  }
});

test('a 200 ms stall shows in p99 for the requests scheduled during it (coordinated omission)', async () => {
  let stallStartsAt = Infinity;
  let stallEndsAt = 0;
  let firstArrival = 0;
  const server = await serve((_req, res) => {
    const now = performance.now();
    firstArrival ||= now;
    // Once, 800 ms into the run, the server stops answering for 200 ms (responses held, not refused).
    if (stallStartsAt === Infinity && now - firstArrival >= 800) {
      stallStartsAt = now;
      stallEndsAt = now + 200;
    }
    if (now < stallEndsAt) setTimeout(() => res.end('late'), stallEndsAt - now);
    else res.end('ok');
  });
  try {
    const records: ResponseRecord[] = [];
    // 4 connections: a generator that measured from the send time would see only the 4 requests held at the server.
    const result = await runConstantRate({ url: `${server.url}/`, rate: 500, durationMs: 2_000, connections: 4, onResponse: (r) => records.push(r) });
    assert.equal(result.errors, 0, JSON.stringify(result.errorKinds));
    assert.equal(result.completed, 1000);
    // ~100 requests were due during the stall; they waited up to 200 ms from their intended time.
    const duringStall = records.filter((r) => r.intendedMs >= stallStartsAt && r.intendedMs < stallEndsAt);
    assert.ok(duringStall.length >= 90 && duringStall.length <= 110, `${duringStall.length} requests scheduled during the stall`);
    for (const r of duringStall) {
      const waited = r.doneMs - r.intendedMs;
      const expected = stallEndsAt - r.intendedMs;
      assert.ok(
        waited >= expected - 5,
        `request ${r.index} scheduled ${Math.round(r.intendedMs - stallStartsAt)} ms into the stall waited only ${waited.toFixed(1)} ms`,
      );
    }
    assert.ok(result.latency.p99 >= 150, `p99 from the intended time: ${result.latency.p99} ms`);
    assert.ok(result.latency.max >= 190, `max ${result.latency.max} ms`);
    // The send-time view hides it: only the few requests held at the server look slow.
    assert.ok(
      result.serviceTime.p99 < result.latency.p99 / 2,
      `p99 from the send time: ${result.serviceTime.p99} ms, from the intended time: ${result.latency.p99} ms`,
    );
  } finally {
    await server.close();
  }
});

test('a server that never answers: every request is an error and the run ends within its bounds', async () => {
  const server = await serve(() => {
    // never answers
  });
  try {
    const started = performance.now();
    const result = await runConstantRate({ url: `${server.url}/`, rate: 100, durationMs: 500, connections: 4, timeoutMs: 300, drainMs: 500 });
    const tookMs = performance.now() - started;
    assert.equal(result.scheduled, 50);
    assert.equal(result.completed, 0);
    assert.equal(result.errors, 50, JSON.stringify(result.errorKinds));
    assert.ok(tookMs < 1_500, `took ${tookMs} ms`);
  } finally {
    await server.close();
  }
});
