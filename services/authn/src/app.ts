// Builds the authn service without listening. Wiring only: Redis and NATS, the stores, the handlers of every
// subject authn serves (handlers.ts), health and stats over HTTP, close.
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { natsConnection, redisConnection } from '@microseg/config';
import { Bus } from '@microseg/bus';
import { subjects } from '@microseg/contracts';
import { createHttpApp, registerHealthRoutes } from '@microseg/runtime';
import type { Logger } from '@microseg/telemetry';
import { PolicyChangedSchema } from '@microseg/proto/policy';
import type { AuthnConfig } from './config.ts';
import { BearerRevocations } from './bearer-revocation.ts';
import { AuthnEvents } from './events.ts';
import { onceRedisReady, serveAuthn } from './handlers.ts';
import { CLOCK_TOLERANCE_SECONDS } from './id-token.ts';
import { LoginStartLimiter } from './login-limit.ts';
import { LoginStateStore } from './login-state.ts';
import type { LoginDeps } from './login.ts';
import { OidcClients } from './oidc-clients.ts';
import type { SessionDeps } from './session-handlers.ts';
import { SessionStore } from './sessions.ts';

export interface AuthnApp {
  http: FastifyInstance;
  /** Refreshes this replica made (and failed), for tests and metrics. */
  counters: { refreshes: number; failures: number; lookups: number };
  bus: Bus;
  redis: Redis;
  close(graceMs: number): Promise<void>;
}

export async function buildAuthnApp(config: AuthnConfig, logger: Logger): Promise<AuthnApp> {
  // Commands fail fast while Redis is away (the gateway answers 503); the client reconnects by itself,
  // also when Redis is not there at start (readyz says so meanwhile).
  const redis = new Redis({
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    connectTimeout: 2_000,
    retryStrategy: (n: number) => Math.min(n * 200, 2_000),
    ...redisConnection(config),
  });
  redis.on('error', (err) => logger.warn({ err: err.message }, 'redis error'));
  const bus = await Bus.connect({ connection: natsConnection(config), identity: 'authn', name: 'microseg-authn', logger, manageEventStream: false });

  const clients = new OidcClients(bus, {
    busTimeoutMs: config.BUS_TIMEOUT_MS,
    idpTimeoutMs: config.AUTHN_IDP_TIMEOUT_MS,
    network: { allowedNetworks: config.AUTHN_IDP_ALLOWED_NETWORKS, endpointHosts: config.AUTHN_IDP_ENDPOINT_HOSTS },
  });
  bus.onBroadcast(subjects.policyChanged, PolicyChangedSchema, () => clients.invalidate());

  const sessions = new SessionStore(redis);
  // Sessions from before the by-name index (revocation by user) join it once, when Redis is first reached.
  onceRedisReady(
    redis,
    () =>
      void sessions.completeNameIndex().then(
        (indexed) => indexed !== undefined && logger.info({ indexed }, 'sessions added to the by-name index'),
        (err: Error) => logger.warn({ err: err.message }, 'the by-name session index could not be completed; it is tried again at the next start'),
      ),
  );
  const counters = { refreshes: 0, failures: 0, lookups: 0 };
  const events = new AuthnEvents(bus);
  const login: LoginDeps = {
    clients,
    states: new LoginStateStore(redis, config.AUTHN_LOGIN_TTL_SECONDS),
    starts: new LoginStartLimiter(redis, { limit: config.AUTHN_LOGIN_STARTS_PER_ADDRESS, windowSeconds: config.AUTHN_LOGIN_TTL_SECONDS }),
    sessions,
    events,
    config,
  };
  // A revocation is remembered as long as the longest bearer token it covers may live.
  const revocations = new BearerRevocations(redis, config.AUTHN_BEARER_MAX_LIFETIME_SECONDS + CLOCK_TOLERANCE_SECONDS);
  const sessionDeps: SessionDeps = { bus, redis, sessions, clients, revocations, events, lookupCacheMs: config.AUTHN_LOOKUP_CACHE_MS, counters };
  const cancelServing = onceRedisReady(redis, () =>
    serveAuthn(bus, { login, sessions: sessionDeps, bearer: { clients, revocations, maxLifetimeSeconds: config.AUTHN_BEARER_MAX_LIFETIME_SECONDS } }),
  );

  const http = createHttpApp(logger);
  registerHealthRoutes(http, () => ({ nats: bus.isConnected, redis: redis.status === 'ready' }));

  http.get('/stats', async () => ({ lookups: counters.lookups, refreshes: counters.refreshes, refreshFailures: counters.failures }));

  return {
    http,
    counters,
    bus,
    redis,
    async close(graceMs) {
      cancelServing();
      await http.close();
      await bus.close(graceMs);
      redis.disconnect();
    },
  };
}
