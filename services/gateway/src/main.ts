import { loadConfigOrExit } from '@microseg/config';
import { createLogger } from '@microseg/telemetry';
import { runService } from '@microseg/runtime';
import { gatewayConfigSchema } from './config.ts';
import { buildGatewayApp } from './app.ts';

const config = loadConfigOrExit('gateway', gatewayConfigSchema);
const logger = createLogger('gateway', config.LOG_LEVEL);

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
