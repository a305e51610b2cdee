// A Warning event for every flow a network policy (or a namespace default)
// rejects, so that Monitor → Event logs says why traffic is refused. It watches
// the decision events — the incoming denials the gateway records and the
// outgoing ones this service records — in a queue group shared by the policy
// replicas. At most one event per source, destination and policy per minute:
// the message id is derived from them, so JetStream keeps one copy even when
// two replicas see the same denial in the same minute.
import { createHash } from 'node:crypto';
import { fromBinary } from '@bufbuild/protobuf';
import type { Bus } from '@microseg/bus';
import { queues, subjects, type EventInput } from '@microseg/contracts';
import { FlowEventSchema, type FlowEvent } from '@microseg/proto/events';
import type { Logger } from '@microseg/telemetry';

type Endpoint = FlowEvent['source'];

function describe(endpoint: Endpoint, withPort: boolean): string {
  if (!endpoint) return 'an unknown party';
  const port = withPort && endpoint.port ? `:${endpoint.port}` : '';
  switch (endpoint.type) {
    case 'ProcessingUnit':
      return `processing unit ${endpoint.name}${port ? ` (port ${endpoint.port})` : ''}`;
    case 'Claims':
      return `user ${endpoint.name}${endpoint.ip ? ` from ${endpoint.ip}` : ''}`;
    case 'ExternalNetwork':
      if (endpoint.name === 'somewhere' || endpoint.name === '') return `${endpoint.ip || 'an unknown address'}${port}`;
      return `external network ${endpoint.name}${endpoint.ip ? ` (${endpoint.ip}${port})` : port}`;
    default:
      return `${endpoint.name || endpoint.ip || 'an unknown party'}${port}`;
  }
}

/** The `networkAccessDenied` event for a rejected network flow, or undefined for any other flow. Pure. */
export function denialEvent(flow: FlowEvent, nowMs: number): { input: EventInput; id: string; timeMs: number; msgId: string } | undefined {
  if (flow.action !== 'Reject' || flow.dropReason !== 'policy') return undefined;
  const who = describe(flow.source, false);
  const what = describe(flow.destination, true);
  const by = flow.policyName ? `by network policy ${flow.policyName}` : `by the default of the namespace ${flow.namespace} (no policy allows it)`;
  const purpose = flow.uri ? ` (${flow.uri})` : '';
  const key = [
    flow.namespace,
    flow.source?.type,
    flow.source?.name,
    flow.source?.ip,
    flow.destination?.type,
    flow.destination?.name,
    flow.destination?.port,
    flow.policyId,
  ].join('\u0000');
  const minute = Math.floor(nowMs / 60_000);
  return {
    id: `network-denied-${flow.id}`,
    timeMs: flow.timeMs ? Number(flow.timeMs) : nowMs,
    msgId: `network-denied-${createHash('sha256').update(key).digest('hex').slice(0, 32)}-${minute}`,
    input: {
      content: `${who} may not reach ${what}${purpose}: rejected ${by}.`,
      targetIdentity: flow.policyId ? 'networkaccesspolicy' : 'namespace',
      targetId: flow.policyId || flow.namespace,
      namespace: flow.namespace,
      traceId: flow.traceId,
    },
  };
}

/**
 * Records the denial event of each rejected flow. One replica's memory of what it already reported this
 * minute spares the outbox the repeats (JetStream's de-duplication on the message id does the rest).
 */
export function denialReporter(bus: Pick<Bus, 'emitEvent'>, now: () => number = Date.now): (flow: FlowEvent) => void {
  let minute = 0;
  const reported = new Set<string>();
  return (flow) => {
    const nowMs = now();
    const denial = denialEvent(flow, nowMs);
    if (!denial) return;
    if (Math.floor(nowMs / 60_000) !== minute) {
      minute = Math.floor(nowMs / 60_000);
      reported.clear();
    }
    if (reported.has(denial.msgId)) return;
    reported.add(denial.msgId);
    bus.emitEvent('networkAccessDenied', denial.input, { id: denial.id, timeMs: denial.timeMs, msgId: denial.msgId });
  };
}

export function reportNetworkDenials(bus: Pick<Bus, 'nc' | 'emitEvent'>, logger: Logger): void {
  const report = denialReporter(bus);
  bus.nc.subscribe(subjects.gatewayDecision, {
    queue: queues.policyDenials,
    callback: (err, msg) => {
      if (err) return;
      try {
        report(fromBinary(FlowEventSchema, msg.data));
      } catch (cause) {
        logger.warn({ err: String(cause) }, 'undecodable decision event ignored');
      }
    },
  });
}
