export { createLogger, type Logger } from './logger.ts';
export { startTelemetry, stopTelemetry, tracesItsOwnRequests } from './sdk.ts';
export { trace, context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, type Span, type Tracer } from '@opentelemetry/api';
export { metrics, metricsText, oauthErrorLabel, registry } from './metrics.ts';
export { clusterMetricsText, processMetrics, requestsAnswered, type ProcessMetrics, type WorkerMetrics } from './cluster-metrics.ts';
