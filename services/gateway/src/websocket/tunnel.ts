// One WebSocket carried after its upgrade: the client's socket and the application's, bytes copied both ways
// with backpressure, the frames' boundaries followed in each direction. When the registry closes it (the session
// ended, access was withdrawn), each side gets a Close frame with the reason between two frames — or, in the
// middle of one, the connection is cut — and no byte passes any more.
import type { Socket } from 'node:net';
import type { CloseReason } from './sockets.ts';
import { CloseCode, closeFrame, FrameBoundaries } from './frames.ts';

/** What each side is told when the gateway ends a WebSocket (the reason is for people: no detail, no identity). */
export const closeReasons: Readonly<Record<CloseReason, { code: number; text: string }>> = Object.freeze({
  'session-ended': { code: CloseCode.policyViolation, text: 'The session ended.' },
  'session-expired': { code: CloseCode.policyViolation, text: 'The session expired.' },
  'access-denied': { code: CloseCode.policyViolation, text: 'Access is no longer allowed.' },
  'service-removed': { code: CloseCode.policyViolation, text: 'The service is no longer served.' },
  unconfirmed: { code: CloseCode.tryAgainLater, text: 'Access could not be confirmed; reconnect later.' },
  shutdown: { code: CloseCode.goingAway, text: 'The gateway is shutting down.' },
});

export interface TunnelEnd {
  /** Why the gateway closed it; undefined when a side closed it. */
  reason: CloseReason | undefined;
  /** Bytes from the client to the application, and back. */
  bytesIn: number;
  bytesOut: number;
}

/** How long a side that was sent a Close frame and the end of the stream may take to close before it is cut. */
const LINGER_MS = 2_000;

export class Tunnel {
  readonly #client: Socket;
  readonly #upstream: Socket;
  readonly #toClient = new FrameBoundaries();
  readonly #toUpstream = new FrameBoundaries();
  #reason: CloseReason | undefined;
  #closing = false;
  #bytesIn = 0;
  #bytesOut = 0;
  readonly ended: Promise<TunnelEnd>;

  /** `upstreamHead`: what the application sent after its 101, in the same read (already frames for the client). */
  constructor(client: Socket, upstream: Socket, upstreamHead: Buffer) {
    this.#client = client;
    this.#upstream = upstream;
    let open = 2;
    let resolveEnded: (end: TunnelEnd) => void;
    this.ended = new Promise((resolve) => (resolveEnded = resolve));
    const closed = () => {
      if (--open === 0) resolveEnded({ reason: this.#reason, bytesIn: this.#bytesIn, bytesOut: this.#bytesOut });
    };
    // One side gone: the other goes too — unless the gateway is closing both, each at its own pace.
    client.once('close', () => {
      if (!this.#closing) upstream.destroy();
      closed();
    });
    upstream.once('close', () => {
      if (!this.#closing) client.destroy();
      closed();
    });
    // Errors end the connection ('close' follows); they say nothing the other side must know.
    client.on('error', () => undefined);
    upstream.on('error', () => undefined);
    // A side that ends its stream: the other's ends too (a WebSocket's closing handshake is over by then).
    client.once('end', () => this.#closing || upstream.end());
    upstream.once('end', () => this.#closing || client.end());
    if (upstreamHead.length > 0) this.#relay(upstreamHead, this.#toClient, client, upstream, false);
    client.on('data', (chunk: Buffer) => this.#relay(chunk, this.#toUpstream, upstream, client, true));
    upstream.on('data', (chunk: Buffer) => this.#relay(chunk, this.#toClient, client, upstream, false));
    client.setNoDelay(true);
    upstream.setNoDelay(true);
  }

  #relay(chunk: Buffer, boundaries: FrameBoundaries, to: Socket, from: Socket, fromClient: boolean): void {
    // Once closing, nothing more passes: the Close frame was the last thing sent.
    if (this.#closing) return;
    boundaries.feed(chunk);
    if (fromClient) this.#bytesIn += chunk.length;
    else this.#bytesOut += chunk.length;
    if (!to.write(chunk)) {
      from.pause();
      to.once('drain', () => from.resume());
    }
  }

  /** End the WebSocket on the gateway's behalf: each side is told why (RFC 6455 Close frame) when it can be. */
  close(reason: CloseReason): void {
    if (this.#closing) return;
    this.#closing = true;
    this.#reason = reason;
    const { code, text } = closeReasons[reason];
    endWith(this.#client, this.#toClient.atBoundary ? closeFrame(code, text) : undefined);
    // The application is told as a client would tell it: with a masked frame.
    endWith(this.#upstream, this.#toUpstream.atBoundary ? closeFrame(code, text, true) : undefined);
  }
}

function endWith(side: Socket, frame: Buffer | undefined): void {
  if (side.destroyed) return;
  if (!frame) {
    side.destroy();
    return;
  }
  side.end(frame);
  setTimeout(() => side.destroy(), LINGER_MS).unref();
}
