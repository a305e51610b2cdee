// h2load (nghttp2's HTTP/2 load generator; wrk speaks HTTP/1.1 only): maximum throughput over HTTP/2, closed
// loop, with a hard time bound. Its report is read into wrk's shape, so that an HTTP/2 scenario fills the same
// row of the report; h2load gives no latency percentiles (NaN here).
import { spawn } from 'node:child_process';
import type { WrkResult } from './wrk.ts';

export interface H2loadOptions {
  url: string;
  durationSec: number;
  warmupSec?: number;
  /** Connections (`-c`), and streams in flight on each (`-m`). */
  connections?: number;
  streamsPerConnection?: number;
  headers?: Record<string, string>;
}

export function parseH2load(out: string): WrkResult {
  const finished = /finished in ([\d.]+)s, ([\d.]+) req\/s/.exec(out);
  const requests = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(out);
  const codes = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(out);
  if (!finished || !requests || !codes) throw new Error(`h2load printed no summary:\n${out}`);
  const requestsPerSec = Number(finished[2]);
  const done = Number(requests[3]);
  const non2xx3xx = Number(codes[3]) + Number(codes[4]);
  const errored = Number(requests[6]);
  const timeout = Number(requests[7]);
  return {
    requests: done,
    requestsPerSec,
    // The measured part only (h2load's "finished in" counts the warm-up too).
    durationSec: requestsPerSec > 0 ? done / requestsPerSec : 0,
    latency: { p50: NaN, p75: NaN, p90: NaN, p99: NaN },
    non2xx3xx,
    socketErrors: { connect: 0, read: errored, write: 0, timeout },
    errors: non2xx3xx + errored + timeout,
    raw: out,
  };
}

export function runH2load(options: H2loadOptions, h2loadPath = '/usr/bin/h2load'): Promise<WrkResult> {
  const args = [
    '-c',
    String(options.connections ?? 32),
    '-m',
    String(options.streamsPerConnection ?? 1),
    '-D',
    String(options.durationSec),
    `--warm-up-time=${options.warmupSec ?? 0}`,
  ];
  for (const [name, value] of Object.entries(options.headers ?? {})) args.push('-H', `${name}: ${value}`);
  args.push(options.url);
  return new Promise((resolve, reject) => {
    const child = spawn(h2loadPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const limit = setTimeout(() => child.kill('SIGKILL'), ((options.warmupSec ?? 0) + options.durationSec + 20) * 1000);
    const onExit = () => child.kill('SIGKILL');
    process.once('exit', onExit);
    child.once('error', (e) => {
      clearTimeout(limit);
      process.off('exit', onExit);
      reject(new Error(`h2load could not start (${h2loadPath}): ${e.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(limit);
      process.off('exit', onExit);
      if (code !== 0) return reject(new Error(`h2load ${args.join(' ')} ended with ${signal ?? `code ${code}`}: ${err || out}`));
      try {
        const result = parseH2load(out);
        // A run that never spoke HTTP/2 measured something else.
        if (!/Application protocol: h2/.test(out)) throw new Error(`h2load did not negotiate h2:\n${out}`);
        resolve(result);
      } catch (e) {
        reject(e instanceof Error ? e : new Error(String(e)));
      }
    });
  });
}
