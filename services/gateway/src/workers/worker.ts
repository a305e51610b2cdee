// A gateway worker: the whole gateway (its own NATS connection, caches and listeners — listen() in a worker
// shares the primary's socket), minus the admin port, which is the primary's. It answers the primary's
// questions (readiness, metrics) and says when it serves. Worker 1 registers the gateway with policy; the
// others ask for the routes only. Its logs carry its number.
import type { FastifyInstance } from 'fastify';
import { runService } from '@microseg/runtime';
import { processMetrics, type Logger } from '@microseg/telemetry';
import type { GatewayApp, GatewayWorker } from '../app.ts';
import type { GatewayConfig } from '../config.ts';
import { answerPrimary, type Channel } from './ipc.ts';

export interface Readiness {
  ready: boolean;
  checks: Record<string, boolean>;
}

/** The worker's `/readyz`, asked of its own admin app (which does not listen). */
export async function readinessOf(admin: FastifyInstance): Promise<Readiness> {
  const res = await admin.inject({ method: 'GET', url: '/readyz' });
  const checks = res.json<{ checks?: Record<string, boolean> }>().checks ?? {};
  return { ready: res.statusCode === 200, checks };
}

/** The worker number in a worker's arguments (`--worker=2`, added by the primary). */
export function workerSlot(argv: readonly string[]): number | undefined {
  for (const arg of argv) {
    const m = /^--worker=(\d{1,3})$/.exec(arg);
    if (m) return Number(m[1]);
  }
  return undefined;
}

/**
 * Build and start the gateway as worker `slot`, answering the primary on `channel` from the first moment
 * (not ready until it has started). Resolves with the started app.
 */
export async function startWorker(options: { slot: number; channel: Channel; build: (worker: GatewayWorker) => Promise<GatewayApp> }): Promise<GatewayApp> {
  // Set once the gateway has started; until then the worker is not ready.
  const started: { app?: GatewayApp } = {};
  const primary = answerPrimary(options.channel, {
    readiness: async (): Promise<Readiness> => (started.app ? readinessOf(started.app.admin) : { ready: false, checks: { started: false } }),
    metrics: () => processMetrics(),
  });
  const built = await options.build({ slot: options.slot, registers: options.slot === 1 });
  await built.start();
  started.app = built;
  primary.started();
  return built;
}

/** Run as worker `slot` of a gateway (main.ts, in a process the primary forked). */
export function runWorker(
  config: GatewayConfig,
  logger: Logger,
  slot: number,
  build: (config: GatewayConfig, logger: Logger, worker: GatewayWorker) => Promise<GatewayApp>,
): void {
  const log = logger.child({ worker: slot });
  // The primary gone (killed): no connection comes any more, and nobody would replace this worker. Stop as on SIGTERM.
  process.once('disconnect', () => {
    log.warn({}, 'the gateway primary has gone; this worker stops');
    process.kill(process.pid, 'SIGTERM');
  });
  runService({
    name: `gateway worker ${slot}`,
    logger: log,
    graceMs: config.SHUTDOWN_GRACE_MS,
    async start() {
      const app = await startWorker({ slot, channel: process as Channel, build: (worker) => build(config, log, worker) });
      log.info({ ports: app.state().routes.map((r) => r.exposedPort) }, 'gateway worker ready');
      return app;
    },
  });
}
