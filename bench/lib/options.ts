// The options of `npm run bench`, read and checked before anything starts; what `--only` selects; and the
// constant rate of the latency runs when the run does not measure the gateway's public maximum.
import { parseArgs } from 'node:util';

/** The measured scenarios by key, in the order they run and are reported (run.ts builds one for each). */
export const SCENARIOS: ReadonlyArray<readonly [key: string, what: string]> = [
  ['direct', 'the demo app directly, /public/hello'],
  ['direct-root', 'the demo app directly, the welcome page /'],
  ['nginx', 'nginx as a plain TLS reverse proxy'],
  ['node-proxy', 'the smallest Node proxy'],
  ['gw-public', "the gateway's public endpoint"],
  ['gw-public-h2', "the gateway's public endpoint over HTTP/2 (h2load)"],
  ['gw-live', 'the gateway, protected, live session'],
  ['nginx-forward-auth', "nginx in front of the app asking the gateway's forward-auth port (auth_request), live session"],
  ['gw-live-same', 'the gateway, protected rule on the public page, live session'],
  ['gw-cold', 'the gateway, protected, fresh session per batch'],
];

/** The measurements after the scenarios. */
export const PHASES: ReadonlyArray<readonly [key: string, what: string]> = [
  ['logins', 'logins per second through the code flow'],
  ['invalidation', 'revocation and a policy change under load'],
  ['memory', 'memory with many live sessions'],
];

export interface BenchOptions {
  profile: boolean;
  durationSec: number;
  warmupSec: number;
  connections: number;
  batch: number;
  sessions: number;
  loginConcurrency: number;
  /** The constant rate of the latency runs (default: half the gateway's public maximum). */
  rate: number | undefined;
  /** What `--only` selected (undefined: everything). */
  only: ReadonlySet<string> | undefined;
  write: boolean;
  keep: boolean;
  help: boolean;
}

export class UsageError extends Error {}

export const HELP = `npm run bench [-- options]
  --profile               also profile the gateway (--cpu-prof) on the protected scenario; prints the top 10 self-time frames
  --only A,B,…            run only these scenarios and phases (names below); the others are left out of the report.
                          A partial run writes bench/results/<date>.md but leaves bench/results/latest.md alone
  --duration S            seconds of each measured run (10)
  --warmup S              seconds of wrk warm-up before each maximum run (3)
  --connections N         connections of wrk and of the constant-rate generator (32)
  --rate R                requests per second of the latency runs (default: half the gateway's public maximum; without
                          gw-public in --only, half the lowest maximum measured)
  --batch N               requests per fresh session in the cold-cache scenario (10)
  --sessions N            live sessions for the memory test (10000)
  --login-concurrency N   concurrent logins in the logins-per-second scenario (6)
  --no-write              print only; do not write bench/results/
  --keep                  keep the data directory (service logs, nginx files) even when the run succeeds

scenarios:
${SCENARIOS.map(([k, w]) => `  ${k.padEnd(22)}  ${w}`).join('\n')}
phases:
${PHASES.map(([k, w]) => `  ${k.padEnd(22)}  ${w}`).join('\n')}`;

export function parseBenchOptions(args: string[]): BenchOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        profile: { type: 'boolean', default: false },
        only: { type: 'string' },
        duration: { type: 'string', default: '10' },
        warmup: { type: 'string', default: '3' },
        connections: { type: 'string', default: '32' },
        rate: { type: 'string' },
        batch: { type: 'string', default: '10' },
        sessions: { type: 'string', default: '10000' },
        'login-concurrency': { type: 'string', default: '6' },
        'no-write': { type: 'boolean', default: false },
        keep: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const positive = (name: string, text: string) => {
    const n = Number(text);
    if (text.trim() === '' || !Number.isFinite(n) || n <= 0) throw new UsageError(`--${name} must be a positive number, not ${JSON.stringify(text)}`);
    return n;
  };
  return {
    profile: values.profile,
    durationSec: positive('duration', values.duration),
    warmupSec: positive('warmup', values.warmup),
    connections: positive('connections', values.connections),
    rate: values.rate === undefined ? undefined : positive('rate', values.rate),
    batch: positive('batch', values.batch),
    sessions: positive('sessions', values.sessions),
    loginConcurrency: positive('login-concurrency', values['login-concurrency']),
    only: values.only === undefined ? undefined : parseOnly(values.only),
    write: !values['no-write'],
    keep: values.keep,
    help: values.help,
  };
}

/** `--only a,b`: known names only, at least one. */
export function parseOnly(text: string): ReadonlySet<string> {
  const names = text
    .split(',')
    .map((n) => n.trim())
    .filter(Boolean);
  const known = new Set([...SCENARIOS, ...PHASES].map(([k]) => k));
  const unknown = names.filter((n) => !known.has(n));
  if (unknown.length) throw new UsageError(`--only: unknown ${unknown.map((n) => JSON.stringify(n)).join(', ')}; known: ${[...known].join(', ')}`);
  if (names.length === 0) throw new UsageError(`--only needs at least one of: ${[...known].join(', ')}`);
  return new Set(names);
}

/** Whether a scenario or phase runs. */
export const runs = (o: Pick<BenchOptions, 'only'>, key: string): boolean => o.only === undefined || o.only.has(key);

/**
 * The constant rate of the latency runs, and what it is: `--rate`, else half the gateway's public maximum, else
 * (a partial run without it) half the lowest maximum measured, so that no scenario is driven past its maximum.
 */
export function constantRate(override: number | undefined, publicMax: number | undefined, maxima: number[]): { rate: number; basis: string } {
  if (override !== undefined) return { rate: Math.max(1, Math.floor(override)), basis: 'set with --rate' };
  if (publicMax !== undefined && publicMax > 0) return { rate: Math.max(1, Math.floor(publicMax / 2)), basis: "half the gateway's public maximum" };
  const lowest = Math.min(...maxima.filter((m) => m > 0));
  if (Number.isFinite(lowest))
    return { rate: Math.max(1, Math.floor(lowest / 2)), basis: "half the lowest maximum of this run (the gateway's public one was not measured)" };
  return { rate: 100, basis: 'no maximum was measured: 100 req/s' };
}
