// One decision event per request, published through the bus outbox: the
// request never waits on its delivery.
import { randomUUID } from 'node:crypto';
import type { Bus } from '@microseg/bus';
import { subjects } from '@microseg/contracts';
import { FlowEventSchema } from '@microseg/proto/events';
import type { ServiceRoute } from '@microseg/proto/policy';
import { metrics, trace } from '@microseg/telemetry';

export type DropReason = '' | 'api' | 'policy' | 'missingtoken' | 'token' | 'dial' | 'timeout' | 'unavailable' | 'invalid' | 'unknownhost';

export interface FlowInput {
  route?: ServiceRoute;
  clientIp: string;
  method: string;
  path: string;
  accepted: boolean;
  dropReason: DropReason;
  policyId?: string;
  policyName?: string;
  user?: string;
  statusCode: number;
  requestId: string;
  port: number;
}

export class FlowRecorder {
  readonly #bus: Bus;
  constructor(bus: Bus) {
    this.#bus = bus;
  }

  record(flow: FlowInput): void {
    metrics.gatewayRequests().inc({ service: flow.route?.name ?? '', decision: flow.accepted ? 'accept' : 'reject', drop_reason: flow.dropReason });
    const id = randomUUID();
    const route = flow.route;
    this.#bus.publishEvent(
      subjects.gatewayDecision,
      FlowEventSchema,
      {
        id,
        timeMs: BigInt(Date.now()),
        namespace: route?.namespace ?? '',
        source: flow.user
          ? { type: 'Claims', id: flow.user, name: flow.user, ip: flow.clientIp }
          : { type: 'ExternalNetwork', id: 'somewhere', name: 'somewhere', ip: flow.clientIp },
        destination: route
          ? { type: 'ProcessingUnit', id: route.processingUnit, name: route.processingUnit, ip: route.upstreamAddress, port: route.port, namespace: route.namespace }
          : { type: 'Service', id: '', name: 'unknown', ip: '', port: flow.port },
        serviceId: route?.id ?? '',
        uri: `${flow.method} ${flow.path}`,
        action: flow.accepted ? 'Accept' : 'Reject',
        dropReason: flow.dropReason,
        policyId: flow.policyId ?? '',
        policyName: flow.policyName ?? '',
        user: flow.user ?? '',
        statusCode: flow.statusCode,
        requestId: flow.requestId,
        traceId: trace.getActiveSpan()?.spanContext().traceId ?? '',
      },
      id,
    );
  }
}
