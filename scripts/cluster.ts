// `npm start`: the whole cluster on this machine with the demo IdP and app.
import { startCluster, defaultPorts, type ClusterPorts } from '@microseg/local-cluster';
import { configPath, readConfig, writeConfig } from '@microseg/cli/config';

const env = process.env;
const port = (name: string, fallback: number) => (env[name] ? Number(env[name]) : fallback);
const ports: ClusterPorts = {
  gateway: port('GATEWAY_PORT', defaultPorts.gateway),
  walkthrough: port('WALKTHROUGH_PORT', defaultPorts.walkthrough),
  console: port('CONSOLE_PORT', defaultPorts.console),
  idp: port('DEMO_IDP_PORT', defaultPorts.idp),
  app: port('DEMO_APP_PORT', defaultPorts.app),
  policy: port('POLICY_PORT', defaultPorts.policy),
  authn: port('AUTHN_PORT', defaultPorts.authn),
  flowlog: port('FLOWLOG_PORT', defaultPorts.flowlog),
  gatewayAdmin: port('GATEWAY_ADMIN_PORT', defaultPorts.gatewayAdmin),
  nats: port('MICROSEG_NATS_PORT', defaultPorts.nats),
  redis: port('MICROSEG_REDIS_PORT', defaultPorts.redis),
};

try {
  const cluster = await startCluster({
    dataDir: env.MICROSEG_DATA_DIR ?? '.data',
    ports,
    natsUrl: env.NATS_URL,
    redisUrl: env.REDIS_URL,
    logLevel: env.LOG_LEVEL,
  });
  // msctl finds this cluster without flags, as kubectl finds its kubeconfig; another cluster's settings are left alone.
  const msctlConfig = configPath(env);
  const existing = await readConfig(msctlConfig).catch(() => undefined);
  const msctlNote =
    !existing || existing.api === cluster.policyUrl
      ? (await writeConfig(msctlConfig, { ...existing, api: cluster.policyUrl, flowlog: cluster.flowlogUrl, token: cluster.adminToken }),
        `written to ${msctlConfig}`)
      : `${msctlConfig} points at ${existing.api}; left unchanged (token: ${env.MICROSEG_DATA_DIR ?? '.data'}/policy/admin-token)`;
  console.log(`
microseg is running.

  Open            ${cluster.gatewayUrl}/   (self-signed certificate: accept it once)
  Sign in as      alice@example.com / alice   (allowed)
              or  bob@example.com / bob       (refused with a 403 page)
  Public page     ${cluster.gatewayUrl}/public/hello

  Demo IdP        ${cluster.idpUrl}
  Demo app        ${cluster.appUrl}   (direct, unprotected)
  Policy API      ${cluster.policyUrl}
  Console         ${cluster.consoleUrl}/   (through the gateway: sign in as alice, who may read /acme; bob has no access)
                  ${cluster.flowlogUrl}/   (flowlog's own port: sign in with an API token, e.g. the admin token)
  NATS, Redis     ${cluster.natsUrl}   ${cluster.redisUrl}   (TLS; one identity per service)
  Credentials     ${cluster.credentials.dir}/   (generated at first start; keep them secret)
  Logs            ${cluster.logDir}/
  msctl           npx msctl api list services -n /acme/team-b/dev/private-app
                  (settings ${msctlNote})

Press Ctrl+C to stop.`);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    console.log('\nstopping…');
    await cluster.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
} catch (err) {
  console.error(`microseg could not start: ${(err as Error).message}`);
  process.exit(1);
}
