// wrk (maximum throughput, closed loop): run it with a hard time bound and parse its report.
import { spawn } from 'node:child_process';

export interface WrkOptions {
  url: string;
  durationSec: number;
  connections?: number;
  threads?: number;
  headers?: Record<string, string>;
  /** Lua script and its arguments (after `--`). */
  script?: string;
  scriptArgs?: string[];
  timeoutSec?: number;
}

export interface WrkResult {
  requests: number;
  requestsPerSec: number;
  durationSec: number;
  /** Closed-loop latencies (wrk's own, subject to coordinated omission; for information only), ms. */
  latency: { p50: number; p75: number; p90: number; p99: number };
  non2xx3xx: number;
  socketErrors: { connect: number; read: number; write: number; timeout: number };
  /** Non-2xx/3xx responses plus socket errors. */
  errors: number;
  raw: string;
}

const unitMs: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

function durationMs(text: string): number {
  const m = /^([\d.]+)(us|ms|s|m|h)$/.exec(text.trim());
  return m ? Number(m[1]) * unitMs[m[2]!]! : NaN;
}

export function parseWrk(out: string): WrkResult {
  const num = (re: RegExp) => {
    const m = re.exec(out);
    return m ? Number(m[1]) : 0;
  };
  const total = /(\d+) requests in ([\d.]+)(us|ms|s|m)/.exec(out);
  if (!total) throw new Error(`wrk printed no summary:\n${out}`);
  const pct = (p: string) => {
    const m = new RegExp(`^\\s+${p}%\\s+(\\S+)`, 'm').exec(out);
    return m ? durationMs(m[1]!) : NaN;
  };
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const socketErrors = sock
    ? { connect: Number(sock[1]), read: Number(sock[2]), write: Number(sock[3]), timeout: Number(sock[4]) }
    : { connect: 0, read: 0, write: 0, timeout: 0 };
  const non2xx3xx = num(/Non-2xx or 3xx responses: (\d+)/);
  return {
    requests: Number(total[1]),
    durationSec: durationMs(`${total[2]}${total[3]}`) / 1000,
    requestsPerSec: num(/Requests\/sec:\s+([\d.]+)/),
    latency: { p50: pct('50'), p75: pct('75'), p90: pct('90'), p99: pct('99') },
    non2xx3xx,
    socketErrors,
    errors: non2xx3xx + socketErrors.connect + socketErrors.read + socketErrors.write + socketErrors.timeout,
    raw: out,
  };
}

export function runWrk(options: WrkOptions, wrkPath = '/usr/bin/wrk'): Promise<WrkResult> {
  const args = [
    '-t',
    String(options.threads ?? 1),
    '-c',
    String(options.connections ?? 32),
    '-d',
    `${options.durationSec}s`,
    '--latency',
    '--timeout',
    `${options.timeoutSec ?? 5}s`,
  ];
  for (const [name, value] of Object.entries(options.headers ?? {})) args.push('-H', `${name}: ${value}`);
  if (options.script) args.push('-s', options.script);
  args.push(options.url);
  if (options.scriptArgs?.length) args.push('--', ...options.scriptArgs);
  return new Promise((resolve, reject) => {
    const child = spawn(wrkPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    // wrk ends on its own after the duration; never wait much longer than that.
    const limit = setTimeout(() => child.kill('SIGKILL'), (options.durationSec + 20) * 1000);
    const onExit = () => child.kill('SIGKILL');
    process.once('exit', onExit);
    child.once('error', (e) => {
      clearTimeout(limit);
      process.off('exit', onExit);
      reject(new Error(`wrk could not start (${wrkPath}): ${e.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(limit);
      process.off('exit', onExit);
      if (code !== 0) return reject(new Error(`wrk ${args.join(' ')} ended with ${signal ?? `code ${code}`}: ${err || out}`));
      try {
        resolve(parseWrk(out));
      } catch (e) {
        reject(e instanceof Error ? e : new Error(String(e)));
      }
    });
  });
}
