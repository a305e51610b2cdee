// Unit: a gateway's workers' metrics served by its primary — summed as one gateway's (counters, histograms;
// the process metrics by their own rule), and requests, readiness and restarts per worker.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { clusterMetricsText, requestsAnswered, type ProcessMetrics } from './cluster-metrics.ts';

/** One worker's registry, as its metrics would be: `requests` answered, `accepted` of them on service `web`. */
async function workerMetrics(requests: number, accepted: number, lagSeconds: number): Promise<ProcessMetrics> {
  const r = new Registry();
  const decided = new Counter({ name: 'microseg_gateway_requests_total', help: 'h', labelNames: ['service', 'decision'], registers: [r] });
  decided.inc({ service: 'web', decision: 'accept' }, accepted);
  const duration = new Histogram({ name: 'microseg_gateway_request_duration_seconds', help: 'h', buckets: [0.01, 0.1], registers: [r] });
  for (let i = 0; i < requests; i++) duration.observe(0.05);
  new Gauge({ name: 'microseg_process_eventloop_lag_seconds', help: 'h', aggregator: 'average', registers: [r] }).set(lagSeconds);
  // Through JSON, as it crosses the IPC channel.
  return JSON.parse(JSON.stringify(await r.getMetricsAsJSON()));
}

test('summed as one gateway: the same names and labels, counters and histograms added, lag averaged', async () => {
  const { body, contentType } = await clusterMetricsText([
    { worker: 1, up: true, restarts: 0, metrics: await workerMetrics(3, 2, 0.01) },
    { worker: 2, up: true, restarts: 1, metrics: await workerMetrics(5, 4, 0.03) },
  ]);
  assert.match(contentType, /^text\/plain/);
  assert.match(body, /^microseg_gateway_requests_total\{service="web",decision="accept"\} 6$/m);
  assert.match(body, /^microseg_gateway_request_duration_seconds_count 8$/m);
  assert.match(body, /^microseg_gateway_request_duration_seconds_bucket\{le="0.1"\} 8$/m);
  assert.match(body, /^microseg_gateway_request_duration_seconds_bucket\{le="0.01"\} 0$/m);
  assert.match(body, /^microseg_process_eventloop_lag_seconds 0.02$/m);
  // Each family once: Prometheus refuses an exposition that names one twice.
  const types = body.match(/^# TYPE \S+/gm) ?? [];
  assert.equal(new Set(types).size, types.length);
});

test('per worker: requests answered, up, restarts, each labelled with its worker number', async () => {
  const { body } = await clusterMetricsText([
    { worker: 1, up: true, restarts: 0, metrics: await workerMetrics(3, 3, 0) },
    { worker: 2, up: false, restarts: 2, metrics: undefined },
  ]);
  assert.match(body, /^microseg_gateway_worker_requests_total\{worker="1"\} 3$/m);
  assert.match(body, /^microseg_gateway_worker_requests_total\{worker="2"\} 0$/m);
  assert.match(body, /^microseg_gateway_worker_up\{worker="1"\} 1$/m);
  assert.match(body, /^microseg_gateway_worker_up\{worker="2"\} 0$/m);
  assert.match(body, /^microseg_gateway_worker_restarts_total\{worker="2"\} 2$/m);
  // A worker that did not answer is left out of the sums, not counted as zero twice.
  assert.match(body, /^microseg_gateway_request_duration_seconds_count 3$/m);
});

test('no worker answering: only the per-worker series', async () => {
  const { body } = await clusterMetricsText([{ worker: 1, up: false, restarts: 0, metrics: undefined }]);
  assert.doesNotMatch(body, /microseg_gateway_requests_total/);
  assert.match(body, /^microseg_gateway_worker_up\{worker="1"\} 0$/m);
});

test('requests answered: the count of the request-duration histogram, 0 when there is none', async () => {
  assert.equal(requestsAnswered(await workerMetrics(7, 0, 0)), 7);
  assert.equal(requestsAnswered([]), 0);
  assert.equal(requestsAnswered(undefined), 0);
});
