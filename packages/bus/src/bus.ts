// The bus: one NATS connection per service with its own identity, typed requests (Bus.request/serve over
// the contracts' subject table), events (Bus.emitEvent), broadcasts and JetStream access.
// Why over 300 lines: every way a service touches NATS goes through this one class, so that tracing,
// error mapping and permissions are applied alike; the stream set-up and errors live in streams.ts and errors.ts.
import { connect } from '@nats-io/transport-node';
import { nkeyAuthenticator, type ConnectionOptions } from '@nats-io/nats-core';
import { eventCatalogue, inboxPrefix, subjects, type EventInput, type EventKind, type RequestContract, type ServiceIdentity } from '@microseg/contracts';
import { LogEventSchema } from '@microseg/proto/events';
import { randomUUID } from 'node:crypto';
import type { NatsConnection as NatsConnectionSettings } from '@microseg/config';
import { NoRespondersError, RequestError, TimeoutError, type NatsConnection, type Subscription } from '@nats-io/nats-core';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { create, fromBinary, toBinary, type DescMessage, type MessageInitShape, type MessageShape } from '@bufbuild/protobuf';
import { SpanKind, SpanStatusCode, context, trace, type Context } from '@opentelemetry/api';
import { MicrosegError, fromWire, toMicrosegError } from '@microseg/errors';
import { metrics } from '@microseg/telemetry';
import { BusRequestError } from './errors.ts';
import { Outbox, type OutboxEntry } from './outbox.ts';
import { extractTraceContext, injectTraceContext } from './trace-headers.ts';
import { ensureEventStream } from './streams.ts';

const tracer = trace.getTracer('@microseg/bus');

export interface BusLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface BusOptions {
  /** Servers (comma-separated), unless `connection` gives them. */
  url?: string;
  /** Servers, identity (nkey seed) and TLS, as `natsConnection(config)` gives them. */
  connection?: NatsConnectionSettings;
  name: string;
  logger: BusLogger;
  /**
   * Which service this is. Its replies arrive under its own inbox prefix (`_INBOX.<identity>`), the only
   * one its credentials may subscribe to: no other service can read them.
   */
  identity?: BusIdentity;
  /** Create or update the event stream at connect (its owners: policy and flowlog). Default true. */
  manageEventStream?: boolean;
}

export type BusIdentity = ServiceIdentity | 'admin';

export type Handler<Req extends DescMessage, Res extends DescMessage> = (request: MessageShape<Req>) => Promise<MessageInitShape<Res>> | MessageInitShape<Res>;

/**
 * The NATS connection of one service process: protobuf request/reply with
 * trace context in headers, queue-group handlers, broadcasts, and events to
 * JetStream through an outbox that never makes the caller wait.
 */
export class Bus {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly outbox: Outbox;
  readonly #logger: BusLogger;
  readonly #subscriptions: Subscription[] = [];
  readonly #inFlight = new Set<Promise<unknown>>();

  constructor(nc: NatsConnection, logger: BusLogger) {
    this.nc = nc;
    this.#logger = logger;
    this.js = jetstream(nc);
    this.outbox = new Outbox(this.js, {
      onError: (err, entry) => logger.warn({ err: String(err), subject: entry.subject }, 'event publish failed; will retry'),
    });
  }

  static async connect(options: BusOptions): Promise<Bus> {
    const connection = options.connection ?? {
      servers: (options.url ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    };
    if (!connection.nkeySeed)
      options.logger.warn(
        { servers: connection.servers },
        'connecting to NATS without credentials (NATS_NKEY_SEED): a server that enforces permissions will refuse this client',
      );
    const nc = await connect({
      ...natsConnectOptions(connection, options.identity),
      name: options.name,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      waitOnFirstConnect: true,
    });
    const bus = new Bus(nc, options.logger);
    void bus.#watchStatus();
    // The stream must exist before the first event; its owners make sure it does (the others' events wait in the outbox).
    if (options.manageEventStream !== false) await ensureEventStream(await jetstreamManager(nc));
    return bus;
  }

  async jetstreamManager(): Promise<JetStreamManager> {
    return jetstreamManager(this.nc);
  }

  /**
   * Request/reply with a bound, on a subject of the contracts' `requests` table. Resolves with the reply;
   * throws BusRequestError when there is no usable answer (nobody, too late, garbled: the caller fails
   * closed), or the MicrosegError the server answered with.
   */
  async request<C extends RequestContract>(contract: C, message: MessageInitShape<C['request']>, timeoutMs: number): Promise<MessageShape<C['reply']>> {
    const { subject, request: reqSchema, reply: resSchema } = contract;
    return tracer.startActiveSpan(
      `${subject} request`,
      { kind: SpanKind.CLIENT, attributes: { 'messaging.system': 'nats', 'messaging.destination.name': subject } },
      async (span) => {
        const started = performance.now();
        try {
          const data = toBinary(reqSchema, create(reqSchema, message));
          let reply;
          try {
            reply = await this.nc.request(subject, data, { timeout: timeoutMs, headers: injectTraceContext() });
            metrics.busRequestDuration().observe({ subject, outcome: 'ok' }, (performance.now() - started) / 1000);
          } catch (err) {
            const classified = classifyRequestError(subject, err);
            metrics.busRequestDuration().observe({ subject, outcome: classified.kind }, (performance.now() - started) / 1000);
            throw classified;
          }
          let decoded: MessageShape<C['reply']>;
          try {
            decoded = fromBinary(resSchema, reply.data) as MessageShape<C['reply']>;
          } catch (err) {
            throw new BusRequestError('bad-reply', subject, { cause: err });
          }
          const remote = (decoded as { error?: { code: string; message: string } }).error;
          if (remote) throw fromWire(remote);
          return decoded;
        } catch (err) {
          span.recordException(err as Error);
          span.setStatus({ code: SpanStatusCode.ERROR });
          throw err;
        } finally {
          span.end();
        }
      },
    );
  }

  /** Serve a request subject in its queue group; a thrown error becomes the reply's `{error: {code, message}}`. */
  serve<C extends RequestContract>(contract: C, handler: Handler<C['request'], C['reply']>): void {
    const { subject, queue, request: reqSchema, reply: resSchema } = contract;
    const sub = this.nc.subscribe(subject, {
      queue,
      callback: (err, msg) => {
        if (err) {
          this.#logger.error({ err: String(err), subject }, 'subscription failed');
          return;
        }
        const parent = extractTraceContext(msg.headers);
        const work = context.with(parent, () =>
          tracer.startActiveSpan(
            `${subject} process`,
            { kind: SpanKind.SERVER, attributes: { 'messaging.system': 'nats', 'messaging.destination.name': subject } },
            async (span) => {
              let response: MessageInitShape<C['reply']>;
              try {
                const request = fromBinary(reqSchema, msg.data) as MessageShape<C['request']>;
                response = await handler(request);
              } catch (cause) {
                const error = toMicrosegError(cause);
                if (!(cause instanceof MicrosegError)) {
                  // Not one of ours: a bug or an outage, with its stack.
                  this.#logger.error({ err: cause, subject }, 'handler failed');
                  span.recordException(cause as Error);
                  span.setStatus({ code: SpanStatusCode.ERROR });
                } else if (error.status >= 500) {
                  // A registered, expected condition (a secret that cannot be opened, an IdP away): once per answer, no stack.
                  this.#logger.warn({ code: error.code, subject }, 'answered with an error');
                  span.setStatus({ code: SpanStatusCode.ERROR, message: error.code });
                }
                response = { error: error.toWire() } as unknown as MessageInitShape<C['reply']>;
              } finally {
                span.end();
              }
              msg.respond(toBinary(resSchema, create(resSchema, response)));
            },
          ),
        );
        this.#track(work);
      },
    });
    this.#subscriptions.push(sub);
  }

  /** Fire-and-forget core NATS broadcast (not stored). */
  broadcast<S extends DescMessage>(subject: string, schema: S, message: MessageInitShape<S>): void {
    this.nc.publish(subject, toBinary(schema, create(schema, message)), { headers: injectTraceContext() });
  }

  /** Subscribe to a broadcast (every replica receives it). */
  onBroadcast<S extends DescMessage>(subject: string, schema: S, handler: (message: MessageShape<S>) => void | Promise<void>): void {
    const sub = this.nc.subscribe(subject, {
      callback: (err, msg) => {
        if (err) return;
        try {
          this.#track(Promise.resolve(handler(fromBinary(schema, msg.data))));
        } catch (cause) {
          this.#logger.warn({ err: String(cause), subject }, 'bad broadcast ignored');
        }
      },
    });
    this.#subscriptions.push(sub);
  }

  /**
   * Record a log event of the catalogue (`eventCatalogue` in contracts): its level, category, title and
   * subject come from there. Queued like every event (the caller never waits); returns the event's id.
   * `msgId` names it for JetStream's de-duplication (replicas that raise the same event give the same one).
   */
  emitEvent(kind: EventKind, input: EventInput, options: { msgId?: string; id?: string; timeMs?: number; traceContext?: Context } = {}): string {
    const spec = eventCatalogue[kind];
    const id = options.id ?? randomUUID();
    const event = {
      id,
      timeMs: BigInt(options.timeMs ?? Date.now()),
      level: spec.level,
      category: spec.category,
      title: input.title ?? spec.title,
      content: input.content,
      targetIdentity: input.targetIdentity,
      targetId: input.targetId,
      namespace: input.namespace,
      origin: spec.origin,
      traceId: input.traceId ?? '',
    };
    this.publishEvent(subjects.logEvent(spec.origin), LogEventSchema, event, options.msgId ?? id, options.traceContext);
    return id;
  }

  /**
   * Queue an event for JetStream; the caller never waits on its delivery. `traceContext` is the
   * request the event belongs to when it is sent later, outside that request (the default: now).
   */
  publishEvent<S extends DescMessage>(subject: string, schema: S, message: MessageInitShape<S>, msgId: string, traceContext?: Context): void {
    const entry: OutboxEntry = { subject, data: toBinary(schema, create(schema, message)), msgId, headers: injectTraceContext(traceContext) };
    this.outbox.push(entry);
  }

  get isConnected(): boolean {
    return !this.nc.isClosed() && this.#connected;
  }

  #connected = true;
  readonly #reconnectListeners: Array<() => void> = [];

  /**
   * Call `listener` each time the connection is back after a loss. Broadcasts sent meanwhile were not
   * received (core NATS keeps nothing): whatever they would have changed must be refreshed.
   */
  onReconnect(listener: () => void): void {
    this.#reconnectListeners.push(listener);
  }

  async #watchStatus(): Promise<void> {
    for await (const status of this.nc.status()) {
      if (status.type === 'error') {
        // A permissions violation, most often: this service's credentials do not allow what it tried.
        this.#logger.error({ err: String((status as { error?: unknown }).error ?? status.type) }, 'NATS error');
      } else if (status.type === 'disconnect') {
        this.#connected = false;
        this.#logger.warn({ server: (status as { server?: string }).server }, 'NATS disconnected');
      } else if (status.type === 'reconnect') {
        this.#connected = true;
        this.#logger.info({}, 'NATS reconnected');
        for (const listener of this.#reconnectListeners) {
          try {
            listener();
          } catch (err) {
            this.#logger.error({ err: String(err) }, 'reconnect listener failed');
          }
        }
      }
    }
  }

  #track(p: Promise<unknown>): void {
    this.#inFlight.add(p);
    void p.finally(() => this.#inFlight.delete(p));
  }

  /** Stop taking requests, finish the ones in flight, flush events, then close. */
  async close(graceMs: number): Promise<void> {
    // Drained, not merely unsubscribed: requests the server routed here before it learnt of the
    // unsubscription are still answered (an unsubscribe drops them, and their callers wait for a timeout).
    const deadline = new Promise((r) => setTimeout(r, graceMs).unref());
    await Promise.race([Promise.allSettled(this.#subscriptions.map((sub) => sub.drain())), deadline]);
    await Promise.race([Promise.allSettled([...this.#inFlight]), deadline]);
    await this.outbox.flush(graceMs);
    this.outbox.stop();
    await this.nc.drain().catch(() => undefined);
  }
}

function classifyRequestError(subject: string, err: unknown): BusRequestError {
  if (err instanceof BusRequestError) return err;
  const cause = err instanceof RequestError && err.cause ? err.cause : err;
  if (cause instanceof NoRespondersError || (err instanceof RequestError && err.isNoResponders()))
    return new BusRequestError('no-responders', subject, { cause: err });
  if (cause instanceof TimeoutError || err instanceof TimeoutError) return new BusRequestError('timeout', subject, { cause: err });
  return new BusRequestError('disconnected', subject, { cause: err });
}

/** nats.js connection options for a connection's settings: servers, the nkey identity, TLS, and the identity's inbox prefix. */
export function natsConnectOptions(connection: NatsConnectionSettings, identity?: BusIdentity): ConnectionOptions {
  const seed = connection.nkeySeed ? new TextEncoder().encode(connection.nkeySeed) : undefined;
  return {
    servers: connection.servers,
    ...(seed ? { authenticator: nkeyAuthenticator(seed) } : {}),
    ...(connection.tls ? { tls: withoutUndefined(connection.tls) } : {}),
    ...(identity ? { inboxPrefix: inboxPrefix(identity) } : {}),
  };
}

function withoutUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
