import { pino, type DestinationStream, type Logger } from 'pino';
import { trace } from '@opentelemetry/api';

export type { Logger };

/**
 * A logged request URL keeps its path only: a query string may carry what a
 * client should never have put there (`?token=`, `?code=`), and logs keep it.
 */
export function redactUrlQuery(url: unknown): unknown {
  if (typeof url !== 'string') return '[redacted]';
  const q = url.indexOf('?');
  return q === -1 ? url : `${url.slice(0, q)}?[redacted]`;
}

/**
 * JSON logs on stdout. Every line carries the active trace and span ids, so a
 * log line leads to its trace. Known secret-bearing fields are redacted, and
 * the query string of a logged request URL.
 */
export function createLogger(service: string, level: string, destination?: DestinationStream): Logger {
  return pino(
    {
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
          'req.url',
        ],
        censor: (value: unknown, path: unknown[]) => (path.at(-2) === 'req' && path.at(-1) === 'url' ? redactUrlQuery(value) : '[redacted]'),
      },
      mixin() {
        const span = trace.getActiveSpan();
        if (!span) return {};
        const ctx = span.spanContext();
        return { trace_id: ctx.traceId, span_id: ctx.spanId };
      },
    },
    destination,
  );
}
