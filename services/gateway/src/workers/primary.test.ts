// Unit (a fake node:cluster): the primary forks one worker per number with its arguments, learns over IPC
// when each serves, answers /readyz and /metrics for them, replaces one that dies, and on close stops
// answering probes, asks every worker to finish and returns once they have.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { ClusterSettings } from 'node:cluster';
import { createLogger } from '@microseg/telemetry';
import { answerPrimary, type Channel } from './ipc.ts';
import { createPrimary, type ClusterLike, type ForkedWorker } from './primary.ts';

const logger = createLogger('gateway-test', 'silent');

/** A forked worker: the primary's end is the object itself; `inside` is the worker's `process`. */
class FakeForked extends EventEmitter implements ForkedWorker {
  static pids = 500;
  readonly inside = new EventEmitter() as Channel & EventEmitter;
  readonly signals: string[] = [];
  readonly args: readonly string[];
  readonly serialization: string | undefined;
  readonly process = {
    pid: FakeForked.pids++,
    kill: (signal?: NodeJS.Signals) => {
      this.signals.push(signal ?? 'SIGTERM');
      // It finishes what it does, then exits.
      setImmediate(() => this.emit('exit', signal === 'SIGKILL' ? null : 0, signal === 'SIGKILL' ? 'SIGKILL' : null));
      return true;
    },
  };
  constructor(settings: ClusterSettings) {
    super();
    this.args = settings.args ?? [];
    this.serialization = settings.serialization;
    this.inside.send = (m: unknown) => setImmediate(() => this.emit('message', m));
  }
  send(message: unknown): boolean {
    setImmediate(() => this.inside.emit('message', message));
    return true;
  }
  /** What worker.ts does inside: answer, then say it serves. */
  serve(ready = true): void {
    answerPrimary(this.inside, { readiness: async () => ({ ready, checks: { nats: ready } }), metrics: async () => [] }).started();
  }
}

function fakeCluster(): ClusterLike & { forked: FakeForked[] } {
  let settings: ClusterSettings = {};
  const forked: FakeForked[] = [];
  return {
    forked,
    setupPrimary(s) {
      settings = { ...settings, ...s };
    },
    fork() {
      const w = new FakeForked(settings);
      forked.push(w);
      return w;
    },
  };
}

const tick = () => new Promise((r) => setImmediate(r));

test('one worker per number, each with the arguments of the primary and its own --worker=N', () => {
  const cluster = fakeCluster();
  const primary = createPrimary({ workers: 3, logger, cluster, args: ['--check-nothing', '--worker=9'] });
  primary.supervisor.start();
  assert.deepEqual(
    cluster.forked.map((w) => [w.args, w.serialization]),
    [
      [['--check-nothing', '--worker=1'], 'advanced'],
      [['--check-nothing', '--worker=2'], 'advanced'],
      [['--check-nothing', '--worker=3'], 'advanced'],
    ],
  );
});

test('/readyz: not ready until a worker serves; then ready, listing both', async () => {
  const cluster = fakeCluster();
  const primary = createPrimary({ workers: 2, logger, cluster, args: [], askTimeoutMs: 200 });
  primary.supervisor.start();
  let res = await primary.admin.inject({ method: 'GET', url: '/readyz' });
  assert.equal(res.statusCode, 503, 'no worker answers yet');

  cluster.forked[0]!.serve();
  cluster.forked[1]!.serve(false);
  await tick();
  res = await primary.admin.inject({ method: 'GET', url: '/readyz' });
  assert.equal(res.statusCode, 200);
  assert.deepEqual(
    res.json().workers.map((w: { worker: number; state: string; ready: boolean }) => [w.worker, w.state, w.ready]),
    [
      [1, 'running', true],
      [2, 'running', false],
    ],
  );
  const metrics = await primary.admin.inject({ method: 'GET', url: '/metrics' });
  assert.match(metrics.body, /^microseg_gateway_worker_up\{worker="2"\} 1$/m);
});

test('a worker that dies is replaced in its number; the other is not touched', async () => {
  const cluster = fakeCluster();
  const primary = createPrimary({ workers: 2, logger, cluster, args: [], backoff: { initialMs: 1 } });
  primary.supervisor.start();
  for (const w of cluster.forked) w.serve();
  await tick();
  cluster.forked[0]!.emit('exit', null, 'SIGKILL');
  assert.equal(primary.supervisor.slots[0]!.state, 'waiting');
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(cluster.forked.length, 3);
  assert.deepEqual(cluster.forked[2]!.args, ['--worker=1']);
  assert.deepEqual(cluster.forked[1]!.signals, []);
  cluster.forked[2]!.serve();
  await tick();
  assert.deepEqual(
    primary.supervisor.slots.map((s) => [s.slot, s.state, s.restarts]),
    [
      [1, 'running', 1],
      [2, 'running', 0],
    ],
  );
  // The replacement is counted.
  const res = await primary.admin.inject({ method: 'GET', url: '/metrics' });
  assert.match(res.body, /^microseg_gateway_worker_restarts_total\{worker="1"\} 1$/m);
});

test('close: probes stop, every worker is asked to finish, and it returns once they have', async () => {
  const cluster = fakeCluster();
  const primary = createPrimary({ workers: 2, logger, cluster, args: [] });
  primary.supervisor.start();
  for (const w of cluster.forked) w.serve();
  await tick();
  await primary.close(5_000);
  assert.deepEqual(
    cluster.forked.map((w) => w.signals),
    [['SIGTERM'], ['SIGTERM']],
  );
  assert.deepEqual(
    primary.supervisor.slots.map((s) => s.state),
    ['stopped', 'stopped'],
  );
  await assert.rejects(primary.admin.inject({ method: 'GET', url: '/readyz' }));
  assert.equal(cluster.forked.length, 2, 'none replaced');
});
