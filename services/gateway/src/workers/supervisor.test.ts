// Unit (fake workers, mocked timers): the supervisor keeps one worker per slot, replaces a dead one in its
// slot after a delay that doubles while it keeps dying and starts over after a stable run, and on stop asks
// every worker to finish, kills those that outlast the grace period and replaces none.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { restartDelay, Supervisor, type SupervisedWorker } from './supervisor.ts';

class FakeWorker implements SupervisedWorker {
  static nextPid = 100;
  readonly pid = FakeWorker.nextPid++;
  readonly signals: string[] = [];
  readonly slot: number;
  constructor(slot: number) {
    this.slot = slot;
  }
  kill(signal: NodeJS.Signals): void {
    this.signals.push(signal);
  }
}

function setup(t: TestContext, workers = 2, fork?: (slot: number) => FakeWorker) {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
  const forked: FakeWorker[] = [];
  const logs: Array<[string, Record<string, unknown>, string]> = [];
  const logger = {
    info: (o: Record<string, unknown>, m: string) => logs.push(['info', o, m]),
    warn: (o: Record<string, unknown>, m: string) => logs.push(['warn', o, m]),
    error: (o: Record<string, unknown>, m: string) => logs.push(['error', o, m]),
  };
  const supervisor = new Supervisor<FakeWorker>({
    workers,
    logger: logger as never,
    backoff: { initialMs: 200, maxMs: 1_600, stableMs: 30_000 },
    fork:
      fork ??
      ((slot) => {
        const w = new FakeWorker(slot);
        forked.push(w);
        return w;
      }),
  });
  return { supervisor, forked, logs };
}

test('the delay doubles from its first value up to its bound', () => {
  const b = { initialMs: 200, maxMs: 30_000, stableMs: 30_000 };
  assert.deepEqual(
    [1, 2, 3, 4, 8, 9, 50].map((n) => restartDelay(n, b)),
    [200, 400, 800, 1_600, 25_600, 30_000, 30_000],
  );
});

test('one worker per slot; a dead one is replaced in its slot after the delay, the others untouched', (t) => {
  const { supervisor, forked, logs } = setup(t);
  supervisor.start();
  assert.deepEqual(
    forked.map((w) => w.slot),
    [1, 2],
  );
  assert.deepEqual(
    supervisor.slots.map((s) => s.state),
    ['starting', 'starting'],
  );
  supervisor.running(forked[0]!);
  supervisor.running(forked[1]!);
  assert.deepEqual(
    supervisor.slots.map((s) => s.state),
    ['running', 'running'],
  );

  supervisor.exited(forked[1]!, null, 'SIGKILL');
  assert.deepEqual(
    supervisor.slots.map((s) => s.state),
    ['running', 'waiting'],
  );
  const [level, fields, message] = logs.at(-1)!;
  assert.equal(level, 'error');
  assert.equal(message, 'gateway worker died; replacing it');
  assert.deepEqual([fields.worker, fields.signal, fields.restartInMs], [2, 'SIGKILL', 200]);

  t.mock.timers.tick(199);
  assert.equal(forked.length, 2, 'not before the delay');
  t.mock.timers.tick(1);
  assert.equal(forked.length, 3);
  assert.equal(forked[2]!.slot, 2, 'in the same slot');
  assert.deepEqual(
    supervisor.slots.map((s) => [s.slot, s.state, s.restarts, s.worker?.pid]),
    [
      [1, 'running', 0, forked[0]!.pid],
      [2, 'starting', 1, forked[2]!.pid],
    ],
  );
  assert.deepEqual(forked[0]!.signals, [], 'the other worker is left alone');
});

test('a worker that keeps dying is replaced ever later, up to the bound; after a stable run the delay starts over', (t) => {
  const { supervisor, forked, logs } = setup(t, 1);
  supervisor.start();
  const delays: unknown[] = [];
  for (let i = 0; i < 6; i++) {
    // Dies at start, before it serves.
    supervisor.exited(forked.at(-1)!, 1, null);
    delays.push(logs.at(-1)![1].restartInMs);
    t.mock.timers.tick(logs.at(-1)![1].restartInMs as number);
  }
  assert.deepEqual(delays, [200, 400, 800, 1_600, 1_600, 1_600]);
  assert.equal(forked.length, 7);

  // Then one serves for 30 s: its death is no crash loop.
  supervisor.running(forked.at(-1)!);
  t.mock.timers.tick(30_000);
  supervisor.exited(forked.at(-1)!, null, 'SIGKILL');
  assert.equal(logs.at(-1)![1].restartInMs, 200);
  // One that served only briefly keeps the count going.
  t.mock.timers.tick(200);
  supervisor.running(forked.at(-1)!);
  t.mock.timers.tick(1_000);
  supervisor.exited(forked.at(-1)!, 1, null);
  assert.equal(logs.at(-1)![1].restartInMs, 400);
});

test('a fork that throws is tried again later, not in a loop', (t) => {
  let attempts = 0;
  const { supervisor, logs } = setup(t, 1, (slot) => {
    attempts++;
    if (attempts < 3) throw new Error('EAGAIN');
    return new FakeWorker(slot);
  });
  supervisor.start();
  assert.equal(attempts, 1);
  assert.equal(logs.at(-1)![2], 'cannot start a gateway worker');
  t.mock.timers.tick(200);
  assert.equal(attempts, 2);
  t.mock.timers.tick(399);
  assert.equal(attempts, 2);
  t.mock.timers.tick(1);
  assert.equal(attempts, 3);
  assert.equal(supervisor.slots[0]!.state, 'starting');
});

test('stop: every worker asked to finish; none replaced; resolves when all have exited', async (t) => {
  const { supervisor, forked } = setup(t, 3);
  supervisor.start();
  // Slot 3's worker died just before: its replacement is pending, and must not come.
  supervisor.exited(forked[2]!, 1, null);
  const stopped = supervisor.stop(10_000);
  assert.deepEqual(
    forked.map((w) => w.signals),
    [['SIGTERM'], ['SIGTERM'], []],
  );
  supervisor.exited(forked[0]!, 0, null);
  supervisor.exited(forked[1]!, 0, null);
  await stopped;
  t.mock.timers.tick(60_000);
  assert.equal(forked.length, 3, 'nothing replaced');
  assert.deepEqual(
    supervisor.slots.map((s) => s.state),
    ['stopped', 'stopped', 'stopped'],
  );
});

test('stop: a worker that outlasts the grace period is killed', async (t) => {
  const { supervisor, forked, logs } = setup(t, 2);
  supervisor.start();
  const stopped = supervisor.stop(10_000, 2_000);
  supervisor.exited(forked[0]!, 0, null);
  t.mock.timers.tick(11_999);
  await Promise.resolve();
  assert.deepEqual(forked[1]!.signals, ['SIGTERM']);
  t.mock.timers.tick(1);
  // The race settles over a few promise turns.
  for (let i = 0; i < 5; i++) await Promise.resolve();
  assert.deepEqual(forked[1]!.signals, ['SIGTERM', 'SIGKILL']);
  assert.equal(logs.at(-1)![2], 'gateway worker did not stop in time; killed');
  supervisor.exited(forked[1]!, null, 'SIGKILL');
  await stopped;
});

test('stop with no worker running resolves at once', async (t) => {
  const { supervisor } = setup(t, 1);
  await supervisor.stop(10_000);
});

test('exits of processes it does not know are ignored', (t) => {
  const { supervisor, forked } = setup(t, 1);
  supervisor.start();
  supervisor.exited(new FakeWorker(9), 1, null);
  supervisor.running(new FakeWorker(9));
  t.mock.timers.tick(60_000);
  assert.equal(forked.length, 1);
  assert.equal(supervisor.slots[0]!.state, 'starting');
});
