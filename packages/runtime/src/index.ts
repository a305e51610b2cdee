// The life cycle every microseg service shares: start, serve health probes,
// and on SIGTERM/SIGINT stop taking work, finish what is in flight, then exit.
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { metricsText, stopTelemetry } from '@microseg/telemetry';

import { registerErrorHandling } from './http-errors.ts';

export { asMicrosegError, registerErrorHandling, sendMicrosegError } from './http-errors.ts';

export interface Readiness {
  /** Name of the dependency and whether it is usable now. */
  (): Record<string, boolean>;
}

/**
 * `/healthz` (the process is alive) and `/readyz` (dependencies usable; 503
 * with the failing ones otherwise) on an existing fastify instance.
 */
export function registerHealthRoutes(app: FastifyInstance, readiness: Readiness): void {
  app.get('/healthz', async () => ({ status: 'ok' }));
  // Prometheus: counters and histograms of this process.
  app.get('/metrics', async (_req, reply) => {
    const { contentType, body } = await metricsText();
    return reply.header('content-type', contentType).send(body);
  });
  app.get('/readyz', async (_req, reply) => {
    const checks = readiness();
    const ready = Object.values(checks).every(Boolean);
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', checks });
  });
}

/** A fastify instance with JSON request logs, request ids and the shared error handling, for APIs and probes. */
export function createHttpApp(logger: Logger): FastifyInstance {
  const app = Fastify({
    loggerInstance: logger,
    genReqId: () => crypto.randomUUID(),
    requestIdHeader: false,
    // Probes would drown the logs.
    logController: new LogController({ disableRequestLogging: (req) => req.url === '/healthz' || req.url === '/readyz' || req.url === '/metrics' }),
    bodyLimit: 1024 * 1024,
  }) as unknown as FastifyInstance;
  registerErrorHandling(app);
  return app;
}

export interface Running {
  /** Stop accepting new work, finish in-flight work within graceMs, release resources. */
  close(graceMs: number): Promise<void>;
}

/** Run a service until a signal; exit non-zero when start fails. */
export function runService(options: { name: string; logger: Logger; graceMs: number; start: () => Promise<Running>; onStopped?: () => Promise<void> }): void {
  const { name, logger, graceMs } = options;
  let running: Running | undefined;
  let stopping = false;

  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, `${name} stopping`);
    const hardStop = setTimeout(() => {
      logger.error({ graceMs }, `${name} did not stop in time; exiting`);
      process.exit(1);
    }, graceMs + 5_000);
    hardStop.unref();
    try {
      await running?.close(graceMs);
      await options.onStopped?.();
      // Flush the last spans.
      await stopTelemetry();
      logger.info({}, `${name} stopped`);
      process.exit(0);
    } catch (err) {
      logger.error({ err }, `${name} failed to stop cleanly`);
      process.exit(1);
    }
  };

  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
  process.on('unhandledRejection', (err) => logger.error({ err }, 'unhandled rejection'));

  options
    .start()
    .then((r) => {
      running = r;
      if (stopping) void r.close(graceMs);
    })
    .catch((err) => {
      logger.fatal({ err }, `${name} failed to start`);
      process.exit(1);
    });
}
