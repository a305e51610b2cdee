// Builds flowlog without listening. Wiring only: Redis and NATS, the durable consumer that stores flows and
// events, the live hub, the JSON API under /api/v1 (api.ts), the console pages, close.
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { natsConnection, redisConnection } from '@microseg/config';
import { Bus } from '@microseg/bus';
import { createHttpApp, registerHealthRoutes } from '@microseg/runtime';
import type { Logger } from '@microseg/telemetry';
import type { FlowlogConfig } from './config.ts';
import { FlowlogStore } from './store.ts';
import { EventConsumer } from './consumer.ts';
import { askPolicy, TokenVerifier } from './auth.ts';
import { AssertionKeySource, askKeys } from './assertion-keys.ts';
import { AssertionVerifier } from './assertion.ts';
import { askRoles, ConsoleRoles } from './console-roles.ts';
import { LiveHub } from './live.ts';
import { flowlogApi } from './api.ts';
import { askInventory } from './inventory.ts';
import { registerPages } from './web.ts';

export interface FlowlogApp {
  http: FastifyInstance;
  consumer: EventConsumer;
  live: LiveHub;
  close(graceMs: number): Promise<void>;
}

export async function buildFlowlogApp(config: FlowlogConfig, logger: Logger): Promise<FlowlogApp> {
  const redis = new Redis({ maxRetriesPerRequest: 2, ...redisConnection(config) });
  redis.on('error', (err) => logger.warn({ err: err.message }, 'redis error'));
  const bus = await Bus.connect({ connection: natsConnection(config), identity: 'flowlog', name: 'microseg-flowlog', logger });
  const store = new FlowlogStore(redis, config.FLOWLOG_RETENTION_HOURS);
  const consumer = new EventConsumer(bus, store, logger);
  await consumer.start();
  const live = new LiveHub(logger);
  live.start(bus);
  const trimmer = setInterval(() => void store.trim().catch(() => undefined), 60_000);
  trimmer.unref();

  const http = createHttpApp(logger);
  registerHealthRoutes(http, () => ({ nats: bus.isConnected, redis: redis.status === 'ready' }));
  const audience = config.FLOWLOG_CONSOLE_AUDIENCE;
  await http.register(flowlogApi, {
    prefix: '/api/v1',
    store,
    live,
    verifier: new TokenVerifier(askPolicy(bus, config.BUS_TIMEOUT_MS), config.FLOWLOG_TOKEN_CACHE_MS),
    // The console behind the gateway: its identity assertions sign users in (authenticate.ts).
    ...(audience
      ? {
          sso: {
            assertions: new AssertionVerifier(new AssertionKeySource(askKeys(bus, config.BUS_TIMEOUT_MS)), audience),
            roles: new ConsoleRoles(askRoles(bus, config.BUS_TIMEOUT_MS), config.FLOWLOG_TOKEN_CACHE_MS),
          },
        }
      : {}),
    inventory: askInventory(bus, config.BUS_TIMEOUT_MS),
    recheckMs: Math.max(1_000, config.FLOWLOG_TOKEN_CACHE_MS),
    heartbeatMs: config.FLOWLOG_STREAM_HEARTBEAT_MS,
  });
  await registerPages(http);

  return {
    http,
    consumer,
    live,
    async close(graceMs) {
      clearInterval(trimmer);
      live.stop();
      await http.close();
      await consumer.stop();
      await bus.close(graceMs);
      redis.disconnect();
    },
  };
}
