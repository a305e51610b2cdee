import { NodeSDK } from '@opentelemetry/sdk-node';
import { AlwaysOffSampler, BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';

let sdk: NodeSDK | undefined;

/**
 * The server's requests are traced by the service itself, not by the HTTP
 * instrumentation, which binds every request's and response's event listeners
 * to the request's context and parses its URL before anything else runs: a
 * large part of a proxy's per-request cost (bench/results).
 */
export function tracesItsOwnRequests(server: object): void {
  // The instrumentation wraps `Server.prototype.emit`; even for a request its hook ignores, it binds the
  // request's and response's listeners to a context. This server gets the unwrapped `emit`.
  const emit = (server as { emit?: { __original?: unknown; __wrapped?: boolean } }).emit;
  if (emit?.__wrapped === true && typeof emit.__original === 'function')
    Object.defineProperty(server, 'emit', { value: emit.__original, writable: true, configurable: true });
}

function carriesTraceparent(headers: unknown): boolean {
  if (typeof headers === 'string') return headers.includes('traceparent:');
  if (Array.isArray(headers)) return headers.some((h, i) => i % 2 === 0 && typeof h === 'string' && h.toLowerCase() === 'traceparent');
  return false;
}

/** Keeps a tracer provider (and so real trace and span ids, for logs and NATS headers) when nothing is exported. */
const recordOnly: SpanProcessor = {
  onStart: () => undefined,
  onEnd: () => undefined,
  forceFlush: async () => undefined,
  shutdown: async () => undefined,
};

/**
 * Start the OpenTelemetry SDK once per process. Every request has a trace id
 * (it reaches logs and NATS headers); spans are recorded and exported over
 * OTLP/HTTP only when OTEL_EXPORTER_OTLP_ENDPOINT (or the traces-specific
 * variable) is set, sampled as OTEL_TRACES_SAMPLER says (parent-based, always on
 * by default). Without an exporter nothing is recorded: the spans would only be
 * thrown away, at a cost on every request.
 */
export function startTelemetry(): void {
  if (sdk) return;
  const exporting = Boolean(process.env.OTEL_EXPORTER_OTLP_ENDPOINT || process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
  const spanProcessors: SpanProcessor[] = exporting ? [new BatchSpanProcessor({ exporter: new OTLPTraceExporter() })] : [recordOnly];
  sdk = new NodeSDK({
    serviceName: process.env.OTEL_SERVICE_NAME ?? 'microseg',
    spanProcessors,
    ...(exporting ? {} : { sampler: new AlwaysOffSampler() }),
    metricReaders: [],
    instrumentations: [
      // Incoming HTTP is traced by each service's own spans; outgoing calls are traced here.
      new HttpInstrumentation({ ignoreIncomingRequestHook: (req) => req.url === '/healthz' || req.url === '/readyz' }),
      // A request that already carries a traceparent propagates its own context (the gateway's forwarder makes
      // its own client span): no second span, no second traceparent.
      new UndiciInstrumentation({ ignoreRequestHook: (request) => carriesTraceparent(request.headers) }),
      new IORedisInstrumentation({ requireParentSpan: true }),
    ],
  });
  sdk.start();
}

/** Flush and stop; called at the end of graceful shutdown. */
export async function stopTelemetry(): Promise<void> {
  await sdk?.shutdown().catch(() => undefined);
  sdk = undefined;
}
