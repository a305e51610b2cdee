// A constant-rate HTTP load generator that is safe from coordinated omission
// (wrk2-style): request i is *scheduled* at t0 + i/rate whatever happened to the
// requests before it, waits in a queue while every keep-alive connection is busy,
// and its latency is measured from that intended time, not from when it could be
// sent. A server that stalls for 200 ms therefore shows 200 ms of latency for the
// requests that should have gone out during the stall, as a user would see it.
//
// Connections: `connections` undici Clients (HTTP/1.1, keep-alive, no pipelining),
// each taking the next queued request when it is free. Everything is bounded: the
// schedule ends after `durationMs`; what is still queued or in flight after
// `drainMs` more is aborted and counted as an error.
import { Client } from 'undici';

export interface ResponseRecord {
  index: number;
  /** performance.now() times, ms. */
  intendedMs: number;
  sentMs: number;
  doneMs: number;
  /** 0 when the request failed without a response. */
  status: number;
}

export interface ConstantRateOptions {
  /** Origin and path, e.g. https://127.0.0.1:8443/public/hello */
  url: string;
  /** Requests per second. */
  rate: number;
  durationMs: number;
  /** Scheduled (at the same rate) before the measured part and not recorded: opens connections, warms caches. */
  warmupMs?: number;
  connections?: number;
  method?: string;
  /**
   * Fixed headers, or per request index (e.g. a cookie rotated every N requests). Indexes count the whole
   * schedule, the warm-up first (0 … warm-up count − 1), then the measured part.
   */
  headers?: Record<string, string> | ((index: number) => Record<string, string>);
  /** TLS: server name to send and whether to check the certificate (default: not checked, loopback tests). */
  servername?: string;
  /** Bound on each response (headers and body); default 5000 ms. */
  timeoutMs?: number;
  /** How long to wait for the last responses after the schedule ends; default 5000 ms. */
  drainMs?: number;
  /** A response with another status is an error (default 200); null accepts any status. */
  expectStatus?: number | null;
  /** Called when the first request of the measured part comes due (after the warm-up). */
  onMeasureStart?: () => void;
  /** Called for every response or failure of the measured part. */
  onResponse?: (record: ResponseRecord) => void;
}

export interface Percentiles {
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

export interface ConstantRateResult {
  rate: number;
  durationMs: number;
  connections: number;
  /** Requests scheduled in the measured part. */
  scheduled: number;
  /** Responses received (any status). */
  completed: number;
  /** Completed responses per second of schedule. */
  achievedRate: number;
  errors: number;
  /** Error kinds: `status 503`, `UND_ERR_HEADERS_TIMEOUT`, `ECONNRESET`, `unfinished`, … */
  errorKinds: Record<string, number>;
  /** From the intended send time (coordinated-omission-safe): what a client at this rate sees. */
  latency: Percentiles;
  /** From the actual send time (the server's service time; hides queueing, for comparison only). */
  serviceTime: Percentiles;
  /**
   * How late the generator itself dispatched requests while a connection was free (timer and event-loop
   * delay). A p99 of several ms means the machine, not the server, limited the schedule.
   */
  schedulerLag: Percentiles;
}

/** Nearest-rank percentiles of a list of milliseconds. */
export function percentiles(values: Float64Array | number[]): Percentiles {
  const sorted = Float64Array.from(values).sort();
  const n = sorted.length;
  if (n === 0) return { p50: NaN, p90: NaN, p99: NaN, p999: NaN, max: NaN, mean: NaN };
  const at = (p: number) => sorted[Math.min(n - 1, Math.max(0, Math.ceil(p * n) - 1))]!;
  let sum = 0;
  for (const v of sorted) sum += v;
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), p999: at(0.999), max: sorted[n - 1]!, mean: sum / n };
}

export async function runConstantRate(options: ConstantRateOptions): Promise<ConstantRateResult> {
  const { rate, durationMs } = options;
  if (!(rate > 0) || !(durationMs > 0)) throw new Error(`constant rate: rate (${rate}) and duration (${durationMs} ms) must be positive`);
  const url = new URL(options.url);
  const path = url.pathname + url.search;
  const method = options.method ?? 'GET';
  const connections = options.connections ?? 32;
  const timeoutMs = options.timeoutMs ?? 5_000;
  const drainMs = options.drainMs ?? 5_000;
  const expectStatus = options.expectStatus === undefined ? 200 : options.expectStatus;
  const intervalMs = 1000 / rate;
  const warmupCount = Math.round(((options.warmupMs ?? 0) * rate) / 1000);
  const measuredCount = Math.max(1, Math.round((durationMs * rate) / 1000));
  const total = warmupCount + measuredCount;
  const headersFor = typeof options.headers === 'function' ? options.headers : () => (options.headers as Record<string, string> | undefined) ?? {};

  const latency = new Float64Array(measuredCount);
  const service = new Float64Array(measuredCount);
  const lag = new Float64Array(measuredCount);
  let latencyCount = 0;
  let lagCount = 0;
  let completed = 0;
  let errors = 0;
  const errorKinds: Record<string, number> = {};
  const fail = (kind: string) => {
    errors++;
    errorKinds[kind] = (errorKinds[kind] ?? 0) + 1;
  };

  const clients: Client[] = [];
  for (let i = 0; i < connections; i++) {
    clients.push(
      new Client(url.origin, {
        pipelining: 1,
        keepAliveTimeout: 60_000,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        connect: url.protocol === 'https:' ? { rejectUnauthorized: false, servername: options.servername ?? url.hostname } : undefined,
      }),
    );
  }
  const idle = [...clients];
  // The queue of scheduled, not yet sent request indexes is always a contiguous range [queueHead, scheduledUpTo).
  let queueHead = 0;
  let scheduledUpTo = 0;
  let inFlight = 0;
  let t0 = 0;
  const intended = (i: number) => t0 + i * intervalMs;
  let settle: (() => void) | undefined;

  const send = (client: Client, index: number, now: number) => {
    const intendedMs = intended(index);
    const measured = index >= warmupCount;
    // Dispatched by the schedule tick (a connection was free when it came due): the lag is the generator's own.
    if (measured && dispatchingFromTick && lagCount < lag.length) lag[lagCount++] = now - intendedMs;
    inFlight++;
    const finish = (status: number, kind?: string) => {
      const doneMs = performance.now();
      inFlight--;
      if (measured) {
        if (status > 0) {
          completed++;
          latency[latencyCount] = doneMs - intendedMs;
          service[latencyCount++] = doneMs - now;
          if (expectStatus !== null && status !== expectStatus) fail(`status ${status}`);
        } else fail(stopped ? 'unfinished' : (kind ?? 'error'));
        options.onResponse?.({ index, intendedMs, sentMs: now, doneMs, status });
      }
      idle.push(client);
      pump();
      if (inFlight === 0 && queueHead >= total) settle?.();
    };
    // dispatch() with a bare handler: no stream objects per request, so the generator stays cheap.
    let status = 0;
    let done = false;
    const once = (code: number, kind?: string) => {
      if (done) return;
      done = true;
      finish(code, kind);
    };
    try {
      client.dispatch(
        { origin: url.origin, path, method, headers: headersFor(index), headersTimeout: timeoutMs, bodyTimeout: timeoutMs },
        {
          onRequestStart: () => undefined,
          onResponseStart: (_controller, statusCode) => {
            status = statusCode;
          },
          onResponseData: () => {
            // the body is read and dropped: the connection stays usable
          },
          onResponseEnd: () => once(status),
          onResponseError: (_controller, err: Error & { code?: string }) => once(0, err.code ?? err.name),
        },
      );
    } catch (err) {
      const e = err as Error & { code?: string };
      queueMicrotask(() => once(0, e.code ?? e.name));
    }
  };

  // True while the schedule tick dispatches (a connection was free when the request came due), false when a
  // completing request takes the next one from the queue: only the former measures the generator's own lag.
  let dispatchingFromTick = false;

  const pump = () => {
    const now = performance.now();
    while (idle.length > 0 && queueHead < scheduledUpTo) send(idle.pop()!, queueHead++, now);
  };

  let stopped = false;
  let measureStarted = false;
  let timer: NodeJS.Timeout | undefined;
  const tick = () => {
    if (stopped) return;
    const now = performance.now();
    const due = Math.min(total, Math.floor((now - t0) / intervalMs) + 1);
    if (due > scheduledUpTo) scheduledUpTo = due;
    if (!measureStarted && scheduledUpTo > warmupCount) {
      measureStarted = true;
      options.onMeasureStart?.();
    }
    dispatchingFromTick = true;
    pump();
    dispatchingFromTick = false;
    if (scheduledUpTo < total) timer = setTimeout(tick, Math.max(0, intended(scheduledUpTo) - performance.now()));
  };

  try {
    t0 = performance.now();
    const finished = new Promise<void>((resolve) => (settle = resolve));
    tick();
    const scheduleEnds = intended(total);
    const deadline = new Promise<'deadline'>((resolve) => {
      const t = setTimeout(() => resolve('deadline'), Math.max(0, scheduleEnds - performance.now()) + drainMs);
      void finished.then(() => clearTimeout(t));
    });
    await Promise.race([finished, deadline]);
  } finally {
    stopped = true;
    if (timer) clearTimeout(timer);
    // Anything never sent or still running is an error of the measured part (its latency is unknown but large).
    const neverSent = Math.max(0, total - Math.max(queueHead, warmupCount));
    for (let i = 0; i < neverSent; i++) fail('unfinished');
    queueHead = total;
    // Destroying the clients fails the requests still in flight: their handlers count them as `unfinished`.
    await Promise.all(clients.map((c) => c.destroy().catch(() => undefined)));
    await new Promise((resolve) => setImmediate(resolve));
  }

  const durationSec = durationMs / 1000;
  return {
    rate,
    durationMs,
    connections,
    scheduled: measuredCount,
    completed,
    achievedRate: completed / durationSec,
    errors,
    errorKinds,
    latency: percentiles(latency.subarray(0, latencyCount)),
    serviceTime: percentiles(service.subarray(0, latencyCount)),
    schedulerLag: percentiles(lag.subarray(0, lagCount)),
  };
}
