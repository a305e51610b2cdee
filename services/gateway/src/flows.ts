// Decision events. Every request is one decision; identical decisions within a
// short window (same source, destination, service, `METHOD /path`, action,
// reason, policy, user) travel as one event with a count, so that the request
// path costs a map update instead of a JetStream publish. Nothing waits on
// delivery: the bus outbox retries until JetStream acknowledges.
import { randomUUID } from 'node:crypto';
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { Bus } from '@microseg/bus';
import { subjects } from '@microseg/contracts';
import { FlowEventSchema } from '@microseg/proto/events';
import type { ServiceRoute } from '@microseg/proto/policy';
import { context, metrics, trace } from '@microseg/telemetry';
import type { Context } from '@opentelemetry/api';

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
  /** The namespace default decided (no policy applied). */
  byDefault?: boolean;
}

type FlowEventInit = MessageInitShape<typeof FlowEventSchema>;

export interface FlowRecorderOptions {
  /** How long identical decisions are gathered into one event. */
  windowMs: number;
  /** At most this many distinct flows are gathered; more sends the window early. */
  maxPending: number;
}

export class FlowRecorder {
  readonly #bus: Bus;
  readonly #options: FlowRecorderOptions;
  #pending = new Map<string, { event: FlowEventInit; count: number; trace: Context }>();
  #timer: NodeJS.Timeout | undefined;
  readonly #counters = new Map<string, { inc(): void }>();

  constructor(bus: Bus, options: FlowRecorderOptions = { windowMs: 1_000, maxPending: 10_000 }) {
    this.#bus = bus;
    this.#options = options;
  }

  record(flow: FlowInput): void {
    this.#counted(flow).inc();
    const route = flow.route;
    // The identity of a flow, as cheap to build as a string can be: the event itself is made only for the
    // first request of the window. Fields are joined by a character no field can hold unescaped.
    const key = `${route?.id ?? ''}\u0001${route?.upstreamAddress ?? ''}\u0001${route?.port ?? ''}\u0001${flow.port}\u0001${flow.user ?? ''}\u0001${flow.clientIp}\u0001${flow.method} ${flow.path}\u0001${flow.accepted ? 1 : 0}${flow.dropReason}\u0001${flow.policyId ?? ''}\u0001${flow.policyName ?? ''}\u0001${flow.byDefault ? 1 : 0}`;
    const gathered = this.#pending.get(key);
    if (gathered) {
      gathered.count++;
      return;
    }
    // The first request of the window stands for the others (status, request and trace ids).
    this.#pending.set(key, {
      event: {
        ...eventOf(flow),
        timeMs: BigInt(Date.now()),
        statusCode: flow.statusCode,
        requestId: flow.requestId,
        traceId: trace.getActiveSpan()?.spanContext().traceId ?? '',
      },
      count: 1,
      // Sent later by a timer: the event keeps the trace of the request it was first recorded in.
      trace: context.active(),
    });
    if (this.#pending.size >= this.#options.maxPending) this.flush();
    else this.#timer ??= setTimeout(() => this.flush(), this.#options.windowMs).unref();
  }

  /** The request counter of this outcome (prom-client's labelled child, kept: no label hashing per request). */
  #counted(flow: FlowInput): { inc(): void } {
    const service = flow.route?.name ?? '';
    const key = `${service}\u0001${flow.accepted ? 1 : 0}${flow.dropReason}`;
    let child = this.#counters.get(key);
    if (!child) {
      if (this.#counters.size >= 10_000) this.#counters.clear();
      child = metrics.gatewayRequests().labels({ service, decision: flow.accepted ? 'accept' : 'reject', drop_reason: flow.dropReason });
      this.#counters.set(key, child);
    }
    return child;
  }

  /** Send what was gathered (called by the window's timer, and at shutdown). */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const pending = this.#pending;
    this.#pending = new Map();
    for (const { event, count, trace: requestContext } of pending.values()) {
      const id = randomUUID();
      this.#bus.publishEvent(subjects.gatewayDecision, FlowEventSchema, { ...event, id, count }, id, requestContext);
    }
  }
}

function eventOf(flow: FlowInput): FlowEventInit {
  const route = flow.route;
  return {
    namespace: route?.namespace ?? '',
    source: flow.user
      ? { type: 'Claims', id: flow.user, name: flow.user, ip: flow.clientIp }
      : { type: 'ExternalNetwork', id: 'somewhere', name: 'somewhere', ip: flow.clientIp },
    destination: route
      ? {
          type: 'ProcessingUnit',
          id: route.processingUnit,
          name: route.processingUnit,
          ip: route.upstreamAddress,
          port: route.port,
          namespace: route.namespace,
        }
      : { type: 'Service', id: '', name: 'unknown', ip: '', port: flow.port },
    serviceId: route?.id ?? '',
    uri: `${flow.method} ${flow.path}`,
    action: flow.accepted ? 'Accept' : 'Reject',
    dropReason: flow.dropReason,
    policyId: flow.policyId ?? '',
    policyName: flow.policyName ?? '',
    user: flow.user ?? '',
    byDefault: flow.byDefault ?? false,
  };
}
