// Builds the authn service without listening: NATS handlers, Redis, health.
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { natsConnection, redisConnection } from '@microseg/config';
import { Bus } from '@microseg/bus';
import { queues, requests, subjects } from '@microseg/contracts';
import { createHttpApp, registerHealthRoutes } from '@microseg/runtime';
import type { Logger } from '@microseg/telemetry';
import {
  LoginCallbackRequestSchema,
  LoginCallbackResponseSchema,
  LoginStartRequestSchema,
  LoginStartResponseSchema,
  SessionLookupRequestSchema,
  SessionLookupResponseSchema,
  LogoutRequestSchema,
  LogoutResponseSchema,
  BackchannelLogoutRequestSchema,
  BackchannelLogoutResponseSchema,
  SessionListRequestSchema,
  SessionListResponseSchema,
  SessionRevokeRequestSchema,
  SessionRevokeResponseSchema,
  BearerVerifyRequestSchema,
  BearerVerifyResponseSchema,
} from '@microseg/proto/authn';
import { PolicyChangedSchema } from '@microseg/proto/policy';
import type { AuthnConfig } from './config.ts';
import { OidcClients } from './oidc-clients.ts';
import { LoginStateStore } from './login-state.ts';
import { LoginStartLimiter } from './login-limit.ts';
import { SessionStore } from './sessions.ts';
import { AuthnEvents } from './events.ts';
import { completeLogin, startLogin, type LoginDeps } from './login.ts';
import { backchannelLogout, listSessions, logout, lookupSession, revokeSessions, type SessionDeps } from './session-handlers.ts';
import { verifyBearer } from './bearer.ts';
import { BearerRevocations } from './bearer-revocation.ts';
import { CLOCK_TOLERANCE_SECONDS } from './id-token.ts';

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
  const redis = new Redis({ maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 2_000, retryStrategy: (n: number) => Math.min(n * 200, 2_000), ...redisConnection(config) });
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
  const completeNameIndex = () =>
    sessions.completeNameIndex().then(
      (indexed) => indexed !== undefined && logger.info({ indexed }, 'sessions added to the by-name index'),
      (err: Error) => logger.warn({ err: err.message }, 'the by-name session index could not be completed; it is tried again at the next start'),
    );
  if (redis.status === 'ready') void completeNameIndex();
  else redis.once('ready', () => void completeNameIndex());
  const counters = { refreshes: 0, failures: 0, lookups: 0 };
  const deps: LoginDeps = {
    clients,
    states: new LoginStateStore(redis, config.AUTHN_LOGIN_TTL_SECONDS),
    starts: new LoginStartLimiter(redis, { limit: config.AUTHN_LOGIN_STARTS_PER_ADDRESS, windowSeconds: config.AUTHN_LOGIN_TTL_SECONDS }),
    sessions,
    events: new AuthnEvents(bus),
    config,
  };

  // A revocation is remembered as long as the longest bearer token it covers may live.
  const revocations = new BearerRevocations(redis, config.AUTHN_BEARER_MAX_LIFETIME_SECONDS + CLOCK_TOLERANCE_SECONDS);
  const bearerDeps = { clients, revocations, maxLifetimeSeconds: config.AUTHN_BEARER_MAX_LIFETIME_SECONDS };
  const sessionDeps: SessionDeps = { bus, redis, sessions, clients, revocations, events: deps.events, lookupCacheMs: config.AUTHN_LOOKUP_CACHE_MS, counters };
  // What needs Redis is served once Redis was first reached: a replica that starts while its Redis connection
  // is still being made must not take requests from the queue group that the other replicas would answer.
  // (Once serving, a Redis outage is answered with an error: the gateway fails closed with a 503.)
  const serveRedisWork = () => {
    bus.serve(requests.authnLoginStart, (req) => startLogin(deps, req));
    bus.serve(requests.authnLoginCallback, (req) => completeLogin(deps, req));
    bus.serve(requests.authnSessionLookup, (req) => lookupSession(sessionDeps, req));
    bus.serve(requests.authnLogout, (req) => logout(sessionDeps, req));
    bus.serve(requests.authnBackchannelLogout, (req) => backchannelLogout(sessionDeps, req));
    bus.serve(requests.authnSessionList, (req) => listSessions(sessionDeps, req));
    bus.serve(requests.authnSessionRevoke, (req) => revokeSessions(sessionDeps, req));
    // Bearer tokens too: a revoked user's tokens are found in Redis.
    bus.serve(requests.authnBearerVerify, (req) => verifyBearer(bearerDeps, req));
  };
  if (redis.status === 'ready') serveRedisWork();
  else redis.once('ready', serveRedisWork);

  const http = createHttpApp(logger);
  registerHealthRoutes(http, () => ({ nats: bus.isConnected, redis: redis.status === 'ready' }));

  http.get('/stats', async () => ({ lookups: counters.lookups, refreshes: counters.refreshes, refreshFailures: counters.failures }));

  return {
    http,
    counters,
    bus,
    redis,
    async close(graceMs) {
      redis.off('ready', serveRedisWork);
      await http.close();
      await bus.close(graceMs);
      redis.disconnect();
    },
  };
}
