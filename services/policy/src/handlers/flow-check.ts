// svc.policy.v1.flow.check: may this service's processing unit reach this IdP host and address (authn → IdP,
// SPEC §7)? authn asks before each discovery, token and JWKS call and connects only where it was allowed. A
// flow whose deciding policy logs (or a rejection) is published as a flow of its own, like a gateway's.
import { randomUUID } from 'node:crypto';
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { Bus } from '@microseg/bus';
import { requests, subjects, type ProcessingUnitObject, type ServiceObject } from '@microseg/contracts';
import { MicrosegError } from '@microseg/errors';
import { FlowEventSchema } from '@microseg/proto/events';
import type { FlowCheckRequest, FlowCheckResponseSchema } from '@microseg/proto/policy';
import { checkOutgoing } from '../network/flows.ts';
import type { FlowVerdict } from '../network/evaluate.ts';
import type { Snapshot } from '../snapshot.ts';

export interface FlowCheckDeps {
  store: { readonly snapshot: Snapshot };
  bus: Pick<Bus, 'publishEvent'>;
  now?: () => number;
}

/** The flow authn was about to make, as the flow event a gateway would record. Pure. */
export function outgoingFlowEvent(
  service: ServiceObject,
  unit: ProcessingUnitObject,
  verdict: FlowVerdict,
  req: FlowCheckRequest,
  id: string,
  timeMs: number,
): MessageInitShape<typeof FlowEventSchema> {
  return {
    id,
    timeMs: BigInt(timeMs),
    namespace: unit.namespace,
    source: { type: 'ProcessingUnit', id: unit.name, name: unit.name, ip: unit.address, namespace: unit.namespace },
    destination: {
      type: 'ExternalNetwork',
      id: verdict.externalNetworks[0] ?? req.host,
      name: verdict.externalNetworks[0] ?? 'somewhere',
      ip: req.ip || req.host,
      port: req.port,
    },
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
  };
}

export function answerFlowCheck(deps: FlowCheckDeps, req: FlowCheckRequest): MessageInitShape<typeof FlowCheckResponseSchema> {
  const snapshot = deps.store.snapshot;
  const service = snapshot.services.get(req.serviceId);
  if (!service) throw new MicrosegError('POLICY_SERVICE_UNKNOWN');
  const { verdict, processingUnit } = checkOutgoing(snapshot, service, {
    host: req.host,
    ip: req.ip,
    port: req.port,
    protocol: req.protocol === 'udp' ? 'udp' : 'tcp',
  });
  if (verdict.report) {
    const id = randomUUID();
    deps.bus.publishEvent(
      subjects.gatewayDecision,
      FlowEventSchema,
      outgoingFlowEvent(service, processingUnit, verdict, req, id, deps.now?.() ?? Date.now()),
      id,
    );
  }
  return { allowed: verdict.action === 'Accept', reason: verdict.reason, policyId: verdict.policy?.ID ?? '', policyName: verdict.policy?.name ?? '' };
}

export function serveFlowCheck(bus: Pick<Bus, 'serve' | 'publishEvent'>, deps: Omit<FlowCheckDeps, 'bus'>): void {
  bus.serve(requests.policyFlowCheck, (req) => answerFlowCheck({ ...deps, bus }, req));
}
