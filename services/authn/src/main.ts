import { loadConfigOrExit } from '@microseg/config';
import { createLogger } from '@microseg/telemetry';
import { runService } from '@microseg/runtime';
import { authnConfigSchema } from './config.ts';
import { buildAuthnApp } from './app.ts';

const config = loadConfigOrExit('authn', authnConfigSchema);
const logger = createLogger('authn', config.LOG_LEVEL);

runService({
  name: 'authn',
  logger,
  graceMs: config.SHUTDOWN_GRACE_MS,
  async start() {
    const app = await buildAuthnApp(config, logger);
    await app.http.listen({ host: config.AUTHN_HOST, port: config.AUTHN_PORT });
    logger.info({ url: `http://${config.AUTHN_HOST}:${config.AUTHN_PORT}` }, 'authn ready');
    return app;
  },
});
