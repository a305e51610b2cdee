import { pino, type Logger } from 'pino';
import { trace } from '@opentelemetry/api';

export type { Logger };

/**
 * JSON logs on stdout. Every line carries the active trace and span ids, so a
 * log line leads to its trace. Known secret-bearing fields are redacted.
 */
export function createLogger(service: string, level: string): Logger {
  return pino({
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: {
      paths: [
        'req.headers.cookie',
        'req.headers.authorization',
        'headers.cookie',
        'headers.authorization',
        '*.OIDCClientSecret',
        '*.TLSCertificateKey',
        '*.clientSecret',
        '*.ticket',
        '*.code',
        '*.refresh_token',
        '*.id_token',
        '*.access_token',
      ],
      censor: '[redacted]',
    },
    mixin() {
      const span = trace.getActiveSpan();
      if (!span) return {};
      const ctx = span.spanContext();
      return { trace_id: ctx.traceId, span_id: ctx.spanId };
    },
  });
}
