// The primary of a gateway that runs workers (GATEWAY_WORKERS > 1): it forks them (node:cluster; each runs the
// whole gateway, worker.ts), keeps them running (supervisor.ts), serves the admin port for all of them
// (primary-admin.ts), and on SIGTERM asks them to finish what they are doing before it exits. It holds the
// shared listening sockets (node:cluster hands each connection to a worker in turn), no NATS connection and no state.
import nodeCluster, { type ClusterSettings } from 'node:cluster';
import type { FastifyInstance } from 'fastify';
import { runService, type Running } from '@microseg/runtime';
import type { Logger } from '@microseg/telemetry';
import type { GatewayConfig } from '../config.ts';
import { loadGatewayFile } from '../processing-units.ts';
import { WorkerLink, type Channel } from './ipc.ts';
import { buildPrimaryAdmin } from './primary-admin.ts';
import { Supervisor, type Backoff, type SupervisedWorker } from './supervisor.ts';

/** What the primary uses of node:cluster (a fake in tests). */
export interface ClusterLike {
  setupPrimary(settings: ClusterSettings): void;
  fork(): ForkedWorker;
}

export interface ForkedWorker extends Channel {
  readonly process: { readonly pid?: number | undefined; kill(signal?: NodeJS.Signals): boolean };
  once(event: 'exit', listener: (code: number | null, signal: string | null) => void): unknown;
}

interface Handle extends SupervisedWorker {
  link: WorkerLink;
}

export interface Primary extends Running {
  admin: FastifyInstance;
  supervisor: Supervisor<Handle>;
}

/** The supervisor and the admin app; `supervisor.start()` forks the workers. */
export function createPrimary(options: {
  workers: number;
  logger: Logger;
  cluster: ClusterLike;
  /** The primary's own arguments, given to every worker with its number (`--worker=N`). */
  args: readonly string[];
  backoff?: Partial<Backoff>;
  askTimeoutMs?: number;
}): Primary {
  const { logger, cluster } = options;
  const supervisor: Supervisor<Handle> = new Supervisor<Handle>({
    workers: options.workers,
    logger,
    backoff: options.backoff,
    fork(slot) {
      // Advanced serialization: metrics may hold NaN and Infinity, which JSON would not carry.
      cluster.setupPrimary({ args: [...options.args.filter((a) => !a.startsWith('--worker=')), `--worker=${slot}`], serialization: 'advanced' });
      const worker = cluster.fork();
      const handle: Handle = {
        pid: worker.process.pid,
        link: new WorkerLink(worker),
        kill(signal) {
          try {
            worker.process.kill(signal);
          } catch {
            // Already gone.
          }
        },
      };
      handle.link.onStarted(() => {
        supervisor.running(handle);
        logger.info({ worker: slot, pid: handle.pid }, 'gateway worker serving');
      });
      worker.once('exit', (code, signal) => {
        handle.link.close();
        supervisor.exited(handle, code, signal);
      });
      return handle;
    },
  });
  const admin = buildPrimaryAdmin(
    logger,
    () =>
      supervisor.slots.map((s) => ({
        slot: s.slot,
        state: s.state,
        restarts: s.restarts,
        ask: s.worker ? s.worker.link.ask.bind(s.worker.link) : undefined,
      })),
    { askTimeoutMs: options.askTimeoutMs },
  );
  return {
    admin,
    supervisor,
    async close(graceMs) {
      // Probes fail first (as a single gateway's do), then the workers drain.
      await admin.close();
      await supervisor.stop(graceMs);
    },
  };
}

/** Run as the primary of GATEWAY_WORKERS workers (main.ts). */
export function runPrimary(config: GatewayConfig, logger: Logger, cluster: ClusterLike = nodeCluster): void {
  runService({
    name: 'gateway',
    logger,
    graceMs: config.SHUTDOWN_GRACE_MS,
    async start() {
      // A mistake in the processing-units file stops the gateway now, not each worker in turn.
      await loadGatewayFile(config.GATEWAY_PROCESSING_UNITS, config.GATEWAY_ADMIN_PORT);
      const primary = createPrimary({ workers: config.GATEWAY_WORKERS, logger, cluster, args: process.argv.slice(2) });
      await primary.admin.listen({ host: config.GATEWAY_ADMIN_HOST, port: config.GATEWAY_ADMIN_PORT });
      primary.supervisor.start();
      logger.info({ workers: config.GATEWAY_WORKERS }, 'gateway primary started its workers');
      return primary;
    },
  });
}
