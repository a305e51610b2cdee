// Builds the authn service without listening: NATS handlers, Redis, health.
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { Bus } from '@microseg/bus';
import { queues, subjects } from '@microseg/contracts';
import { createHttpApp, registerHealthRoutes } from '@microseg/runtime';
import type { Logger } from '@microseg/telemetry';
import {
  LoginCallbackRequestSchema,
  LoginCallbackResponseSchema,
  LoginStartRequestSchema,
  LoginStartResponseSchema,
  SessionLookupRequestSchema,
  SessionLookupResponseSchema,
} from '@microseg/proto/authn';
import { PolicyChangedSchema } from '@microseg/proto/policy';
import type { AuthnConfig } from './config.ts';
import { OidcClients } from './oidc-clients.ts';
import { LoginStateStore } from './login-state.ts';
import { SessionStore } from './sessions.ts';
import { AuthnEvents } from './events.ts';
import { completeLogin, startLogin, type LoginDeps } from './login.ts';

export interface AuthnApp {
  http: FastifyInstance;
  bus: Bus;
  redis: Redis;
  close(graceMs: number): Promise<void>;
}

export async function buildAuthnApp(config: AuthnConfig, logger: Logger): Promise<AuthnApp> {
  const redis = new Redis(config.REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 2_000 });
  redis.on('error', (err) => logger.warn({ err: err.message }, 'redis error'));
  await redis.connect();
  const bus = await Bus.connect({ url: config.NATS_URL, name: 'microseg-authn', logger });

  const clients = new OidcClients(bus, { busTimeoutMs: config.BUS_TIMEOUT_MS, idpTimeoutMs: config.AUTHN_IDP_TIMEOUT_MS });
  bus.onBroadcast(subjects.policyChanged, PolicyChangedSchema, () => clients.invalidate());

  const sessions = new SessionStore(redis);
  const deps: LoginDeps = {
    clients,
    states: new LoginStateStore(redis, config.AUTHN_LOGIN_TTL_SECONDS),
    sessions,
    events: new AuthnEvents(bus),
    config,
  };

  bus.serve(subjects.authnLoginStart, queues.authn, LoginStartRequestSchema, LoginStartResponseSchema, (req) => startLogin(deps, req));
  bus.serve(subjects.authnLoginCallback, queues.authn, LoginCallbackRequestSchema, LoginCallbackResponseSchema, (req) => completeLogin(deps, req));
  bus.serve(subjects.authnSessionLookup, queues.authn, SessionLookupRequestSchema, SessionLookupResponseSchema, async (req) => {
    const session = await sessions.lookup(req.ticket);
    // A session is valid only for the service that created it.
    if (!session || session.serviceId !== req.serviceId) return { found: false };
    return { found: true, tags: session.tags, subject: session.subject, expiresAtMs: BigInt(session.expiresAtMs) };
  });

  const http = createHttpApp(logger);
  registerHealthRoutes(http, () => ({ nats: bus.isConnected, redis: redis.status === 'ready' }));

  return {
    http,
    bus,
    redis,
    async close(graceMs) {
      await http.close();
      await bus.close(graceMs);
      redis.disconnect();
    },
  };
}
