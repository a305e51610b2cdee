// Builds the policy service without listening. Wiring only: connect, open the stores, write the bootstrap
// objects, serve the NATS subjects (handlers/), mount the API (api/) beside the health routes, close.
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { natsConnection } from '@microseg/config';
import { Bus } from '@microseg/bus';
import { buckets, type ServiceObject } from '@microseg/contracts';
import { createHttpApp, registerHealthRoutes } from '@microseg/runtime';
import type { Logger } from '@microseg/telemetry';
import { policyApi } from './api/index.ts';
import { AuthFailureLimiter } from './api/auth-failures.ts';
import { AssertionKeys } from './assertion-keys/keys.ts';
import { AssertionKeyStore } from './assertion-keys/store.ts';
import { TokenStore } from './api/tokens.ts';
import { readBootstrapFiles, writeBootstrapObjects } from './bootstrap.ts';
import { broadcastRoutingChanges, changeAnnouncer } from './changes.ts';
import { secretsKeysOf, type PolicyConfig } from './config.ts';
import { servePolicy } from './handlers/index.ts';
import { reportNetworkDenials } from './handlers/network-denials.ts';
import { SecretHealthReporter } from './secret-health.ts';
import { SecretBox } from './secrets.ts';
import { serviceStatuses } from './service-status.ts';
import { reportSkippedEntries } from './skipped-entries.ts';
import { ObjectStore } from './store.ts';

export interface PolicyApp {
  http: FastifyInstance;
  bus: Bus;
  store: ObjectStore;
  close(graceMs: number): Promise<void>;
}

export async function buildPolicyApp(config: PolicyConfig, logger: Logger): Promise<PolicyApp> {
  // Read and checked before anything else: a bad file stops the start with its name.
  const bootstrap = await readBootstrapFiles(config.POLICY_BOOTSTRAP_FILES);
  const bus = await Bus.connect({ connection: natsConnection(config), identity: 'policy', name: 'microseg-policy', logger });
  const logError = (fields: Record<string, unknown>, msg: string) => logger.error(fields, msg);
  const say = (msg: string) => logger.warn({}, msg);
  const dataDir = join(config.MICROSEG_DATA_DIR, 'policy');

  const store = await ObjectStore.open(bus.nc, {
    onSkipped: reportSkippedEntries(bus, buckets.objects, 'then write the object again through the API', logError),
  });
  const secrets = await SecretBox.load(secretsKeysOf(config), join(dataDir, 'secrets.key'), say);
  logger.info({ sealingKeyId: secrets.currentKeyId, keyIds: secrets.keyIds }, 'secrets keys loaded');
  const tokens = await TokenStore.open(
    bus.nc,
    config.POLICY_ADMIN_TOKEN,
    join(dataDir, 'admin-token'),
    say,
    reportSkippedEntries(bus, buckets.apiTokens, 'then make the token again (msctl api create apitoken)', logError),
  );
  for (const written of await writeBootstrapObjects(store, secrets, bootstrap)) logger.info(written, 'bootstrap objects loaded');

  // Secrets this replica cannot open: reported once per object, never a reason not to serve the rest.
  const secretHealth = new SecretHealthReporter(secrets, bus, logError);
  secretHealth.scan(store.snapshot.objects);
  // Services change routing when they change at all; a heartbeat does not, and needs no new look.
  store.onChange((snapshot, routingChanged) => routingChanged && secretHealth.scan(snapshot.objects));
  const stopBroadcasting = broadcastRoutingChanges(store, bus);

  // The keys of the identity assertions: kept in shape by every replica, sent to gateways with their routes.
  const assertionKeyStore = await AssertionKeyStore.open(
    bus.nc,
    reportSkippedEntries(bus, buckets.assertionKeys, 'the ring is made again at the next maintenance (msctl assertion-keys list)', logError),
  );
  const assertionKeys = new AssertionKeys({
    store: assertionKeyStore,
    secrets,
    settings: {
      issuer: config.POLICY_ASSERTION_ISSUER,
      ttlSeconds: config.POLICY_ASSERTION_TTL_SECONDS,
      prepublishSeconds: config.POLICY_ASSERTION_KEY_PREPUBLISH_SECONDS,
      rotationDays: config.POLICY_ASSERTION_KEY_ROTATION_DAYS,
    },
    onUnreadable: (kid, err) => logger.error({ kid, err: err.message }, 'an assertion key cannot be opened by this replica: gateways cannot sign with it'),
  });
  await assertionKeys.maintain();
  assertionKeys.start((err) => logger.warn({ err: String(err) }, 'assertion key maintenance failed; tried again in a minute'));
  // A changed ring (seen by this replica's watch) is announced like an object change: gateways sync again.
  const announce = changeAnnouncer(bus);
  assertionKeyStore.onChange(() => void announce(store.snapshot.revision).catch(() => undefined));

  servePolicy(bus, { store, tokens, secrets, secretHealth, assertionKeys });
  reportNetworkDenials(bus, logger);

  const http = createHttpApp(logger);
  registerHealthRoutes(http, () => ({ nats: bus.isConnected, objects: store.ready }));
  const unreadableFields = (service: ServiceObject) => secretHealth.check(service).map((u) => u.field);
  await http.register(policyApi, {
    store,
    tokens,
    secrets,
    bus,
    announce,
    assertionKeys,
    authFailures: new AuthFailureLimiter({ burst: config.POLICY_AUTH_FAILURE_BURST, perMinute: config.POLICY_AUTH_FAILURES_PER_MINUTE }),
    serviceStatus: (service) => serviceStatuses(store.snapshot, unreadableFields).get(service.ID),
  });

  return {
    http,
    bus,
    store,
    async close(graceMs) {
      stopBroadcasting();
      assertionKeys.stop();
      await http.close();
      await bus.close(graceMs);
    },
  };
}
