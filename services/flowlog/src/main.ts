import { loadConfigOrExit } from '@microseg/config';
import { createLogger } from '@microseg/telemetry';
import { runService } from '@microseg/runtime';
import { flowlogConfigSchema } from './config.ts';
import { buildFlowlogApp } from './app.ts';

const config = loadConfigOrExit('flowlog', flowlogConfigSchema);
const logger = createLogger('flowlog', config.LOG_LEVEL);

runService({
  name: 'flowlog',
  logger,
  graceMs: config.SHUTDOWN_GRACE_MS,
  async start() {
    const app = await buildFlowlogApp(config, logger);
    await app.http.listen({ host: config.FLOWLOG_HOST, port: config.FLOWLOG_PORT });
    logger.info({ url: `http://${config.FLOWLOG_HOST}:${config.FLOWLOG_PORT}` }, 'flowlog ready');
    return app;
  },
});
