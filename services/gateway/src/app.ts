// Builds the gateway without listening on exposed ports until start().
import type { FastifyInstance } from 'fastify';
import { natsConnection } from '@microseg/config';
import { Bus } from '@microseg/bus';
import { subjects } from '@microseg/contracts';
import { createHttpApp, registerHealthRoutes } from '@microseg/runtime';
import { metrics, type Logger } from '@microseg/telemetry';
import { PolicyChangedSchema } from '@microseg/proto/policy';
import type { GatewayConfig } from './config.ts';
import { loadGatewayFile, routeAllowed, type GatewayFile } from './processing-units.ts';
import { RoutingState } from './state.ts';
import { CertificateStore } from './tls.ts';
import { Listeners } from './listeners.ts';
import { FlowRecorder } from './flows.ts';
import { Forwarder } from './forward.ts';
import { createRequestHandler, createUpgradeHandler, upgradeStages, type PipelineDeps } from './pipeline/index.ts';
import { ClientAddresses } from './client-address.ts';
import { ProxyProtocol } from './proxy-protocol.ts';
import { busAuthnClient } from './clients/authn.ts';
import { busPolicyClient } from './clients/policy.ts';
import { Unavailable } from './clients/unavailable.ts';
import { DecisionCache } from './decision-cache.ts';
import { Assertions, AssertionKeySet } from './assertion/index.ts';
import { BEARER_ANSWERS, SessionCache } from './session-cache.ts';
import { SessionInvalidatedSchema } from '@microseg/proto/authn';
import { ProblemLog, problemEvent, servingProblems, type ServingProblem } from './problems.ts';
import { ForwardAuthListener } from './forward-auth/listener.ts';
import { decisionCheck } from './websocket/decision-check.ts';
import { SocketRegistry } from './websocket/sockets.ts';

export interface GatewayApp {
  admin: FastifyInstance;
  bus: Bus;
  /** Registers with policy (retrying until it answers) and opens the exposed ports. */
  start(): Promise<void>;
  /** Resolves after the next successful sync. */
  sync(): Promise<void>;
  state(): RoutingState;
  /** The services this gateway cannot serve right now, as last sent to policy. */
  problems(): ServingProblem[];
  close(graceMs: number): Promise<void>;
}

/** One of several processes serving the same ports (GATEWAY_WORKERS, workers/). */
export interface GatewayWorker {
  /** 1…GATEWAY_WORKERS; kept by the process that replaces a dead worker. */
  slot: number;
  /** Registers the units and reports what cannot be served (one worker per gateway); the others ask for routes only. */
  registers: boolean;
}

export async function buildGatewayApp(config: GatewayConfig, logger: Logger, worker?: GatewayWorker): Promise<GatewayApp> {
  const registers = worker?.registers ?? true;
  const gatewayFile: GatewayFile = await loadGatewayFile(config.GATEWAY_PROCESSING_UNITS, config.GATEWAY_ADMIN_PORT);
  const processingUnits = gatewayFile.processingunits;
  const bus = await Bus.connect({
    connection: natsConnection(config),
    identity: 'gateway',
    name: `microseg-gateway-${config.GATEWAY_ID}${worker ? `-worker-${worker.slot}` : ''}`,
    logger,
    manageEventStream: false,
  });
  let state = new RoutingState([], 0n);
  let synced = false;
  let closed = false;

  const certs = new CertificateStore(config.MICROSEG_DATA_DIR);
  const forwarder = new Forwarder({ headersTimeoutMs: config.UPSTREAM_TIMEOUT_MS });
  const decisions = new DecisionCache({ capacity: 10_000, graceMs: config.GATEWAY_DECISION_GRACE_MS, maxAgeMs: config.GATEWAY_DECISION_CACHE_MS });
  // 50,000 sessions of about 1.6 KB each stay well inside the gateway's bounded heap (--max-old-space-size).
  const sessions = new SessionCache(50_000);
  // Open WebSockets (SPEC §8.6): checked again, and closed, when what allowed them ends.
  const policy = busPolicyClient(bus, config.BUS_TIMEOUT_MS);
  const sockets = new SocketRegistry({
    maxSockets: config.GATEWAY_WEBSOCKETS_MAX,
    maxPerCredential: config.GATEWAY_WEBSOCKETS_PER_SESSION,
    recheckMs: 10_000,
    checkDecision: decisionCheck({ policy, decisions }),
    onClose: (reason) => metrics.gatewayWebSocketsClosed().inc({ reason }),
  });
  bus.onBroadcast(subjects.sessionInvalidated, SessionInvalidatedSchema, (m) => {
    const id = m.bearerAnswers ? BEARER_ANSWERS : m.sessionId;
    sessions.invalidate(id);
    sockets.sessionInvalidated(id);
  });
  const sweeper = setInterval(() => sessions.sweep(), 30_000);
  sweeper.unref();
  const flows = new FlowRecorder(bus, { windowMs: config.GATEWAY_FLOW_WINDOW_MS, maxPending: 10_000 });
  const proxyProtocol = new ProxyProtocol(
    { sources: config.GATEWAY_PROXY_PROTOCOL_SOURCES, ports: config.GATEWAY_PROXY_PROTOCOL_PORTS, timeoutMs: config.GATEWAY_PROXY_PROTOCOL_TIMEOUT_MS },
    (peer, reason) => logger.debug({ peer, reason }, 'PROXY protocol header refused; connection closed'),
  );
  // The identity assertions' keys come with the routes (the sync reply, on this gateway's own inbox).
  const assertions = new Assertions(new AssertionKeySet((message) => logger.error({}, message)));
  const deps: PipelineDeps = {
    state: () => state,
    authn: busAuthnClient(bus, config.BUS_TIMEOUT_MS),
    policy,
    flows,
    forwarder,
    decisions,
    sessions,
    assertions,
    logger,
    addresses: new ClientAddresses(config.GATEWAY_TRUSTED_PROXIES, (socket) => proxyProtocol.peers.peerOf(socket)),
  };
  // Forward-auth (docs/forward-auth.md): its own port, for ingresses only; the same stages, minus forwarding.
  const forwardAuth = config.GATEWAY_FORWARD_AUTH_PORT
    ? new ForwardAuthListener(
        { ...deps, state: () => state },
        {
          host: config.GATEWAY_FORWARD_AUTH_HOST,
          port: config.GATEWAY_FORWARD_AUTH_PORT,
          trustedProxies: config.GATEWAY_FORWARD_AUTH_TRUSTED_PROXIES,
          certs,
          logger,
        },
      )
    : undefined;
  const websocketStages = upgradeStages({ sockets, upstreamTimeoutMs: config.UPSTREAM_TIMEOUT_MS });
  const listeners = new Listeners({
    host: config.GATEWAY_LISTEN_HOST,
    reservedPorts: [config.GATEWAY_ADMIN_PORT],
    certs,
    logger,
    handlerFor: (port) => createRequestHandler(deps, port),
    proxyProtocol,
    upgradeHandlerFor: (port) => createUpgradeHandler(deps, port, websocketStages),
  });
  // Each problem said once, as an event in the service's namespace; its end too, while the service exists.
  const problems = new ProblemLog({
    raised: (problem) => {
      logger.error({ service: problem.serviceName, namespace: problem.namespace, kind: problem.kind, port: problem.port }, problem.message);
      if (!registers) return;
      const { kind, input } = problemEvent(problem, 'raised', config.GATEWAY_ID);
      bus.emitEvent(kind, input);
    },
    resolved: (problem) => {
      if (!registers || !state.routes.some((r) => r.id === problem.serviceId)) return;
      const { kind, input } = problemEvent(problem, 'resolved', config.GATEWAY_ID);
      bus.emitEvent(kind, input);
    },
  });

  /** One sync; true when the services this gateway cannot serve changed (policy is told at the next sync). */
  async function syncOnce(): Promise<boolean> {
    const reply = await policy.sync({
      gatewayId: config.GATEWAY_ID,
      routesOnly: !registers,
      exposedPorts: gatewayFile.exposedPorts,
      processingUnits: processingUnits.map((pu) => ({
        name: pu.name,
        namespace: pu.namespace,
        tags: pu.associatedTags,
        address: pu.address,
        applicationPorts: pu.applicationPorts,
      })),
      problems: registers ? problems.list.map((p) => ({ serviceId: p.serviceId, kind: p.kind, message: p.message, port: p.port })) : [],
    });
    decisions.observeRevision(reply.revision);
    // Policy sends only what the file allows; a route that says otherwise is not served, and reported.
    const outsideFile: ServingProblem[] = [];
    const allowed = reply.services.filter((route) => {
      const problem = routeAllowed(gatewayFile, route);
      if (problem)
        outsideFile.push({
          serviceId: route.id,
          serviceName: route.name,
          namespace: route.namespace,
          kind: 'port',
          port: route.exposedPort,
          message: `Service ${route.name} is not served: ${problem}.`,
        });
      return !problem;
    });
    assertions.keys.update(reply.assertion);
    const next = new RoutingState(allowed, reply.revision);
    // A service that cannot be served (its port, its certificate) is reported; every other one is served.
    const certificateProblems = certs.update(next);
    const portFailures = await listeners.reconcile(next.ports);
    state = next;
    sockets.retainRoutes(new Set(next.routes.map((r) => r.id)));
    if (!synced) logger.info({ services: next.routes.map((r) => `${r.name} on ${r.exposedPort}`) }, 'routes loaded');
    synced = true;
    // Only the registering worker tells policy of its problems (another sync).
    return problems.replace([...outsideFile, ...servingProblems(next, portFailures, certificateProblems)]) && registers;
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
          if (await syncOnce()) again = true;
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
        logger.warn({ err: err instanceof Unavailable ? err.message : String(err) }, 'policy sync failed; retrying');
        await new Promise((r) => (retry = setTimeout(r, delay)));
      }
    }
  }

  bus.onBroadcast(subjects.policyChanged, PolicyChangedSchema, (changed) => {
    decisions.clear();
    decisions.observeRevision(changed.revision);
    sockets.policyChanged(changed.revision);
    return syncUntilDone();
  });

  // Away from NATS, the gateway may have missed broadcasts (policy changes, ended sessions): forget what they
  // would have changed, and ask for the routes again.
  bus.onReconnect(() => {
    logger.info({}, 'back on NATS: caches cleared, routes asked again');
    sessions.clear();
    decisions.clear();
    sockets.recheckAll();
    void syncUntilDone();
  });

  const admin = createHttpApp(logger);
  registerHealthRoutes(admin, () => ({ nats: bus.isConnected, routes: synced }));

  return {
    admin,
    bus,
    state: () => state,
    problems: () => problems.list,
    sync,
    async start() {
      await syncUntilDone();
      await forwardAuth?.listen();
      heartbeat = setInterval(() => void syncUntilDone(), config.GATEWAY_SYNC_INTERVAL_MS);
      heartbeat.unref();
    },
    async close(graceMs) {
      closed = true;
      clearTimeout(retry);
      clearInterval(heartbeat);
      clearInterval(sweeper);
      await admin.close();
      sockets.closeAll('shutdown');
      await listeners.close(graceMs);
      await forwardAuth?.close(graceMs);
      await forwarder.close();
      flows.flush();
      await bus.close(graceMs);
    },
  };
}
