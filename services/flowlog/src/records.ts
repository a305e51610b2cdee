// What flowlog keeps and serves, made from the protobuf events. Pure.
import type { FlowEvent, LogEvent } from '@microseg/proto/events';
import { withinSelection } from '@microseg/contracts';

export interface FlowRecord {
  namespace: string;
  source: { type: string; id: string; name: string; ip: string; namespace: string };
  destination: { type: string; id: string; name: string; ip: string; port: number; namespace: string };
  serviceID: string;
  URI: string;
  action: string;
  dropReason: string;
  policyID: string;
  policyName: string;
  /** No policy applied: the namespace default decided (drawn dashed). */
  byDefault: boolean;
  user: string;
  /** Start of the minute the flow is aggregated into (ms). */
  minute: number;
}

/** A per-minute aggregate: identical flows of one minute, counted. */
export interface StoredFlow extends FlowRecord {
  count: number;
  firstSeen: number;
  lastSeen: number;
}

/** One decision as it happened, for the live stream. */
export interface LiveFlow extends FlowRecord {
  id: string;
  time: number;
  statusCode: number;
  /** Identical decisions this event stands for (the gateway aggregates over a short window). */
  count: number;
}

export interface StoredEvent {
  id: string;
  time: number;
  level: string;
  category: string;
  title: string;
  content: string;
  targetIdentity: string;
  targetID: string;
  namespace: string;
  origin: string;
}

export const MINUTE_MS = 60_000;

export function flowRecordOf(flow: FlowEvent): FlowRecord {
  return {
    namespace: flow.namespace,
    source: {
      type: flow.source?.type ?? '',
      id: flow.source?.id ?? '',
      name: flow.source?.name ?? '',
      ip: flow.source?.ip ?? '',
      namespace: flow.source?.namespace ?? '',
    },
    destination: {
      type: flow.destination?.type ?? '',
      id: flow.destination?.id ?? '',
      name: flow.destination?.name ?? '',
      ip: flow.destination?.ip ?? '',
      port: flow.destination?.port ?? 0,
      namespace: flow.destination?.namespace ?? '',
    },
    serviceID: flow.serviceId,
    URI: redactSecrets(flow.uri),
    action: flow.action,
    dropReason: flow.dropReason,
    policyID: flow.policyId,
    policyName: flow.policyName,
    byDefault: flow.byDefault,
    user: flow.user,
    minute: Math.floor(Number(flow.timeMs) / MINUTE_MS) * MINUTE_MS,
  };
}

export function liveFlowOf(flow: FlowEvent): LiveFlow {
  return { ...flowRecordOf(flow), id: flow.id, time: Number(flow.timeMs), statusCode: flow.statusCode, count: Math.max(1, flow.count) };
}

export function eventRecordOf(event: LogEvent): StoredEvent {
  // `id` first: the stored JSON starts with it, which orders events of the same millisecond (see store.ts).
  return {
    id: event.id,
    time: Number(event.timeMs),
    level: event.level,
    category: event.category,
    title: redactSecrets(event.title),
    content: redactSecrets(event.content),
    targetIdentity: event.targetIdentity,
    targetID: event.targetId,
    namespace: event.namespace,
    origin: event.origin,
  };
}

const SECRETS: ReadonlyArray<[RegExp, string]> = [
  // microseg API tokens
  [/mst_[a-f0-9]{16}_[A-Za-z0-9_-]{20,}/g, 'mst_[redacted]'],
  // JWTs (ID, access and logout tokens)
  [/eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g, '[redacted JWT]'],
  // Authorization header values
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/gi, '$1 [redacted]'],
  // OAuth parameters and cookies that carry credentials
  [/\b(code|state|access_token|id_token|refresh_token|client_secret|password|__Host-microseg(?:-login)?)=[^\s&;,"']+/gi, '$1=[redacted]'],
];

/**
 * Emitters never put a secret in an event; this is the second line of
 * defence, so that a mistake upstream does not end up stored and shown.
 */
export function redactSecrets(text: string): string {
  let out = text;
  for (const [pattern, replacement] of SECRETS) out = out.replace(pattern, replacement);
  return out;
}

/** Whether a record of `value`'s namespace belongs to the selection (every namespace when none is named). */
export function inNamespace(value: string, namespace: string | undefined, recursive: boolean | undefined): boolean {
  return namespace === undefined || withinSelection(value, namespace, Boolean(recursive));
}
