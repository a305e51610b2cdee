export { createLogger, type Logger } from './logger.ts';
export { startTelemetry, stopTelemetry } from './sdk.ts';
export { trace, context, propagation, SpanKind, SpanStatusCode, type Span, type Tracer } from '@opentelemetry/api';
export { metrics, metricsText, registry } from './metrics.ts';
