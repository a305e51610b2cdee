import cluster from 'node:cluster';
import { loadConfigOrExit } from '@microseg/config';
import { createLogger } from '@microseg/telemetry';
import { runService } from '@microseg/runtime';
import { gatewayConfigSchema } from './config.ts';
import { buildGatewayApp } from './app.ts';
import { runPrimary } from './workers/primary.ts';
import { runWorker, workerSlot } from './workers/worker.ts';

const config = loadConfigOrExit('gateway', gatewayConfigSchema);
const logger = createLogger('gateway', config.LOG_LEVEL);
const slot = cluster.isWorker ? workerSlot(process.argv) : undefined;

if (slot !== undefined) {
  // A worker the primary forked (GATEWAY_WORKERS > 1; workers/).
  runWorker(config, logger, slot, buildGatewayApp);
} else if (config.GATEWAY_WORKERS > 1) {
  runPrimary(config, logger);
} else {
  // One process: the gateway and its admin port, no cluster.
  runService({
    name: 'gateway',
    logger,
    graceMs: config.SHUTDOWN_GRACE_MS,
    async start() {
      const app = await buildGatewayApp(config, logger);
      await app.admin.listen({ host: config.GATEWAY_ADMIN_HOST, port: config.GATEWAY_ADMIN_PORT });
      await app.start();
      logger.info({ ports: app.state().routes.map((r) => r.exposedPort) }, 'gateway ready');
      return app;
    },
  });
}
