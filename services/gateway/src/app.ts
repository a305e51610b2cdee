// Builds the gateway without listening on exposed ports until start().
import type { FastifyInstance } from 'fastify';
import { Bus, BusRequestError } from '@microseg/bus';
import { subjects } from '@microseg/contracts';
import { fromWire } from '@microseg/errors';
import { createHttpApp, registerHealthRoutes } from '@microseg/runtime';
import type { Logger } from '@microseg/telemetry';
import { GatewaySyncRequestSchema, GatewaySyncResponseSchema, PolicyChangedSchema } from '@microseg/proto/policy';
import type { GatewayConfig } from './config.ts';
import { loadProcessingUnits, type LocalProcessingUnit } from './processing-units.ts';
import { RoutingState } from './state.ts';
import { CertificateStore } from './tls.ts';
import { Listeners } from './listeners.ts';
import { FlowRecorder } from './flows.ts';
import { Forwarder } from './forward.ts';
import { createRequestHandler, type PipelineDeps } from './pipeline/handler.ts';
import { DecisionCache } from './decision-cache.ts';
import { BEARER_ANSWERS, SessionCache } from './session-cache.ts';
import { SessionInvalidatedSchema } from '@microseg/proto/authn';

export interface GatewayApp {
  admin: FastifyInstance;
  bus: Bus;
  /** Registers with policy (retrying until it answers) and opens the exposed ports. */
  start(): Promise<void>;
  /** Resolves after the next successful sync. */
  sync(): Promise<void>;
  state(): RoutingState;
  close(graceMs: number): Promise<void>;
}

export async function buildGatewayApp(config: GatewayConfig, logger: Logger): Promise<GatewayApp> {
  const processingUnits: LocalProcessingUnit[] = await loadProcessingUnits(config.GATEWAY_PROCESSING_UNITS);
  const bus = await Bus.connect({ url: config.NATS_URL, name: `microseg-gateway-${config.GATEWAY_ID}`, logger });
  let state = new RoutingState([], 0n);
  let synced = false;
  let closed = false;

  const certs = new CertificateStore(config.MICROSEG_DATA_DIR);
  const forwarder = new Forwarder({ headersTimeoutMs: config.UPSTREAM_TIMEOUT_MS });
  const decisions = new DecisionCache({ capacity: 10_000, graceMs: config.GATEWAY_DECISION_GRACE_MS, maxAgeMs: config.GATEWAY_DECISION_CACHE_MS });
  // 50,000 sessions of about 1.6 KB each stay well inside the gateway's bounded heap (--max-old-space-size).
  const sessions = new SessionCache(50_000);
  bus.onBroadcast(subjects.sessionInvalidated, SessionInvalidatedSchema, (m) => sessions.invalidate(m.bearerAnswers ? BEARER_ANSWERS : m.sessionId));
  const sweeper = setInterval(() => sessions.sweep(), 30_000);
  sweeper.unref();
  const flows = new FlowRecorder(bus, { windowMs: config.GATEWAY_FLOW_WINDOW_MS, maxPending: 10_000 });
  const deps: PipelineDeps = { state: () => state, bus, flows, forwarder, decisions, sessions, logger, busTimeoutMs: config.BUS_TIMEOUT_MS };
  const listeners = new Listeners({ host: config.GATEWAY_LISTEN_HOST, certs, logger, handlerFor: (port) => createRequestHandler(deps, port) });

  async function syncOnce(): Promise<void> {
    const reply = await bus.request(
      subjects.policyGatewaySync,
      GatewaySyncRequestSchema,
      GatewaySyncResponseSchema,
      { gatewayId: config.GATEWAY_ID, processingUnits: processingUnits.map((pu) => ({ name: pu.name, namespace: pu.namespace, tags: pu.associatedTags, address: pu.address })) },
      config.BUS_TIMEOUT_MS * 3,
    );
    if (reply.error) throw fromWire(reply.error);
    const next = new RoutingState(reply.services, reply.revision);
    certs.update(next);
    await listeners.reconcile(next.ports);
    state = next;
    if (!synced) logger.info({ services: next.routes.map((r) => `${r.name} on ${r.exposedPort}`) }, 'routes loaded');
    synced = true;
  }

  // One sync at a time; a request for another while one runs is coalesced.
  let running: Promise<void> | undefined;
  let again = false;
  function sync(): Promise<void> {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      try {
        do {
          again = false;
          await syncOnce();
        } while (again);
      } finally {
        running = undefined;
      }
    })();
    return running;
  }

  let retry: NodeJS.Timeout | undefined;
  let heartbeat: NodeJS.Timeout | undefined;
  async function syncUntilDone(): Promise<void> {
    for (let delay = 250; !closed; delay = Math.min(delay * 2, 5_000)) {
      try {
        await sync();
        return;
      } catch (err) {
        logger.warn({ err: err instanceof BusRequestError ? err.message : String(err) }, 'policy sync failed; retrying');
        await new Promise((r) => (retry = setTimeout(r, delay)));
      }
    }
  }

  bus.onBroadcast(subjects.policyChanged, PolicyChangedSchema, () => {
    decisions.clear();
    return syncUntilDone();
  });

  const admin = createHttpApp(logger);
  registerHealthRoutes(admin, () => ({ nats: bus.isConnected, routes: synced }));

  return {
    admin,
    bus,
    state: () => state,
    sync,
    async start() {
      await syncUntilDone();
      heartbeat = setInterval(() => void syncUntilDone(), config.GATEWAY_SYNC_INTERVAL_MS);
      heartbeat.unref();
    },
    async close(graceMs) {
      closed = true;
      clearTimeout(retry);
      clearInterval(heartbeat);
      clearInterval(sweeper);
      await admin.close();
      await listeners.close(graceMs);
      await forwarder.close();
      flows.flush();
      await bus.close(graceMs);
    },
  };
}
