import { loadConfigOrExit } from '@microseg/config';
import { createLogger } from '@microseg/telemetry';
import { runService } from '@microseg/runtime';
import { policyConfigSchema } from './config.ts';
import { buildPolicyApp } from './app.ts';

const config = loadConfigOrExit('policy', policyConfigSchema);
const logger = createLogger('policy', config.LOG_LEVEL);

runService({
  name: 'policy',
  logger,
  graceMs: config.SHUTDOWN_GRACE_MS,
  async start() {
    const app = await buildPolicyApp(config, logger);
    await app.http.listen({ host: config.POLICY_HOST, port: config.POLICY_PORT });
    logger.info({ url: `http://${config.POLICY_HOST}:${config.POLICY_PORT}` }, 'policy ready');
    return app;
  },
});
