// Between a gateway's primary and its workers, over node:cluster's IPC channel: the primary asks a worker for
// its readiness or its metrics (an answer, or nothing within the time given), and a worker says when it has
// started serving. Every message carries a tag, so node's own messages and anyone else's pass by.

const TAG = 'microseg-gateway-worker';

export type Question = 'readiness' | 'metrics';

type Message =
  | { tag: typeof TAG; type: 'ask'; id: number; question: Question }
  | { tag: typeof TAG; type: 'answer'; id: number; value?: unknown; error?: string }
  | { tag: typeof TAG; type: 'started' };

/** A cluster Worker (primary side) or `process` (worker side). */
export interface Channel {
  send(message: unknown): unknown;
  on(event: 'message', listener: (message: unknown) => void): unknown;
}

function isMessage(value: unknown): value is Message {
  return typeof value === 'object' && value !== null && (value as { tag?: unknown }).tag === TAG;
}

/** The primary's end of one worker's channel. */
export class WorkerLink {
  readonly #channel: Channel;
  readonly #pending = new Map<number, { resolve: (value: unknown) => void; reject: (err: Error) => void; timer: NodeJS.Timeout }>();
  #next = 0;
  #closed = false;
  #onStarted: () => void = () => undefined;

  constructor(channel: Channel) {
    this.#channel = channel;
    channel.on('message', (message) => {
      if (!isMessage(message)) return;
      if (message.type === 'started') this.#onStarted();
      if (message.type !== 'answer') return;
      const pending = this.#pending.get(message.id);
      if (!pending) return;
      this.#pending.delete(message.id);
      clearTimeout(pending.timer);
      if (message.error !== undefined) pending.reject(new Error(message.error));
      else pending.resolve(message.value);
    });
  }

  /** Called once the worker says it serves. */
  onStarted(listener: () => void): void {
    this.#onStarted = listener;
  }

  /** The worker's answer; rejects when it gives none within `timeoutMs`, fails, or has gone. */
  ask(question: Question, timeoutMs: number): Promise<unknown> {
    if (this.#closed) return Promise.reject(new Error('the worker has gone'));
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`no answer to ${question} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, { resolve, reject, timer });
      try {
        this.#channel.send({ tag: TAG, type: 'ask', id, question } satisfies Message);
      } catch (err) {
        // The channel closed under us (the worker is exiting).
        this.#pending.delete(id);
        clearTimeout(timer);
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
  }

  /** The worker has gone: every question still waiting fails now. */
  close(): void {
    this.#closed = true;
    for (const { reject, timer } of this.#pending.values()) {
      clearTimeout(timer);
      reject(new Error('the worker has gone'));
    }
    this.#pending.clear();
  }
}

/** The worker's end: answers the primary's questions; `started()` says it serves. */
export function answerPrimary(channel: Channel, answers: Record<Question, () => Promise<unknown>>): { started(): void } {
  const send = (message: Message) => {
    try {
      channel.send(message);
    } catch {
      // The primary has gone; the worker stops on 'disconnect' (worker.ts).
    }
  };
  channel.on('message', (message) => {
    if (!isMessage(message) || message.type !== 'ask') return;
    const answer = Object.hasOwn(answers, message.question) ? answers[message.question] : undefined;
    if (!answer) return send({ tag: TAG, type: 'answer', id: message.id, error: `no such question: ${String(message.question)}` });
    answer().then(
      (value) => send({ tag: TAG, type: 'answer', id: message.id, value }),
      (err: unknown) => send({ tag: TAG, type: 'answer', id: message.id, error: err instanceof Error ? err.message : String(err) }),
    );
  });
  return { started: () => send({ tag: TAG, type: 'started' }) };
}
