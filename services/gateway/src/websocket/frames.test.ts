import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeFrame, CloseCode, FrameBoundaries } from './frames.ts';

/** A frame as RFC 6455 §5.2 lays it out: FIN + opcode, length (7, 16 or 64 bits), optional mask key, payload. */
function frame(opcode: number, payload: Buffer, masked = false): Buffer {
  const length = payload.length;
  const head =
    length < 126
      ? Buffer.from([0x80 | opcode, (masked ? 0x80 : 0) | length])
      : length < 65536
        ? Buffer.from([0x80 | opcode, (masked ? 0x80 : 0) | 126, length >> 8, length & 0xff])
        : Buffer.concat([Buffer.from([0x80 | opcode, (masked ? 0x80 : 0) | 127]), bigLength(length)]);
  if (!masked) return Buffer.concat([head, payload]);
  const key = Buffer.from([1, 2, 3, 4]);
  return Buffer.concat([head, key, Buffer.from(payload.map((b, i) => b ^ key[i % 4]!))]);
}

function bigLength(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

/** Feeds `bytes` in pieces of `size` and says after how many bytes the tracker stood at a boundary. */
function boundariesSeen(bytes: Buffer, size: number): number[] {
  const tracker = new FrameBoundaries();
  const seen: number[] = [];
  for (let i = 0; i < bytes.length; i += size) {
    tracker.feed(bytes.subarray(i, i + size));
    if (tracker.atBoundary) seen.push(Math.min(i + size, bytes.length));
  }
  return seen;
}

test('at a boundary before anything and after each whole frame, whatever the sizes of the pieces', () => {
  const small = frame(1, Buffer.from('hello'));
  const medium = frame(2, Buffer.alloc(300, 7));
  const large = frame(2, Buffer.alloc(70_000, 9));
  const masked = frame(1, Buffer.from('from a client'), true);
  const empty = frame(9, Buffer.alloc(0));
  const stream = Buffer.concat([small, medium, large, masked, empty]);
  const ends = [small, medium, large, masked, empty].reduce<number[]>((acc, f) => [...acc, (acc.at(-1) ?? 0) + f.length], []);
  assert.ok(new FrameBoundaries().atBoundary);
  // Byte by byte: a boundary exactly at each frame's end.
  assert.deepEqual(boundariesSeen(stream, 1), ends);
  // The whole stream at once, and in odd pieces that cut headers and lengths in two.
  assert.deepEqual(boundariesSeen(stream, stream.length), [stream.length]);
  for (const size of [3, 7, 1000]) for (const at of boundariesSeen(stream, size)) assert.ok(ends.includes(at), `piece size ${size}: ${at}`);
});

test('inside a header or a payload is not a boundary', () => {
  const f = frame(1, Buffer.alloc(200, 1));
  const tracker = new FrameBoundaries();
  tracker.feed(f.subarray(0, 1));
  assert.equal(tracker.atBoundary, false, 'half a header');
  tracker.feed(f.subarray(1, 3));
  assert.equal(tracker.atBoundary, false, 'half an extended length');
  tracker.feed(f.subarray(3, 50));
  assert.equal(tracker.atBoundary, false, 'inside the payload');
  tracker.feed(f.subarray(50));
  assert.equal(tracker.atBoundary, true);
});

test('a Close frame: code and reason, unmasked from the server, masked with a fresh key towards the application', () => {
  const plain = closeFrame(CloseCode.policyViolation, 'The session ended.');
  assert.equal(plain[0], 0x88, 'FIN + Close');
  assert.equal(plain[1], 2 + 'The session ended.'.length, 'not masked, length');
  assert.equal(plain.readUInt16BE(2), 1008);
  assert.equal(plain.subarray(4).toString(), 'The session ended.');

  const masked = closeFrame(CloseCode.goingAway, 'bye', true);
  assert.equal(masked[1]! & 0x80, 0x80, 'masked');
  const key = masked.subarray(2, 6);
  const payload = Buffer.from(masked.subarray(6).map((b, i) => b ^ key[i % 4]!));
  assert.equal(payload.readUInt16BE(0), 1001);
  assert.equal(payload.subarray(2).toString(), 'bye');
  assert.notDeepEqual(closeFrame(1001, 'bye', true).subarray(2, 6), key, 'a new key every time');

  // A reason is at most 123 bytes (a control frame's payload is at most 125).
  assert.equal(closeFrame(1008, 'x'.repeat(500)).length, 2 + 125);
  // A tracker reads the gateway's own frames as frames.
  const tracker = new FrameBoundaries();
  tracker.feed(Buffer.concat([plain, masked]));
  assert.ok(tracker.atBoundary);
});
