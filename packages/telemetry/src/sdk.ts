import { NodeSDK } from '@opentelemetry/sdk-node';
import { BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';

let sdk: NodeSDK | undefined;

/** Keeps a tracer provider (and so real trace ids) when nothing is exported. */
const recordOnly: SpanProcessor = {
  onStart: () => undefined,
  onEnd: () => undefined,
  forceFlush: async () => undefined,
  shutdown: async () => undefined,
};

/**
 * Start the OpenTelemetry SDK once per process. Spans are always created (trace
 * ids reach logs and NATS headers); they are exported over OTLP/HTTP only when
 * OTEL_EXPORTER_OTLP_ENDPOINT (or the traces-specific variable) is set.
 */
export function startTelemetry(): void {
  if (sdk) return;
  const exporting = Boolean(process.env.OTEL_EXPORTER_OTLP_ENDPOINT || process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
  const spanProcessors: SpanProcessor[] = exporting ? [new BatchSpanProcessor({ exporter: new OTLPTraceExporter() })] : [recordOnly];
  sdk = new NodeSDK({
    serviceName: process.env.OTEL_SERVICE_NAME ?? 'microseg',
    spanProcessors,
    metricReaders: [],
    instrumentations: [
      // Incoming HTTP is traced by each service's own spans; outgoing calls are traced here.
      new HttpInstrumentation({ ignoreIncomingRequestHook: (req) => req.url === '/healthz' || req.url === '/readyz' }),
      new UndiciInstrumentation(),
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
