// A stand-in for the Bus in unit tests: it keeps the handlers served (and answers `call` with them, as a
// real request would reach them), answers requests with what a test gave (`answer`; nobody: no-responders),
// and records the events, broadcasts and raw publications made.
import { create, type DescMessage, type MessageInitShape, type MessageShape } from '@bufbuild/protobuf';
import { BusRequestError, type Bus, type Handler } from '@microseg/bus';
import type { EventInput, EventKind, RequestContract } from '@microseg/contracts';

export interface EmittedEvent {
  kind: EventKind;
  input: EventInput;
  options: { msgId?: string; id?: string; timeMs?: number };
}

export class FakeBus implements Pick<Bus, 'serve' | 'request' | 'emitEvent' | 'broadcast' | 'publishEvent'> {
  readonly #handlers = new Map<string, { contract: RequestContract; handler: Handler<DescMessage, DescMessage> }>();
  readonly #answers = new Map<string, (message: unknown) => unknown>();
  readonly events: EmittedEvent[] = [];
  /** Requests made, in order. */
  readonly requests: Array<{ subject: string; message: unknown }> = [];
  readonly broadcasts: Array<{ subject: string; message: unknown }> = [];
  readonly published: Array<{ subject: string; message: unknown; msgId: string }> = [];

  serve<C extends RequestContract>(contract: C, handler: Handler<C['request'], C['reply']>): void {
    if (this.#handlers.has(contract.subject)) throw new Error(`${contract.subject} is served twice`);
    this.#handlers.set(contract.subject, { contract, handler: handler });
  }

  /** The subjects served, in order. */
  get served(): string[] {
    return [...this.#handlers.keys()];
  }

  /** What the handler of `contract` answers to `message` (what it throws, thrown). */
  async call<C extends RequestContract>(contract: C, message: MessageInitShape<C['request']>): Promise<MessageInitShape<C['reply']>> {
    const served = this.#handlers.get(contract.subject);
    if (!served) throw new Error(`nothing serves ${contract.subject}`);
    return (await served.handler(create<DescMessage>(contract.request, message))) as MessageInitShape<C['reply']>;
  }

  /** How requests on `contract` are answered from now on (throw to fail them). */
  answer<C extends RequestContract>(contract: C, reply: (message: MessageInitShape<C['request']>) => MessageInitShape<C['reply']>): void {
    this.#answers.set(contract.subject, reply as (message: unknown) => unknown);
  }

  async request<C extends RequestContract>(contract: C, message: MessageInitShape<C['request']>): Promise<MessageShape<C['reply']>> {
    this.requests.push({ subject: contract.subject, message });
    const reply = this.#answers.get(contract.subject);
    if (!reply) throw new BusRequestError('no-responders', contract.subject);
    return create(contract.reply, reply(message) as MessageInitShape<C['reply']>) as MessageShape<C['reply']>;
  }

  emitEvent(kind: EventKind, input: EventInput, options: EmittedEvent['options'] = {}): string {
    this.events.push({ kind, input, options });
    return options.id ?? `event-${this.events.length}`;
  }

  broadcast<S extends DescMessage>(subject: string, _schema: S, message: MessageInitShape<S>): void {
    this.broadcasts.push({ subject, message });
  }

  publishEvent<S extends DescMessage>(subject: string, _schema: S, message: MessageInitShape<S>, msgId: string): void {
    this.published.push({ subject, message, msgId });
  }
}
