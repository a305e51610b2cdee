// Prometheus metrics, one registry per process, served on each service's
// health port at /metrics. Names: microseg_<service>_<thing>_<unit or total>.
// Label values come from fixed sets (a registered error code, a decision, a
// subject name, a service's configured name): never from a request, a claim,
// a host name or an identity provider's answer, which would let an outsider
// create series without end (issue 12, point 4). Map those first (oauthErrorLabel).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'microseg_process_' });

const latencyBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Created on first use, so a process registers only the metrics of the code it runs. */
function lazy<T>(make: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= make());
}

export const metrics = {
  gatewayRequests: lazy(
    () =>
      new Counter({
        name: 'microseg_gateway_requests_total',
        help: 'Requests decided by the gateway.',
        labelNames: ['service', 'decision', 'drop_reason'],
        registers: [registry],
      }),
  ),
  gatewayRequestDuration: lazy(
    () =>
      new Histogram({
        name: 'microseg_gateway_request_duration_seconds',
        help: 'Time from request to response head, seconds.',
        buckets: latencyBuckets,
        registers: [registry],
      }),
  ),
  gatewayUpstreamDuration: lazy(
    () =>
      new Histogram({
        name: 'microseg_gateway_upstream_duration_seconds',
        help: 'Time the application took to answer (headers), seconds.',
        buckets: latencyBuckets,
        registers: [registry],
      }),
  ),
  gatewayUpstreamErrors: lazy(
    () =>
      new Counter({
        name: 'microseg_gateway_upstream_errors_total',
        help: 'Upstream failures by kind (unreachable, timeout).',
        labelNames: ['kind'],
        registers: [registry],
      }),
  ),
  gatewayCacheHits: lazy(
    () =>
      new Counter({ name: 'microseg_gateway_cache_hits_total', help: 'Answers served from a gateway cache.', labelNames: ['cache'], registers: [registry] }),
  ),
  gatewayCacheMisses: lazy(
    () =>
      new Counter({
        name: 'microseg_gateway_cache_misses_total',
        help: 'Questions a gateway cache could not answer.',
        labelNames: ['cache'],
        registers: [registry],
      }),
  ),
  gatewayWebSockets: lazy(() => new Gauge({ name: 'microseg_gateway_websockets', help: 'WebSockets the gateway carries now.', registers: [registry] })),
  gatewayWebSocketsClosed: lazy(
    () =>
      new Counter({
        name: 'microseg_gateway_websockets_closed_total',
        help: 'WebSockets the gateway closed, by reason (session ended or expired, access denied, service removed, unconfirmed, shutdown).',
        labelNames: ['reason'],
        registers: [registry],
      }),
  ),
  busRequestDuration: lazy(
    () =>
      new Histogram({
        name: 'microseg_bus_request_duration_seconds',
        help: 'NATS request/reply latency by subject, seconds.',
        labelNames: ['subject', 'outcome'],
        buckets: latencyBuckets,
        registers: [registry],
      }),
  ),
  authnLogins: lazy(
    () => new Counter({ name: 'microseg_authn_logins_total', help: 'Completed logins by result.', labelNames: ['result'], registers: [registry] }),
  ),
  authnRefreshes: lazy(
    () => new Counter({ name: 'microseg_authn_refreshes_total', help: 'Token refreshes by result.', labelNames: ['result'], registers: [registry] }),
  ),
  policyDecisions: lazy(
    () =>
      new Counter({
        name: 'microseg_policy_decisions_total',
        help: 'Authorization decisions by result and reason.',
        labelNames: ['decision', 'reason'],
        registers: [registry],
      }),
  ),
  flowlogConsumerLag: lazy(
    () => new Gauge({ name: 'microseg_flowlog_consumer_lag', help: 'Events waiting in the JetStream consumer.', registers: [registry] }),
  ),
  flowlogEventsStored: lazy(
    () =>
      new Counter({
        name: 'microseg_flowlog_events_stored_total',
        help: 'Events stored by kind (flow, event) and whether they were new.',
        labelNames: ['kind', 'outcome'],
        registers: [registry],
      }),
  ),
};

/** OAuth 2.0 token endpoint error codes (RFC 6749 §5.2) and OIDC's refresh-relevant ones: the IdP-chosen values a label may take. */
const OAUTH_ERRORS = new Set([
  'invalid_request',
  'invalid_client',
  'invalid_grant',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
  'invalid_target',
  'temporarily_unavailable',
  'server_error',
]);

/** An identity provider's `error` as a label value: itself when it is a standard code, else `other_idp_error`. */
export function oauthErrorLabel(error: unknown): string {
  return typeof error === 'string' && OAUTH_ERRORS.has(error) ? error : 'other_idp_error';
}

export async function metricsText(): Promise<{ contentType: string; body: string }> {
  return { contentType: registry.contentType, body: await registry.metrics() };
}
