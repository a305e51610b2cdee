// `npm run bench:soak [-- --minutes N] [--rate R]`: a constant rate on the protected
// endpoint (live session) for N minutes (default 5) at half the gateway's public
// maximum (measured first with wrk) or at --rate; the gateway's RSS sampled every
// 5 s. PASS when there is no error and RSS is flat: its least-squares slope over the
// last 4 minutes (the first minute is warm-up) stays within ±2 MB/min.
//
// Why 2 MB/min: RSS of a V8 process moves in steps of several MB as the young
// generation fills and the heap grows or shrinks, so 48 samples over 4 minutes carry
// about ±1 MB/min of noise; a real leak is tied to requests, and at 1,000 req/s even
// 35 bytes kept per request is 2 MB/min — every per-request leak shows up far above.
import { parseArgs } from 'node:util';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runConstantRate } from './constant-rate.ts';
import { ensureTools, MissingToolError, WRK } from './lib/tools.ts';
import { Cleanup, gatewayHeap, SESSION_COOKIE, startBenchCluster } from './lib/setup.ts';
import { runWrk } from './lib/wrk.ts';
import { CpuMeter, loadAverage, rssMb } from './lib/proc.ts';
import { int, mb, ms, pct, plain, table, verdict } from './lib/format.ts';

const benchDir = dirname(fileURLToPath(import.meta.url));
const SAMPLE_EVERY_MS = 5_000;
const FLAT_MB_PER_MIN = 2;

const { values: opts } = parseArgs({
  options: {
    minutes: { type: 'string', default: '5' },
    rate: { type: 'string' },
    connections: { type: 'string', default: '32' },
    'no-write': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (opts.help) {
  console.log(`npm run bench:soak [-- options]
  --minutes N      length of the soak (5)
  --rate R         requests per second (default: half the gateway's public maximum, measured first)
  --connections N  keep-alive connections (32)
  --no-write       print only; do not write bench/results/soak-<date>.md`);
  process.exit(0);
}
const MINUTES = Number(opts.minutes);
const CONNECTIONS = Number(opts.connections);
if (!(MINUTES > 0) || !(CONNECTIONS > 0) || (opts.rate !== undefined && !(Number(opts.rate) > 0))) {
  console.error('bench:soak: --minutes, --connections and --rate must be positive numbers');
  process.exit(2);
}

const log = (line: string) => process.stdout.write(`${line}\n`);

/** Least-squares slope of (minutes, MB). */
export function slopePerMinute(points: Array<{ atMs: number; mb: number }>): number {
  const n = points.length;
  if (n < 2) return NaN;
  const xs = points.map((p) => p.atMs / 60_000);
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = points.reduce((a, p) => a + p.mb, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (points[i]!.mb - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den === 0 ? NaN : num / den;
}

async function main(): Promise<number> {
  const started = new Date();
  let tools: Record<string, string>;
  try {
    tools = ensureTools([WRK], log);
  } catch (err) {
    if (err instanceof MissingToolError) {
      console.error(`bench:soak: ${err.message}`);
      return 2;
    }
    throw err;
  }
  let succeeded = false;
  const cleanup = new Cleanup(log);
  const loadAtStart = loadAverage();
  try {
    const bc = await startBenchCluster(cleanup, log, () => !succeeded);
    const { cluster } = bc;
    const gwPort = cluster.ports.gateway;
    const cookie = await bc.loginAlice();

    let rate = opts.rate === undefined ? NaN : Math.floor(Number(opts.rate));
    let publicMax: number | undefined;
    if (opts.rate === undefined) {
      log("maximum of the gateway's public endpoint (wrk, 3 s warm-up, 10 s) …");
      const url = `https://localhost:${gwPort}/public/hello`;
      await runWrk({ url, durationSec: 3, connections: CONNECTIONS }, tools.wrk);
      publicMax = (await runWrk({ url, durationSec: 10, connections: CONNECTIONS }, tools.wrk)).requestsPerSec;
      rate = Math.max(1, Math.floor(publicMax / 2));
      // A fresh gateway for the soak: the maximum run inflates V8's heap, and its release minutes later would
      // read as a falling RSS. alice's session is in Redis and stays valid across the restart.
      await cluster.stopService('gateway');
      await cluster.startService('gateway');
    }
    const durationMs = MINUTES * 60_000;
    log(`soak: ${rate} req/s on / (live session) for ${MINUTES} min, gateway RSS every ${SAMPLE_EVERY_MS / 1000} s`);

    const pid = () => cluster.pid('gateway');
    const samples: Array<{ atMs: number; mb: number }> = [];
    // The V8 heap in use beside RSS: a leak of objects shows in both, native growth in RSS only.
    const heapSamples: Array<{ atMs: number; mb: number }> = [];
    const meter = new CpuMeter({ gateway: pid(), authn: cluster.pid('authn') });
    let t0 = 0;
    let timer: NodeJS.Timeout | undefined;
    const sample = () => {
      const atMs = performance.now() - t0;
      const value = rssMb(pid());
      if (value !== undefined) samples.push({ atMs, mb: value });
      void gatewayHeap(cluster).then((h) => h && heapSamples.push({ atMs, mb: h.heapUsedMb }));
      const last = samples.at(-1);
      if (last && samples.length % 6 === 1) log(`  ${(last.atMs / 60_000).toFixed(1)} min: gateway RSS ${mb(last.mb)}`);
    };
    const result = await runConstantRate({
      url: `${bc.gatewayOrigin}/`,
      rate,
      durationMs,
      warmupMs: 2_000,
      connections: CONNECTIONS,
      servername: 'localhost',
      headers: { host: `localhost:${gwPort}`, cookie: `${SESSION_COOKIE}=${cookie}` },
      timeoutMs: 5_000,
      drainMs: 10_000,
      onMeasureStart: () => {
        t0 = performance.now();
        meter.start();
        sample();
        timer = setInterval(sample, SAMPLE_EVERY_MS);
      },
    }).finally(() => clearInterval(timer));
    sample();
    const cpu = meter.stop();

    // The last 4 minutes (the first is warm-up); for a shorter soak, everything after its first fifth.
    const windowMin = MINUTES >= 5 ? 4 : MINUTES * 0.8;
    const fromMs = durationMs - windowMin * 60_000;
    const window = samples.filter((s) => s.atMs >= fromMs);
    const slope = slopePerMinute(window);
    // Heap "in use" counts garbage not yet collected (a sawtooth of ~100 MB under load, and the old generation
    // climbs between major collections a minute or two apart): its lowest reading of each minute is shown, not
    // fitted — a slope over a few such cycles would be noise. RSS is what the verdict uses.
    const floors: number[] = [];
    for (let t = 0; t < durationMs; t += 60_000) {
      const inWindow = heapSamples.filter((h) => h.atMs >= t && h.atMs < t + 60_000).map((h) => h.mb);
      if (inWindow.length) floors.push(Math.min(...inWindow));
    }
    // Flat both ways: a leak climbs, and a large fall means RSS was inflated and released, not steady.
    const flat = Number.isFinite(slope) && Math.abs(slope) < FLAT_MB_PER_MIN;
    const pass = result.errors === 0 && flat;
    const bytesPerRequest = (slope * 1024 * 1024) / (rate * 60);
    const loadAtEnd = loadAverage();

    const summary = table(
      ['Soak', 'Measured', 'Result'],
      [
        [
          `errors (of ${int(result.scheduled)} requests)`,
          `${result.errors}${result.errors ? ` ${JSON.stringify(result.errorKinds)}` : ''}`,
          verdict(result.errors === 0),
        ],
        [
          `gateway RSS slope, last ${windowMin} min (flat: within ±${FLAT_MB_PER_MIN} MB/min)`,
          `${slope.toFixed(2)} MB/min (${Number.isFinite(bytesPerRequest) ? bytesPerRequest.toFixed(1) : '—'} bytes per request)`,
          verdict(flat),
        ],
        [
          'gateway RSS first / last / lowest / peak',
          `${mb(samples[0]?.mb)} / ${mb(samples.at(-1)?.mb)} / ${mb(Math.min(...samples.map((s) => s.mb)))} / ${mb(Math.max(...samples.map((s) => s.mb)))}`,
          '',
        ],
        [
          'V8 heap in use: range; lowest reading of each minute',
          `${mb(Math.min(...heapSamples.map((h) => h.mb)))} – ${mb(Math.max(...heapSamples.map((h) => h.mb)))}; ${floors.map((f) => Math.round(f)).join(', ')} MB`,
          '',
        ],
        [
          `latency at ${rate} req/s, p50 / p99 / p99.9 / max`,
          `${ms(result.latency.p50)} / ${ms(result.latency.p99)} / ${ms(result.latency.p999)} / ${ms(result.latency.max)} ms`,
          '',
        ],
        ['CPU (% of one core): gateway / authn / not ours', `${pct(cpu.byName.gateway)} / ${pct(cpu.byName.authn)} / ${pct(cpu.foreign)}`, ''],
      ],
    );
    log(`\n${plain(summary)}\n\nsoak: ${pass ? 'PASS' : 'MISS'}`);

    const md = `# microseg soak — ${started.toISOString()}

${MINUTES} min at a constant ${rate} req/s${publicMax ? ` (half the gateway's public maximum, ${int(publicMax)} req/s with wrk)` : ' (--rate)'} on the protected
endpoint \`/\` with a live session (a freshly restarted gateway when the rate was measured first), ${CONNECTIONS} keep-alive connections, latencies from the intended send time; cluster isolated,
\`LOG_LEVEL=warn\`. Gateway RSS sampled every ${SAMPLE_EVERY_MS / 1000} s; flat = least-squares slope over the last ${windowMin} min within
±${FLAT_MB_PER_MIN} MB/min (V8's heap moves RSS by several MB, about ±1 MB/min of noise over 4 minutes; a leak of 35 bytes per request at
1,000 req/s is already 2 MB/min). Load average at start ${loadAtStart.map((x) => x.toFixed(2)).join(' ')}, at end ${loadAtEnd.map((x) => x.toFixed(2)).join(' ')}.

**Result: ${pass ? 'PASS' : 'MISS'}**

${summary}

RSS samples (minute: MB):
${samples.map((s) => `${(s.atMs / 60_000).toFixed(2)}: ${s.mb.toFixed(0)}`).join(', ')}

V8 heap in use (minute: MB):
${heapSamples.map((s) => `${(s.atMs / 60_000).toFixed(2)}: ${s.mb.toFixed(0)}`).join(', ')}
`;
    if (!opts['no-write']) {
      const dir = join(benchDir, 'results');
      await mkdir(dir, { recursive: true });
      const stamp = started
        .toISOString()
        .replace(/:/g, '-')
        .replace(/\.\d+Z$/, 'Z');
      await writeFile(join(dir, `soak-${stamp}.md`), md);
      log(`written: bench/results/soak-${stamp}.md`);
    }
    succeeded = true;
    return pass ? 0 : 1;
  } finally {
    await cleanup.run();
  }
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(`\nbench:soak failed: ${err.stack ?? err.message}`);
    process.exit(1);
  },
);
