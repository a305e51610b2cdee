// Builds the policy service without listening: bus handlers, bootstrap, HTTP.
import { createHash, randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { natsConnection } from '@microseg/config';
import { Bus } from '@microseg/bus';
import { buckets, queues, requests, subjects, type PolicyObject, type ProcessingUnitObject, type ServiceObject } from '@microseg/contracts';
import { MicrosegError } from '@microseg/errors';
import { createHttpApp, registerHealthRoutes } from '@microseg/runtime';
import { metrics, type Logger } from '@microseg/telemetry';
import { FlowEventSchema, LogEventSchema } from '@microseg/proto/events';
import { checkIncoming, checkOutgoing } from './network/flows.ts';
import {
  Decision,
  DecideRequestSchema,
  DecideResponseSchema,
  FlowCheckRequestSchema,
  FlowCheckResponseSchema,
  GatewaySyncRequestSchema,
  GatewaySyncResponseSchema,
  OidcClientRequestSchema,
  OidcClientResponseSchema,
  PolicyChangedSchema,
} from '@microseg/proto/policy';
import { secretsKeysOf, type PolicyConfig } from './config.ts';
import { ObjectStore } from './store.ts';
import { decide } from './decide.ts';
import { redirectUriOf, routesFor, scopesOf, type PortsRefused, type RouteConflict } from './routes.ts';
import { stableObjectId } from './objects/import-file.ts';
import { SecretBox, openObject, sealObject, writeOnlyFields } from './secrets.ts';
import { readBootstrapFiles } from './bootstrap.ts';
import { SecretHealthReporter } from './secret-health.ts';
import { serviceStatuses } from './service-status.ts';
import { reportSkippedEntries } from './skipped-entries.ts';
import { TokenStore } from './api/tokens.ts';
import { registerApi } from './api/routes.ts';
import { AuthFailureLimiter } from './api/auth-failures.ts';
import { serveTokenVerify } from './token-verify.ts';
import { serveInventory } from './inventory.ts';
import { reportNetworkDenials } from './network-denials.ts';
import { join } from 'node:path';

export interface PolicyApp {
  http: FastifyInstance;
  bus: Bus;
  store: ObjectStore;
  close(graceMs: number): Promise<void>;
}

export async function buildPolicyApp(config: PolicyConfig, logger: Logger): Promise<PolicyApp> {
  const bootstrap = await readBootstrapFiles(config.POLICY_BOOTSTRAP_FILES);
  const bus = await Bus.connect({ connection: natsConnection(config), identity: 'policy', name: 'microseg-policy', logger });
  const logError = (fields: Record<string, unknown>, msg: string) => logger.error(fields, msg);
  const store = await ObjectStore.open(bus.nc, { onSkipped: reportSkippedEntries(bus, buckets.objects, 'then write the object again through the API', logError) });
  const say = (msg: string) => logger.warn({}, msg);
  const secrets = await SecretBox.load(secretsKeysOf(config), join(config.MICROSEG_DATA_DIR, 'policy', 'secrets.key'), say);
  logger.info({ sealingKeyId: secrets.currentKeyId, keyIds: secrets.keyIds }, 'secrets keys loaded');
  const tokens = await TokenStore.open(bus.nc, config.POLICY_ADMIN_TOKEN, join(config.MICROSEG_DATA_DIR, 'policy', 'admin-token'), say, reportSkippedEntries(bus, buckets.apiTokens, 'then make the token again (msctl api create apitoken)', logError));

  for (const { file, objects } of bootstrap) {
    let written = 0;
    // A stored secret that cannot be opened (another key) is overwritten by the one in the file.
    const codec = {
      seal: (o: PolicyObject) => sealObject(secrets, o),
      open: (o: PolicyObject) => openObject(secrets, o),
      needsSealing: (o: PolicyObject) => writeOnlyFields.some((f) => typeof (o as unknown as Record<string, unknown>)[f] === 'string' && secrets.needsReseal((o as unknown as Record<string, string>)[f]!)),
    };
    for (const object of objects) if ((await store.put(object, codec)) !== 'unchanged') written++;
    logger.info({ file, objects: objects.length, written }, 'bootstrap objects loaded');
  }

  // Secrets this replica cannot open: reported once per object, never a reason not to serve the rest.
  const secretHealth = new SecretHealthReporter(secrets, bus, logError);
  secretHealth.scan(store.snapshot.objects);
  // Services change routing when they change at all; a heartbeat does not, and needs no new look.
  store.onChange((snapshot, routingChanged) => routingChanged && secretHealth.scan(snapshot.objects));

  // Gateways resync when routing-relevant objects change (debounced per replica).
  let pending: NodeJS.Timeout | undefined;
  store.onChange((snapshot, routingChanged) => {
    if (!routingChanged) return;
    clearTimeout(pending);
    pending = setTimeout(() => bus.broadcast(subjects.policyChanged, PolicyChangedSchema, { revision: BigInt(snapshot.revision) }), 50);
  });

  bus.serve(requests.policyDecide, (req) => {
    const snapshot = store.snapshot;
    const service = snapshot.services.get(req.serviceId);
    if (!service) throw new MicrosegError('POLICY_SERVICE_UNKNOWN');
    // The revision the decision was made from: gateways keep no decision older than a change they know of.
    const revision = BigInt(snapshot.revision);
    if (req.clientIp) {
      const incoming = checkIncoming(snapshot, service, req.clientIp);
      if (incoming.action === 'Reject') {
        return { decision: Decision.DENY, reason: 'network-policy', policyId: incoming.policy?.ID ?? '', policyName: incoming.policy?.name ?? '', namespace: service.namespace, endpoint: incoming.reason, byDefault: incoming.byDefault, revision };
      }
    }
    const verdict = decide(snapshot, service, { method: req.method, path: req.path, authenticated: req.authenticated, tags: req.tags });
    metrics.policyDecisions().inc({ decision: Decision[verdict.decision] ?? String(verdict.decision), reason: verdict.reason });
    return { ...verdict, revision };
  });

  // A service that cannot be served as its editors asked: one Error event in its namespace, once per reason and process.
  const reported = new Set<string>();
  const reportNotServed = (service: ServiceObject, reason: string, kind: 'serviceNotServedPortAndHostTaken' | 'serviceNotServedPortNotAllowed', content: string) => {
    if (reported.has(reason)) return;
    reported.add(reason);
    bus.emitEvent(kind, { content, targetIdentity: 'service', targetId: service.ID, namespace: service.namespace }, { msgId: `not-served-${createHash('sha256').update(reason).digest('hex').slice(0, 32)}` });
  };
  const reportConflict: RouteConflict = (kept, dropped, port, host) => {
    // The other service is named only to its own namespace's readers.
    const other = kept.namespace === dropped.namespace ? ` (${kept.name})` : '';
    reportNotServed(dropped, `conflict ${kept.ID} ${dropped.ID}`, 'serviceNotServedPortAndHostTaken', `Service ${dropped.name} is not served: an older service${other} already serves exposedPort ${port} with host ${host}. Choose another host or port.`);
  };
  const reportPorts: PortsRefused = (service, pu, problem) =>
    reportNotServed(service, `ports ${service.ID} ${pu.ID} ${problem.message}`, 'serviceNotServedPortNotAllowed', `Service ${service.name} is not served: ${problem.attribute} ${problem.message}.`);

  bus.serve(requests.policyGatewaySync, async (req) => {
    const now = new Date().toISOString();
    const registered: ProcessingUnitObject[] = [];
    for (const pu of req.processingUnits) {
      const object: ProcessingUnitObject = {
        kind: 'processingunit',
        ID: stableObjectId('processingunit', pu.namespace, pu.name),
        name: pu.name,
        namespace: pu.namespace,
        associatedTags: [...pu.tags],
        propagate: false,
        address: pu.address,
        status: 'Running',
        lastSeen: now,
        gatewayID: req.gatewayId,
        applicationPorts: [...pu.applicationPorts],
        exposedPorts: [...req.exposedPorts],
        // What the gateway could not do with the services it was given: shown as their status (service-status.ts).
        ...(req.problems.length > 0 ? { serviceProblems: req.problems.slice(0, 1000).map((p) => ({ serviceID: p.serviceId, message: p.message.slice(0, 1024) })) } : {}),
      };
      registered.push(object);
      const outcome = await store.put(object);
      if (outcome === 'created' || outcome === 'updated') {
        bus.emitEvent('processingUnitRegistered', { content: `Processing unit ${pu.name} at ${pu.address} was registered by gateway ${req.gatewayId}.`, targetIdentity: 'processingunit', targetId: object.ID, namespace: pu.namespace }, { msgId: `pu-registered-${object.ID}-${pu.address}` });
      }
    }
    // A service whose TLS key cannot be opened is left out (and reported), not the whole answer.
    const services = routesFor(store.snapshot, registered, reportConflict, reportPorts).flatMap((r) => {
      if (!r.tlsCertificateKey) return [r];
      const service = store.snapshot.services.get(r.id!);
      if (!service || secretHealth.check(service).some((u) => u.field === 'TLSCertificateKey')) return [];
      return [{ ...r, tlsCertificateKey: secrets.open(r.tlsCertificateKey, { kind: 'service', id: service.ID, field: 'TLSCertificateKey' }) }];
    });
    return { services, revision: BigInt(store.snapshot.revision) };
  });

  bus.serve(requests.policyFlowCheck, (req) => {
    const snapshot = store.snapshot;
    const service = snapshot.services.get(req.serviceId);
    if (!service) throw new MicrosegError('POLICY_SERVICE_UNKNOWN');
    const { verdict, processingUnit } = checkOutgoing(snapshot, service, { host: req.host, ip: req.ip, port: req.port, protocol: req.protocol === 'udp' ? 'udp' : 'tcp' });
    if (verdict.report) {
      const id = randomUUID();
      bus.publishEvent(subjects.gatewayDecision, FlowEventSchema, {
        id,
        timeMs: BigInt(Date.now()),
        namespace: processingUnit.namespace,
        source: { type: 'ProcessingUnit', id: processingUnit.name, name: processingUnit.name, ip: processingUnit.address, namespace: processingUnit.namespace },
        destination: { type: 'ExternalNetwork', id: verdict.externalNetworks[0] ?? req.host, name: verdict.externalNetworks[0] ?? 'somewhere', ip: req.ip || req.host, port: req.port },
        serviceId: service.ID,
        uri: `${req.protocol || 'tcp'}/${req.port} ${req.purpose}`.trim(),
        action: verdict.action,
        dropReason: verdict.action === 'Reject' ? 'policy' : '',
        policyId: verdict.policy?.ID ?? '',
        policyName: verdict.policy?.name ?? '',
        byDefault: verdict.byDefault,
        requestId: '',
        statusCode: 0,
        user: '',
        traceId: '',
      }, id);
    }
    return { allowed: verdict.action === 'Accept', reason: verdict.reason, policyId: verdict.policy?.ID ?? '', policyName: verdict.policy?.name ?? '' };
  });

  bus.serve(requests.policyOidcClient, (req) => {
    const service = store.snapshot.services.get(req.serviceId);
    if (!service || service.authorizationType !== 'OIDC' || service.disabled) throw new MicrosegError('AUTHN_SERVICE_UNKNOWN');
    if (secretHealth.check(service).some((u) => u.field === 'OIDCClientSecret')) throw new MicrosegError('POLICY_SECRET_UNREADABLE');
    return {
      serviceId: service.ID,
      name: service.name,
      namespace: service.namespace,
      providerUrl: service.OIDCProviderURL ?? '',
      clientId: service.OIDCClientID ?? '',
      clientSecret: service.OIDCClientSecret ? secrets.open(service.OIDCClientSecret, { kind: 'service', id: service.ID, field: 'OIDCClientSecret' }) : '',
      redirectUri: redirectUriOf(service),
      scopes: scopesOf(service),
      sessionIdleTimeoutSeconds: service.sessionIdleTimeoutSeconds,
      sessionMaxLifetimeSeconds: service.sessionMaxLifetimeSeconds,
      acceptBearerTokens: service.acceptBearerTokens,
      providerProfile: service.OIDCProviderProfile,
      allowedTenants: service.OIDCAllowedTenants ?? [],
      postLogoutRedirectUri: `${new URL(redirectUriOf(service)).origin}/`,
    };
  });

  serveTokenVerify(bus, tokens);
  serveInventory(bus, store);
  reportNetworkDenials(bus, logger);

  const http = createHttpApp(logger);
  registerHealthRoutes(http, () => ({ nats: bus.isConnected, objects: store.ready }));
  const unreadableFields = (service: ServiceObject) => secretHealth.check(service).map((u) => u.field);
  registerApi(http, {
    store,
    tokens,
    secrets,
    bus,
    authFailures: new AuthFailureLimiter({ burst: config.POLICY_AUTH_FAILURE_BURST, perMinute: config.POLICY_AUTH_FAILURES_PER_MINUTE }),
    serviceStatus: (service) => serviceStatuses(store.snapshot, unreadableFields).get(service.ID),
  });

  return {
    http,
    bus,
    store,
    async close(graceMs) {
      clearTimeout(pending);
      await http.close();
      await bus.close(graceMs);
    },
  };
}
