// What a run of msctl may touch, passed in so that tests run it in-process.
import type { Env } from './config.ts';

export interface Writer {
  write(chunk: string): unknown;
}

export interface IO {
  readonly stdin: AsyncIterable<string | Uint8Array>;
  readonly stdout: Writer;
  readonly stderr: Writer;
  readonly env: Env;
}
