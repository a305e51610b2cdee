// Trace context travels in NATS message headers (`traceparent`, `tracestate`).
// This is the only place that injects or extracts it.
import { context, propagation, type Context } from '@opentelemetry/api';
import { headers as natsHeaders, type MsgHdrs } from '@nats-io/nats-core';

export function injectTraceContext(ctx: Context = context.active(), into: MsgHdrs = natsHeaders()): MsgHdrs {
  propagation.inject(ctx, into, {
    set: (carrier, key, value) => carrier.set(key, value),
  });
  return into;
}

export function extractTraceContext(from: MsgHdrs | undefined): Context {
  if (!from) return context.active();
  return propagation.extract(context.active(), from, {
    get: (carrier, key) => carrier.get(key) || undefined,
    keys: (carrier) => carrier.keys(),
  });
}
