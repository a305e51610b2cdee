// Unit (app.inject, fake workers): the primary's admin port — alive while it runs; ready while at least one
// worker says it is (one that does not answer in time, or has none, is not); the workers' metrics summed,
// those that do not answer left out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger, type ProcessMetrics } from '@microseg/telemetry';
import { buildPrimaryAdmin, type WorkerStatus } from './primary-admin.ts';
import type { Question } from './ipc.ts';

const logger = createLogger('gateway-test', 'silent');

/** A worker's metrics, as a worker's registry gives them: `n` requests answered. */
function metricsOf(n: number): ProcessMetrics {
  return [
    {
      name: 'microseg_gateway_request_duration_seconds',
      help: 'h',
      type: 'histogram',
      aggregator: 'sum',
      values: [
        { labels: { le: 0.1 }, value: n, metricName: 'microseg_gateway_request_duration_seconds_bucket' },
        { labels: { le: '+Inf' }, value: n, metricName: 'microseg_gateway_request_duration_seconds_bucket' },
        { labels: {}, value: n / 100, metricName: 'microseg_gateway_request_duration_seconds_sum' },
        { labels: {}, value: n, metricName: 'microseg_gateway_request_duration_seconds_count' },
      ],
    },
  ] as unknown as ProcessMetrics;
}

/** A worker answering readiness `ready` and `n` requests, or never answering (`silent`). */
function worker(slot: number, behaviour: { ready?: boolean; requests?: number; silent?: boolean; state?: WorkerStatus['state'] }): WorkerStatus {
  return {
    slot,
    state: behaviour.state ?? 'running',
    restarts: 0,
    ask: async (question: Question, timeoutMs: number) => {
      if (behaviour.silent) throw new Error(`no answer to ${question} within ${timeoutMs} ms`);
      return question === 'readiness'
        ? { ready: behaviour.ready ?? true, checks: { nats: behaviour.ready ?? true, routes: true } }
        : metricsOf(behaviour.requests ?? 0);
    },
  };
}

test('/healthz: the primary lives, whatever its workers do', async () => {
  const app = buildPrimaryAdmin(logger, () => [worker(1, { silent: true })]);
  const res = await app.inject({ method: 'GET', url: '/healthz' });
  assert.equal(res.statusCode, 200);
  assert.deepEqual(res.json(), { status: 'ok' });
});

test('/readyz: ready while one worker is; each worker listed with its checks', async () => {
  let workers = [worker(1, { ready: true }), worker(2, { ready: false })];
  const app = buildPrimaryAdmin(logger, () => workers);
  let res = await app.inject({ method: 'GET', url: '/readyz' });
  assert.equal(res.statusCode, 200);
  assert.deepEqual(res.json(), {
    status: 'ready',
    checks: { workers: true },
    workers: [
      { worker: 1, state: 'running', ready: true, checks: { nats: true, routes: true } },
      { worker: 2, state: 'running', ready: false, checks: { nats: false, routes: true } },
    ],
  });

  // One silent (dying), one waiting to be replaced (no process): none ready.
  workers = [worker(1, { silent: true }), { slot: 2, state: 'waiting', restarts: 1, ask: undefined }];
  res = await app.inject({ method: 'GET', url: '/readyz' });
  assert.equal(res.statusCode, 503);
  assert.deepEqual(res.json(), {
    status: 'not ready',
    checks: { workers: false },
    workers: [
      { worker: 1, state: 'running', ready: false, checks: { answered: false } },
      { worker: 2, state: 'waiting', ready: false, checks: {} },
    ],
  });
});

test('/metrics: the answering workers summed, each counted; a silent one left out of the sums', async () => {
  const app = buildPrimaryAdmin(logger, () => [worker(1, { requests: 4 }), worker(2, { requests: 6 }), { ...worker(3, { silent: true }), state: 'starting' }]);
  const res = await app.inject({ method: 'GET', url: '/metrics' });
  assert.equal(res.statusCode, 200);
  assert.match(String(res.headers['content-type']), /^text\/plain; version=0.0.4/);
  assert.match(res.body, /^microseg_gateway_request_duration_seconds_count 10$/m);
  assert.match(res.body, /^microseg_gateway_worker_requests_total\{worker="1"\} 4$/m);
  assert.match(res.body, /^microseg_gateway_worker_requests_total\{worker="3"\} 0$/m);
  assert.match(res.body, /^microseg_gateway_worker_up\{worker="3"\} 0$/m);
});
