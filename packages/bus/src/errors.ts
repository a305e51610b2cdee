/** A request over the bus got no usable answer: the caller must fail closed. */
export class BusRequestError extends Error {
  readonly kind: 'timeout' | 'no-responders' | 'disconnected' | 'bad-reply';
  readonly subject: string;
  constructor(kind: BusRequestError['kind'], subject: string, options?: { cause?: unknown }) {
    super(`request on ${subject} failed: ${kind}`, options);
    this.name = 'BusRequestError';
    this.kind = kind;
    this.subject = subject;
  }
}
