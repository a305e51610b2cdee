// A durable JetStream consumer shared by every flowlog replica: each message
// is delivered to one of them, acknowledged only once stored.
import { AckPolicy, DeliverPolicy, type Consumer, type ConsumerMessages } from '@nats-io/jetstream';
import { fromBinary } from '@bufbuild/protobuf';
import { type Bus, ensureEventStream, extractTraceContext } from '@microseg/bus';
import { streams, subjects } from '@microseg/contracts';
import { FlowEventSchema, LogEventSchema } from '@microseg/proto/events';
import { context, metrics, trace, SpanKind, type Logger } from '@microseg/telemetry';
import { ROOT_CONTEXT } from '@opentelemetry/api';
import { nanos } from '@nats-io/nats-core';
import type { FlowlogStore } from './store.ts';

const tracer = trace.getTracer('@microseg/flowlog');

export class EventConsumer {
  readonly #bus: Bus;
  readonly #store: FlowlogStore;
  readonly #logger: Logger;
  #messages: ConsumerMessages | undefined;
  #done: Promise<void> | undefined;
  #stopped = false;
  processed = 0;

  constructor(bus: Bus, store: FlowlogStore, logger: Logger) {
    this.#bus = bus;
    this.#store = store;
    this.#logger = logger;
  }

  async start(): Promise<void> {
    const jsm = await this.#bus.jetstreamManager();
    await ensureEventStream(jsm);
    const config = {
      durable_name: streams.events.flowlogConsumer,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      filter_subject: subjects.allEvents,
      ack_wait: nanos(30_000),
      max_ack_pending: 1_000,
    };
    try {
      await jsm.consumers.info(streams.events.name, config.durable_name);
    } catch {
      await jsm.consumers.add(streams.events.name, config).catch((err: unknown) => {
        if (!String(err).includes('already')) throw err;
      });
    }
    const consumer: Consumer = await this.#bus.js.consumers.get(streams.events.name, config.durable_name);
    this.#messages = await consumer.consume({ max_messages: 256 });
    this.#done = this.#run(this.#messages);
  }

  async #run(messages: ConsumerMessages): Promise<void> {
    for await (const msg of messages) {
      // Stored later, maybe much later: its own trace, linked to the request's (OpenTelemetry messaging conventions).
      const producer = trace.getSpanContext(extractTraceContext(msg.headers));
      await context.with(ROOT_CONTEXT, () =>
        tracer.startActiveSpan(
          `${msg.subject} consume`,
          { kind: SpanKind.CONSUMER, root: true, links: producer ? [{ context: producer }] : [] },
          async (span) => {
            try {
              const kind = msg.subject === subjects.gatewayDecision ? 'flow' : 'event';
              const stored =
                kind === 'flow'
                  ? await this.#store.recordFlow(fromBinary(FlowEventSchema, msg.data))
                  : await this.#store.recordEvent(fromBinary(LogEventSchema, msg.data));
              metrics.flowlogEventsStored().inc({ kind, outcome: stored === false ? 'duplicate' : 'new' });
              msg.ack();
              this.processed++;
            } catch (err) {
              // Not acknowledged: redelivered after a pause (Redis may be down).
              this.#logger.warn({ err: String(err), subject: msg.subject }, 'event not stored; will be redelivered');
              msg.nak(1_000);
            } finally {
              span.end();
            }
          },
        ),
      );
      if (this.#stopped) break;
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#messages?.close();
    await this.#done;
  }
}
