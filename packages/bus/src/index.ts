export { Bus, natsConnectOptions, type BusOptions, type BusLogger, type BusIdentity, type Handler } from './bus.ts';
export { BusRequestError } from './errors.ts';
export { Outbox, type OutboxEntry, type OutboxStats } from './outbox.ts';
export { ensureEventStream } from './streams.ts';
export { injectTraceContext, extractTraceContext } from './trace-headers.ts';
