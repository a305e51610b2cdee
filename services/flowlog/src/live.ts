// The live stream: every replica subscribes with plain core NATS to every
// event subject, so each sees every flow and event (the durable consumer, in
// contrast, shares them out between replicas), and pushes them to its
// connected browsers and `msctl logs --follow`, filtered per client.
import type { Subscription } from '@nats-io/nats-core';
import { fromBinary } from '@bufbuild/protobuf';
import type { Bus } from '@microseg/bus';
import { subjects } from '@microseg/contracts';
import { FlowEventSchema, LogEventSchema } from '@microseg/proto/events';
import type { Logger } from '@microseg/telemetry';
import { eventRecordOf, liveFlowOf, type LiveFlow, type StoredEvent } from './records.ts';

export type LiveMessage = { type: 'flow'; data: LiveFlow } | { type: 'event'; data: StoredEvent };

export interface LiveClient {
  /** Whether this client wants records of this namespace. */
  wants(namespace: string): boolean;
  send(message: LiveMessage): void;
  /** Ends the client's stream (shutdown). */
  end(): void;
}

export class LiveHub {
  readonly #clients = new Set<LiveClient>();
  readonly #logger: Logger;
  #subscription: Subscription | undefined;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  start(bus: Bus): void {
    this.#subscription = bus.nc.subscribe(subjects.allEvents, {
      callback: (err, msg) => {
        if (err || this.#clients.size === 0) return;
        let message: LiveMessage;
        try {
          message =
            msg.subject === subjects.gatewayDecision
              ? { type: 'flow', data: liveFlowOf(fromBinary(FlowEventSchema, msg.data)) }
              : { type: 'event', data: eventRecordOf(fromBinary(LogEventSchema, msg.data)) };
        } catch (cause) {
          this.#logger.warn({ err: String(cause), subject: msg.subject }, 'undecodable event not streamed');
          return;
        }
        this.publish(message);
      },
    });
  }

  publish(message: LiveMessage): void {
    for (const client of this.#clients) {
      if (client.wants(message.data.namespace)) client.send(message);
    }
  }

  add(client: LiveClient): () => void {
    this.#clients.add(client);
    return () => this.#clients.delete(client);
  }

  /** Stop receiving and end every client's stream, so that the HTTP server can close. */
  stop(): void {
    this.#subscription?.unsubscribe();
    for (const client of this.#clients) client.end();
    this.#clients.clear();
  }
}
