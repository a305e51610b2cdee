// A gateway that runs several workers (node:cluster) serves their metrics from its primary, on its one admin
// port: each worker hands over its registry as data (`processMetrics`), and the primary serves them summed as
// one gateway's — the same names and labels as a single process, so dashboards and alerts need not know how
// many workers there are — plus a few series per worker (`worker` label: 1…GATEWAY_WORKERS, a bounded set).
// prom-client's AggregatorRegistry does the arithmetic: counters and histograms summed, the process metrics
// by their own rule (event-loop lag averaged, start time left out).
import { AggregatorRegistry, Counter, Gauge, Registry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import { registry } from './metrics.ts';

/** One process's metrics as data (prom-client's JSON form). */
export type ProcessMetrics = MetricObjectWithValues<MetricValue<string>>[];

/** This process's metrics, for the primary to gather. */
export function processMetrics(): Promise<ProcessMetrics> {
  return registry.getMetricsAsJSON();
}

export interface WorkerMetrics {
  /** 1…GATEWAY_WORKERS. */
  worker: number;
  /** Started and running. */
  up: boolean;
  /** How many times this worker was replaced. */
  restarts: number;
  /** What it answered; undefined when it did not (starting, dying, too slow). */
  metrics: ProcessMetrics | undefined;
}

/** The histogram every request ends in (pipeline/index.ts): its count is the requests a worker answered. */
const REQUEST_DURATION = 'microseg_gateway_request_duration_seconds';

/** Requests a worker answered: the count of its request-duration histogram. */
export function requestsAnswered(metrics: ProcessMetrics | undefined): number {
  const histogram = metrics?.find((m) => m.name === REQUEST_DURATION);
  const count = histogram?.values.find((v: MetricValue<string> & { metricName?: string }) => v.metricName === `${REQUEST_DURATION}_count`);
  return count?.value ?? 0;
}

/** The workers' metrics summed, then the per-worker series, as one Prometheus text exposition. */
export async function clusterMetricsText(workers: readonly WorkerMetrics[]): Promise<{ contentType: string; body: string }> {
  const summed = AggregatorRegistry.aggregate(workers.flatMap((w) => (w.metrics ? [w.metrics] : [])));
  const perWorker = new Registry();
  const up = new Gauge({
    name: 'microseg_gateway_worker_up',
    help: 'Whether each gateway worker has started and runs (1) or is starting or being replaced (0).',
    labelNames: ['worker'],
    registers: [perWorker],
  });
  const restarts = new Counter({
    name: 'microseg_gateway_worker_restarts_total',
    help: 'Gateway workers replaced after they died, per worker.',
    labelNames: ['worker'],
    registers: [perWorker],
  });
  const requests = new Counter({
    name: 'microseg_gateway_worker_requests_total',
    help: 'Requests answered by each gateway worker (since it started).',
    labelNames: ['worker'],
    registers: [perWorker],
  });
  for (const w of workers) {
    const worker = String(w.worker);
    up.set({ worker }, w.up ? 1 : 0);
    restarts.inc({ worker }, w.restarts);
    requests.inc({ worker }, requestsAnswered(w.metrics));
  }
  const [a, b] = await Promise.all([summed.metrics(), perWorker.metrics()]);
  return { contentType: registry.contentType, body: `${a.trimEnd()}\n\n${b}`.trimStart() };
}
