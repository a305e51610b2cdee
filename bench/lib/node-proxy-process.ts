// Starts bench/lib/node-proxy.ts as its own process (so that its CPU is its own) and waits until it listens.
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isListening, waitFor } from '@microseg/testkit';

export interface RunningNodeProxy {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

export async function startNodeProxy(o: { port: number; upstreamPort: number; certFile: string; keyFile: string; logFile: string }): Promise<RunningNodeProxy> {
  const script = join(dirname(fileURLToPath(import.meta.url)), 'node-proxy.ts');
  const log = createWriteStream(o.logFile, { flags: 'a' });
  const child = spawn(process.execPath, [script, String(o.port), String(o.upstreamPort), o.certFile, o.keyFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await waitFor(
    'the node proxy to listen',
    async () => {
      if (child.exitCode !== null) throw new Error(`the node proxy exited with ${child.exitCode} (log: ${o.logFile})`);
      return isListening('127.0.0.1', o.port);
    },
    10_000,
    50,
  );
  return {
    url: `https://localhost:${o.port}`,
    pid: child.pid!,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}
