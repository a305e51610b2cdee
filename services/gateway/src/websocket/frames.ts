// Just enough of RFC 6455's framing for the gateway to end a WebSocket it carries: where frames end in each
// direction (so that a Close frame is written between two frames, never inside one), and the Close frame
// itself. The gateway never reads, decodes or changes what the frames carry.
import { randomBytes } from 'node:crypto';

/**
 * Follows the frame boundaries of one direction of a WebSocket from the bytes that pass (RFC 6455 §5.2): the
 * header's length fields and mask bit say how long each frame is. `atBoundary` is true when the bytes seen so
 * far end exactly after a frame.
 */
export class FrameBoundaries {
  /** The header bytes of the frame being read, until it is complete. */
  #header = Buffer.alloc(0);
  /** Payload bytes of the current frame not seen yet. */
  #remaining = 0;

  get atBoundary(): boolean {
    return this.#remaining === 0 && this.#header.length === 0;
  }

  /** Account for `chunk`, the next bytes of this direction. */
  feed(chunk: Buffer): void {
    let offset = 0;
    while (offset < chunk.length) {
      if (this.#remaining > 0) {
        const take = Math.min(this.#remaining, chunk.length - offset);
        this.#remaining -= take;
        offset += take;
        continue;
      }
      // A header: 2 bytes, then 0, 2 or 8 bytes of extended length, then 4 of mask key when masked.
      const need = this.#header.length < 2 ? 2 : headerLength(this.#header);
      const take = Math.min(need - this.#header.length, chunk.length - offset);
      this.#header = Buffer.concat([this.#header, chunk.subarray(offset, offset + take)]);
      offset += take;
      if (this.#header.length < 2 || this.#header.length < headerLength(this.#header)) continue;
      this.#remaining = payloadLength(this.#header);
      this.#header = Buffer.alloc(0);
    }
  }
}

function headerLength(header: Buffer): number {
  const length7 = header[1]! & 0x7f;
  const masked = (header[1]! & 0x80) !== 0;
  return 2 + (length7 === 126 ? 2 : length7 === 127 ? 8 : 0) + (masked ? 4 : 0);
}

function payloadLength(header: Buffer): number {
  const length7 = header[1]! & 0x7f;
  if (length7 === 126) return header.readUInt16BE(2);
  // Lengths past 2^53 cannot be sent in any time that matters; Number is exact below that.
  if (length7 === 127) return Number(header.readBigUInt64BE(2));
  return length7;
}

/** Close codes the gateway sends (RFC 6455 §7.4.1). */
export const CloseCode = Object.freeze({
  /** The gateway is shutting down. */
  goingAway: 1001,
  /** The session ended or access is no longer allowed. */
  policyViolation: 1008,
  /** Access could not be confirmed right now (authn or policy away): the client may retry later. */
  tryAgainLater: 1013,
});

/**
 * A Close frame with `code` and `reason` (the gateway's own short ASCII texts; cut at 123 bytes). A server's frames are not
 * masked; a client's must be (RFC 6455 §5.3), with a fresh key: `masked` for frames the gateway sends to the
 * application in the client's place.
 */
export function closeFrame(code: number, reason: string, masked = false): Buffer {
  const text = Buffer.from(reason, 'utf8').subarray(0, 123);
  const payload = Buffer.alloc(2 + text.length);
  payload.writeUInt16BE(code, 0);
  text.copy(payload, 2);
  const header = Buffer.from([0x88, (masked ? 0x80 : 0) | payload.length]);
  if (!masked) return Buffer.concat([header, payload]);
  const key = randomBytes(4);
  for (let i = 0; i < payload.length; i++) payload[i] = payload[i]! ^ key[i % 4]!;
  return Buffer.concat([header, key, payload]);
}
