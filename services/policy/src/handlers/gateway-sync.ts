// svc.policy.v1.gateway.sync: a gateway registers the processing units it fronts (a heartbeat) and is
// answered with the services it must serve. What it could not do with the services it was given comes
// along, and is kept on the units (shown as the services' status, service-status.ts). A service that
// cannot be served as its editors asked — an older one has its port and host, its ports are not the
// gateway's, its TLS key cannot be opened — is left out of the answer and reported, never the whole answer.
// With `routesOnly` (a gateway's workers but its first, docs/architecture.md) nothing is stored or announced.
// The answer also carries the keys that sign identity assertions, private halves included: only the gateway
// may ask this subject, and its reply reaches the gateway's own inbox only (contracts/access.ts).
import { createHash } from 'node:crypto';
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { Bus } from '@microseg/bus';
import { requests, type ProcessingUnitObject, type ServiceObject } from '@microseg/contracts';
import type { GatewaySyncRequest, GatewaySyncResponseSchema } from '@microseg/proto/policy';
import type { AssertionKeys } from '../assertion-keys/keys.ts';
import { stableObjectId } from '../objects/import-file.ts';
import { routesFor, type PortsRefused, type RouteConflict } from '../routes.ts';
import type { SecretHealthReporter } from '../secret-health.ts';
import type { SecretBox } from '../secrets.ts';
import type { Snapshot } from '../snapshot.ts';
import type { ObjectStore } from '../store.ts';

export interface GatewaySyncDeps {
  store: { readonly snapshot: Snapshot; put: ObjectStore['put'] };
  bus: Pick<Bus, 'emitEvent'>;
  secrets: Pick<SecretBox, 'open'>;
  secretHealth: Pick<SecretHealthReporter, 'check'>;
  /** The identity assertions' keys (private halves opened): this reply goes to the gateway's own inbox only. */
  assertionKeys: Pick<AssertionKeys, 'forGateways'>;
  now?: () => Date;
}

type NotServedKind = 'serviceNotServedPortAndHostTaken' | 'serviceNotServedPortNotAllowed';

/**
 * One Error event in the service's namespace per reason, once per process; replicas give the same reason the
 * same message id, so JetStream keeps one of theirs.
 */
export class NotServedReporter {
  readonly #bus: Pick<Bus, 'emitEvent'>;
  readonly #reported = new Set<string>();

  constructor(bus: Pick<Bus, 'emitEvent'>) {
    this.#bus = bus;
  }

  readonly conflict: RouteConflict = (kept, dropped, port, host) => {
    // The other service is named only to its own namespace's readers.
    const other = kept.namespace === dropped.namespace ? ` (${kept.name})` : '';
    this.#report(
      dropped,
      `conflict ${kept.ID} ${dropped.ID}`,
      'serviceNotServedPortAndHostTaken',
      `Service ${dropped.name} is not served: an older service${other} already serves exposedPort ${port} with host ${host}. Choose another host or port.`,
    );
  };

  readonly portsRefused: PortsRefused = (service, pu, problem) =>
    this.#report(
      service,
      `ports ${service.ID} ${pu.ID} ${problem.message}`,
      'serviceNotServedPortNotAllowed',
      `Service ${service.name} is not served: ${problem.attribute} ${problem.message}.`,
    );

  #report(service: ServiceObject, reason: string, kind: NotServedKind, content: string): void {
    if (this.#reported.has(reason)) return;
    this.#reported.add(reason);
    const msgId = `not-served-${createHash('sha256').update(reason).digest('hex').slice(0, 32)}`;
    this.#bus.emitEvent(kind, { content, targetIdentity: 'service', targetId: service.ID, namespace: service.namespace }, { msgId });
  }
}

/** The processing units of a sync request as objects: registered by this gateway, running, seen now. */
export function processingUnitsOf(req: GatewaySyncRequest, now: Date): ProcessingUnitObject[] {
  // What the gateway could not do with the services it was given (bounded: the gateway is not trusted to be small).
  const problems = req.problems.slice(0, 1000).map((p) => ({ serviceID: p.serviceId, message: p.message.slice(0, 1024) }));
  return req.processingUnits.map((pu) => ({
    kind: 'processingunit',
    ID: stableObjectId('processingunit', pu.namespace, pu.name),
    name: pu.name,
    namespace: pu.namespace,
    associatedTags: [...pu.tags],
    propagate: false,
    address: pu.address,
    status: 'Running',
    lastSeen: now.toISOString(),
    gatewayID: req.gatewayId,
    applicationPorts: [...pu.applicationPorts],
    exposedPorts: [...req.exposedPorts],
    ...(problems.length > 0 ? { serviceProblems: problems } : {}),
  }));
}

export async function answerGatewaySync(
  deps: GatewaySyncDeps,
  notServed: NotServedReporter,
  req: GatewaySyncRequest,
): Promise<MessageInitShape<typeof GatewaySyncResponseSchema>> {
  const registered = processingUnitsOf(req, deps.now?.() ?? new Date());
  // A gateway's other workers ask for the routes only: one registration per gateway, however many workers.
  for (const object of req.routesOnly ? [] : registered) {
    const outcome = await deps.store.put(object);
    if (outcome === 'created' || outcome === 'updated') {
      deps.bus.emitEvent(
        'processingUnitRegistered',
        {
          content: `Processing unit ${object.name} at ${object.address} was registered by gateway ${req.gatewayId}.`,
          targetIdentity: 'processingunit',
          targetId: object.ID,
          namespace: object.namespace,
        },
        { msgId: `pu-registered-${object.ID}-${object.address}` },
      );
    }
  }
  const snapshot = deps.store.snapshot;
  const services = routesFor(snapshot, registered, notServed.conflict, notServed.portsRefused).flatMap((route) => {
    if (!route.tlsCertificateKey) return [route];
    const service = snapshot.services.get(route.id!);
    // A TLS key this replica cannot open: that service is left out (and reported by the health check).
    if (!service || deps.secretHealth.check(service).some((u) => u.field === 'TLSCertificateKey')) return [];
    return [{ ...route, tlsCertificateKey: deps.secrets.open(route.tlsCertificateKey, { kind: 'service', id: service.ID, field: 'TLSCertificateKey' }) }];
  });
  return { services, revision: BigInt(snapshot.revision), assertion: deps.assertionKeys.forGateways() };
}

export function serveGatewaySync(bus: Pick<Bus, 'serve' | 'emitEvent'>, deps: Omit<GatewaySyncDeps, 'bus'>): void {
  const notServed = new NotServedReporter(bus);
  bus.serve(requests.policyGatewaySync, (req) => answerGatewaySync({ ...deps, bus }, notServed, req));
}
