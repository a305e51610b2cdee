// `npm run bench [-- --profile]`: the gateway against the demo app directly and
// against nginx as a plain reverse proxy, on this machine, in one run.
//
//   1. maximum throughput of each scenario with wrk (-t1 -c32, warm-up, then 10 s; h2load -c32 -m1 for the
//      gateway's public endpoint over HTTP/2, which wrk does not speak) — among them nginx in front of the app
//      asking the gateway's forward-auth port about every request;
//   2. latency at a constant rate of half the gateway's public maximum with our
//      coordinated-omission-safe generator (bench/constant-rate.ts);
//   3. logins per second through the full code flow (HTTP, no browser);
//   4. revocation and a policy change under load: time until they take effect;
//   5. memory with 10,000 live sessions;
//   6. (--profile) the gateway's top self-time frames on the protected scenario.
//
// Writes bench/results/<date>.md and bench/results/latest.md and prints the table. `--only a,b` runs some
// scenarios and phases (lib/options.ts; a partial run leaves latest.md alone).
//
// Why one long file: it is a script read top to bottom, one measured scenario after another in the
// order of the report it prints; the reusable parts (load generators, processes, reports) live in bench/lib/.
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from 'undici';
import { freePort, loginWithHttp, repoRoot, waitFor } from '@microseg/testkit';
import { runConstantRate, type ConstantRateResult, type ResponseRecord } from './constant-rate.ts';
import { ensureTools, H2LOAD, MissingToolError, NGINX, WRK } from './lib/tools.ts';
import { plainProxySite, startNginx, type RunningNginx } from './lib/nginx.ts';
import { forwardAuthClusterExtras, forwardAuthPorts, startForwardAuthNginx } from './lib/forward-auth.ts';
import { constantRate, HELP, parseBenchOptions, runs, SCENARIOS, UsageError, type BenchOptions } from './lib/options.ts';
import { startNodeProxy, type RunningNodeProxy } from './lib/node-proxy-process.ts';
import {
  ALICE,
  Cleanup,
  gatewayHeap,
  gatewayRuntime,
  runtimeBetween,
  SESSION_COOKIE,
  SessionFactory,
  startBenchCluster,
  touchEach,
  withTimeout,
  type BenchCluster,
  type HeapReading,
  type RuntimeSnapshot,
} from './lib/setup.ts';
import { measureH2load, measureRate, measureWrk, RssSampler, type Measured } from './lib/measure.ts';
import { commOf, CpuMeter, descendantsOf, loadAverage, rssMb, type CpuReading } from './lib/proc.ts';
import type { WrkResult } from './lib/wrk.ts';
import { monotonicUs, topSelfFrames, type ProfileSummary } from './lib/cpuprofile.ts';
import { int, mb, ms, pct, plain, ratio, table, verdict } from './lib/format.ts';
import { percentiles } from './constant-rate.ts';

const benchDir = dirname(fileURLToPath(import.meta.url));

const opts: BenchOptions = (() => {
  try {
    return parseBenchOptions(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`bench: ${err.message}\n\n${HELP}`);
    process.exit(2);
  }
})();
if (opts.help) {
  console.log(HELP);
  process.exit(0);
}

const DURATION = opts.durationSec;
const WARMUP = opts.warmupSec;
const CONNECTIONS = opts.connections;
const BATCH = opts.batch;
const MEMORY_SESSIONS = opts.sessions;
const LOGIN_CONCURRENCY = opts.loginConcurrency;
const RATE_WARMUP_MS = 2_000;
const PRE_LOGINS = 100;
/** A partial run (`--only`): its report says so, and latest.md keeps the last full run. */
const PARTIAL = opts.only !== undefined;

const log = (line: string) => process.stdout.write(`${line}\n`);
const step = (line: string) => log(`\n▸ ${line}`);

/** `nginx-fa`: nginx asking the gateway (forward-auth) — both do the work of the request. */
type Proxy = 'none' | 'nginx' | 'node' | 'gateway' | 'nginx-fa';

interface Scenario {
  key: string;
  title: string;
  /** The demo app's handler the request ends in. */
  handler: string;
  proxy: Proxy;
  /** For the constant-rate generator: origin by address, path, Host and TLS server name. */
  origin: string;
  path: string;
  host?: string;
  servername?: string;
  /** For wrk (by name, so SNI and Host are `localhost`). */
  wrkUrl: string;
  headers: Record<string, string>;
  /** Per-request headers for the constant-rate run (the cold scenario rotates cookies). */
  rateHeaders?: (index: number) => Record<string, string>;
  /** wrk script for the cold scenario. */
  wrkScript?: (phase: 'warmup' | 'measure') => { script: string; scriptArgs: string[] };
  /** HTTP/2: the maximum with h2load (as many requests in flight as wrk), and no constant-rate run (our generator speaks HTTP/1.1). */
  http2?: boolean;
  expect: RegExp;
  setup?: () => Promise<void>;
  teardown?: () => Promise<void>;
  notes: string[];
}

interface ScenarioResult {
  scenario: Scenario;
  max?: Measured<WrkResult>;
  rate?: Measured<ConstantRateResult>;
  /** The gateway's GC pauses and event-loop delay during the constant-rate run (warm-up included). */
  rateRuntime?: RuntimeSnapshot;
}

async function main(): Promise<number> {
  const started = new Date();
  const tools = (() => {
    try {
      return ensureTools([WRK, NGINX, H2LOAD], log);
    } catch (err) {
      if (err instanceof MissingToolError) {
        console.error(`bench: ${err.message}`);
        process.exit(2);
      }
      throw err;
    }
  })();

  let succeeded = false;
  const cleanup = new Cleanup(log);
  const loadAtStart = loadAverage();
  // How busy the machine is without us: 2 s before anything starts.
  const idle = new CpuMeter({});
  idle.start();
  await new Promise((r) => setTimeout(r, 2_000));
  const busyBefore = idle.stop().foreign;
  if (busyBefore > 25 || loadAtStart[0] > 1.5)
    log(
      `warning: the machine is busy before the benchmark starts (other processes use ${Math.round(busyBefore)} % of a core, load average ${loadAtStart[0].toFixed(2)}): figures will be lower and noisier than on an idle machine`,
    );
  try {
    // nginx + forward-auth: the gateway's forward-auth port open to nginx, and the IdP's second client sending
    // alice back to nginx (the cluster is started with them).
    const faPorts = runs(opts, 'nginx-forward-auth') ? await forwardAuthPorts() : undefined;
    const bc = await startBenchCluster(cleanup, log, () => !succeeded || opts.keep, faPorts ? forwardAuthClusterExtras(faPorts) : {});
    const { cluster } = bc;
    const gwPort = cluster.ports.gateway;
    const gwHost = `localhost:${gwPort}`;

    let nginx: RunningNginx | undefined;
    if (runs(opts, 'nginx')) {
      step("nginx (TLS with the gateway's certificate, 1 worker, upstream keep-alive, access_log off)");
      const port = await freePort();
      const started = await startNginx({
        binary: tools.nginx!,
        dir: join(bc.dataDir, 'nginx'),
        port,
        site: plainProxySite({ port, upstreamPort: cluster.ports.app, certFile: bc.certFile, keyFile: bc.keyFile }),
      });
      cleanup.add('nginx', () => started.stop());
      nginx = started;
      log(`nginx ${started.url} (master ${started.masterPid}, worker ${started.workerPid()}) → app http://127.0.0.1:${cluster.ports.app}`);
    }
    let nodeProxy: RunningNodeProxy | undefined;
    if (runs(opts, 'node-proxy')) {
      step('the smallest Node proxy (bench/lib/node-proxy.ts: node:https in, undici out, nothing else)');
      const started = await startNodeProxy({
        port: await freePort(),
        upstreamPort: cluster.ports.app,
        certFile: bc.certFile,
        keyFile: bc.keyFile,
        logFile: join(bc.dataDir, 'node-proxy.log'),
      });
      cleanup.add('node proxy', () => started.stop());
      nodeProxy = started;
      log(`node proxy ${started.url} (pid ${started.pid}) → app http://127.0.0.1:${cluster.ports.app}`);
    }
    let faNginx: RunningNginx | undefined;

    const serverPid = (comm: string) => descendantsOf(process.pid).find((p) => commOf(p) === comm);
    const pids = () => ({
      gateway: cluster.pid('gateway'),
      authn: cluster.pid('authn'),
      policy: cluster.pid('policy'),
      flowlog: cluster.pid('flowlog'),
      app: cluster.pid('app'),
      idp: cluster.pid('idp'),
      nats: serverPid('nats-server'),
      redis: serverPid('redis-server'),
      nginx: nginx?.workerPid(),
      node: nodeProxy?.pid,
      'nginx-fa': faNginx?.workerPid(),
    });
    /** The process whose RSS the row shows (for nginx + forward-auth: nginx's worker; the gateway's is in the gateway rows). */
    const proxyPidOf = (s: Scenario) =>
      ({ gateway: cluster.pid('gateway'), nginx: nginx?.workerPid(), node: nodeProxy?.pid, 'nginx-fa': faNginx?.workerPid(), none: undefined })[s.proxy];

    step('policy objects and sessions');
    const service = await bc.api('GET', '/services/private-app');
    if (service.status !== 200) throw new Error(`GET /services/private-app answered ${service.status}: ${JSON.stringify(service.body)}`);
    const specRes = await bc.api('GET', '/httpresourcespecs/private-app-api');
    if (specRes.status !== 200) throw new Error(`GET /httpresourcespecs/private-app-api answered ${specRes.status}`);
    const originalEndpoints = specRes.body.endpoints as Array<Record<string, unknown>>;
    let specChanged = false;
    const patchEndpoints = async (endpoints: Array<Record<string, unknown>>) => {
      const res = await bc.api('PATCH', '/httpresourcespecs/private-app-api', { endpoints });
      if (res.status !== 200) throw new Error(`PATCH httpresourcespec private-app-api answered ${res.status}: ${JSON.stringify(res.body)}`);
      specChanged = JSON.stringify(endpoints) !== JSON.stringify(originalEndpoints);
    };
    cleanup.add('restore private-app-api', async () => {
      if (specChanged) await patchEndpoints(originalEndpoints).catch(() => undefined);
    });

    const gatewayAtStart = { rss: rssMb(cluster.pid('gateway')), heap: await gatewayHeap(cluster) };
    const liveCookie = await bc.loginAlice();
    log(`alice logged in (live session); service private-app = ${service.body.ID} in ${service.body.namespace}`);
    const t0 = performance.now();
    const preLogins = runs(opts, 'gw-cold') ? await loginMany(bc, PRE_LOGINS, 8) : [];
    if (preLogins.length)
      log(`${preLogins.length} more sessions through the code flow in ${((performance.now() - t0) / 1000).toFixed(1)} s (for the cold-cache scenario)`);
    const factory = new SessionFactory(cluster.redisOptions());
    cleanup.add('redis client', () => factory.close());
    await factory.useTemplate(liveCookie, service.body);

    let faCookie = '';
    if (faPorts) {
      step("nginx + forward-auth (deploy/forward-auth/nginx.conf: auth_request to the gateway's forward-auth port; 1 worker, access_log off)");
      faNginx = await startForwardAuthNginx(bc, faPorts, tools.nginx!);
      cleanup.add('nginx (forward-auth)', () => faNginx!.stop());
      // Her session for the ingress's service, signed in through nginx as a user would.
      faCookie = await bc.loginAlice(faNginx.url);
      log(
        `nginx ${faNginx.url} (master ${faNginx.masterPid}, worker ${faNginx.workerPid()}) → app http://127.0.0.1:${cluster.ports.app}, asking https://127.0.0.1:${faPorts.forwardAuth}/nginx; alice signed in through it`,
      );
    }

    // The status and body every scenario must answer with before it is measured.
    const check = async (s: Scenario, headers: Record<string, string> = s.headers) => {
      const client = new Client(s.origin, { connect: { rejectUnauthorized: false, servername: s.servername } });
      try {
        const res = await client.request({
          path: s.path,
          method: 'GET',
          headers: { ...(s.host ? { host: s.host } : {}), ...headers },
          headersTimeout: 5_000,
          bodyTimeout: 5_000,
        });
        const body = await res.body.text();
        if (res.statusCode !== 200 || !s.expect.test(body))
          throw new Error(`${s.title}: expected 200 and ${s.expect}, got ${res.statusCode}: ${body.slice(0, 200)}`);
      } finally {
        await client.close();
      }
    };
    const status = async (path: string, headers: Record<string, string> = {}) => {
      const client = new Client(bc.gatewayOrigin, { connect: { rejectUnauthorized: false, servername: 'localhost' } });
      try {
        const res = await client.request({
          path,
          method: 'GET',
          headers: { host: gwHost, accept: 'application/json', ...headers },
          headersTimeout: 5_000,
          bodyTimeout: 5_000,
        });
        await res.body.dump();
        return res.statusCode;
      } finally {
        await client.close();
      }
    };

    const gw = (path: string, extra: Partial<Scenario> & Pick<Scenario, 'key' | 'title' | 'handler' | 'expect'>): Scenario => ({
      proxy: 'gateway',
      origin: bc.gatewayOrigin,
      path,
      host: gwHost,
      servername: 'localhost',
      wrkUrl: `https://localhost:${gwPort}${path}`,
      headers: {},
      notes: [],
      ...extra,
    });
    /** A plain TLS proxy in front of the app's public page (nginx, the smallest Node proxy). */
    const proxyOfHello = (key: string, title: string, proxy: Proxy, port: number, url: string): Scenario => ({
      key,
      title,
      handler: '`/public/hello`',
      proxy,
      origin: `https://127.0.0.1:${port}`,
      path: '/public/hello',
      host: `localhost:${port}`,
      servername: 'localhost',
      wrkUrl: `${url}/public/hello`,
      headers: {},
      expect: hello,
      notes: [],
    });
    const cookieHeader = (c: string) => ({ cookie: `${SESSION_COOKIE}=${c}` });
    const welcome = /Welcome, alice@example\.com/;
    // The protected rows compared with one another: the app verified the gateway's identity assertion (and keeps its
    // answer per token), so that none of them measures the app refusing it.
    const welcomeVerified = /Welcome, alice@example\.com[\s\S]*Verified assertion for alice@example\.com/;
    const hello = /Hello from the public part/;

    // A protected rule on the public page: the same handler as the public scenario, behind a live session.
    const protectPublic = async () => {
      await patchEndpoints(originalEndpoints.map((e) => (e.URI === '/public/*' ? { ...e, public: false, allowedScopes: [['email=alice@example.com']] } : e)));
      await waitFor('the protected /public/* rule to reach the gateway', async () => (await status('/public/hello')) === 401, 5_000, 20);
    };
    const restoreSpec = async () => {
      await patchEndpoints(originalEndpoints);
      await waitFor('the original rules to reach the gateway', async () => (await status('/public/hello')) === 200, 5_000, 20);
    };

    // Cold-cache sessions: every batch of BATCH requests uses a session the gateway has not seen.
    const coldPools: { warmup: string[]; measure: string[]; rate: string[] } = { warmup: [], measure: [], rate: [] };
    const coldFiles = { warmup: join(bc.dataDir, 'cold-warmup.txt'), measure: join(bc.dataDir, 'cold-measure.txt') };
    const cold = gw('/', {
      key: 'gw-cold',
      title: 'gateway, protected, fresh session per batch',
      handler: '`/` (welcome page)',
      expect: welcome,
      headers: cookieHeader(liveCookie),
      wrkScript: (phase) => ({ script: join(benchDir, 'lib', 'rotate-cookie.lua'), scriptArgs: [coldFiles[phase], String(BATCH), '0'] }),
      rateHeaders: (i) => cookieHeader(coldPools.rate[Math.floor(i / BATCH) % coldPools.rate.length]!),
    });

    // Built for the processes this run started (undefined otherwise), then narrowed to --only.
    const built: Array<Scenario | undefined> = [
      {
        key: 'direct',
        title: 'demo app directly (http)',
        handler: '`/public/hello`',
        proxy: 'none',
        origin: cluster.appUrl,
        path: '/public/hello',
        wrkUrl: `${cluster.appUrl}/public/hello`,
        headers: {},
        expect: hello,
        notes: [],
      },
      {
        key: 'direct-root',
        title: 'demo app directly (http), welcome page',
        handler: '`/` (welcome page)',
        proxy: 'none',
        origin: cluster.appUrl,
        path: '/',
        wrkUrl: `${cluster.appUrl}/`,
        headers: { 'x-user-email': ALICE.login },
        expect: welcome,
        notes: [],
      },
      nginx && proxyOfHello('nginx', 'nginx reverse proxy (https)', 'nginx', Number(new URL(nginx.url).port), nginx.url),
      nodeProxy &&
        proxyOfHello('node-proxy', 'smallest Node proxy (https, same stack as the gateway)', 'node', Number(new URL(nodeProxy.url).port), nodeProxy.url),
      gw('/public/hello', { key: 'gw-public', title: 'gateway, public endpoint', handler: '`/public/hello`', expect: hello }),
      gw('/public/hello', {
        key: 'gw-public-h2',
        title: 'gateway, public endpoint, HTTP/2 (h2load)',
        handler: '`/public/hello`',
        expect: hello,
        http2: true,
        notes: [`h2load -c${CONNECTIONS} -m1 (one stream in flight per connection, as wrk); no constant-rate run: the generator speaks HTTP/1.1`],
      }),
      gw('/', {
        key: 'gw-live',
        title: 'gateway, protected, live session',
        handler: '`/` (welcome page)',
        expect: welcomeVerified,
        headers: cookieHeader(liveCookie),
      }),
      faNginx &&
        faPorts && {
          key: 'nginx-forward-auth',
          title: 'nginx + forward-auth, protected, live session (https)',
          handler: '`/` (welcome page)',
          proxy: 'nginx-fa',
          origin: `https://127.0.0.1:${faPorts.nginx}`,
          path: '/',
          host: `localhost:${faPorts.nginx}`,
          servername: 'localhost',
          wrkUrl: `${faNginx.url}/`,
          headers: cookieHeader(faCookie),
          expect: welcomeVerified,
          notes: [
            "deploy/forward-auth/nginx.conf as documented (auth_request per request over HTTPS to the gateway's forward-auth port, keepalive 16 to it and to the app) plus the plain nginx's client keep-alive; proxy CPU is nginx's worker plus the gateway, RSS nginx's worker",
          ],
        },
      gw('/public/hello', {
        key: 'gw-live-same',
        title: 'gateway, protected rule on the public page, live session',
        handler: '`/public/hello`',
        expect: hello,
        headers: cookieHeader(liveCookie),
        setup: protectPublic,
        teardown: restoreSpec,
      }),
      cold,
    ];
    for (const s of built) if (s && !SCENARIOS.some(([key]) => key === s.key)) throw new Error(`the scenario ${s.key} is missing from lib/options.ts`);
    const scenarios = built.filter((s): s is Scenario => s !== undefined && runs(opts, s.key));
    const results = new Map<string, ScenarioResult>(scenarios.map((s) => [s.key, { scenario: s }]));

    // ── 1. maximum throughput (wrk) ────────────────────────────────────────────
    step(`maximum throughput: wrk -t1 -c${CONNECTIONS}, ${WARMUP} s warm-up, ${DURATION} s measured`);
    for (const s of scenarios) {
      await s.setup?.();
      try {
        if (s === cold) {
          // Enough fresh sessions that no cookie comes round twice (sized from the live-session maximum, or a
          // generous guess when this run did not measure it).
          const liveMax = results.get('gw-live')?.max?.load.requestsPerSec ?? results.get('gw-public')?.max?.load.requestsPerSec ?? 10_000;
          const need = (seconds: number) => Math.ceil((liveMax * seconds * 1.5) / BATCH) + 100;
          const t = performance.now();
          coldPools.warmup = await factory.create(need(WARMUP));
          coldPools.measure = [...preLogins, ...(await factory.create(Math.max(0, need(DURATION) - preLogins.length)))];
          await writeFile(coldFiles.warmup, coldPools.warmup.join('\n'));
          await writeFile(coldFiles.measure, coldPools.measure.join('\n'));
          log(
            `  ${coldPools.warmup.length + coldPools.measure.length} fresh sessions for the cold scenario (${preLogins.length} by login, the rest written to Redis) in ${((performance.now() - t) / 1000).toFixed(1)} s`,
          );
        }
        await check(s, s === cold ? cookieHeader(coldPools.warmup.at(-1)!) : s.headers);
        if (s.http2) {
          const h2 = { url: s.wrkUrl, connections: CONNECTIONS, streamsPerConnection: 1, headers: s.headers };
          await measureH2load({ ...h2, durationSec: WARMUP }, {}, undefined, tools.h2load!);
          const m = await measureH2load({ ...h2, durationSec: DURATION }, pids(), proxyPidOf(s), tools.h2load!);
          results.get(s.key)!.max = m;
          log(`  ${s.title.padEnd(58)} ${int(m.load.requestsPerSec).padStart(7)} req/s  errors ${m.load.errors}  proxy CPU ${pct(proxyCpu(s, m.cpu))}`);
          continue;
        }
        const base = { url: s.wrkUrl, connections: CONNECTIONS, headers: s.headers };
        const warm = s.wrkScript?.('warmup');
        await measureWrk({ ...base, durationSec: WARMUP, ...(warm ?? {}), headers: warm ? {} : s.headers }, {}, undefined, tools.wrk!);
        const script = s.wrkScript?.('measure');
        const m = await measureWrk({ ...base, durationSec: DURATION, ...(script ?? {}), headers: script ? {} : s.headers }, pids(), proxyPidOf(s), tools.wrk!);
        results.get(s.key)!.max = m;
        if (s === cold) {
          const batches = Math.ceil(m.load.requests / BATCH);
          s.notes.push(
            `${int(m.load.requests)} requests in ${int(batches)} batches of ${BATCH} over ${int(coldPools.measure.length)} fresh sessions${batches > coldPools.measure.length ? ' (the pool came round again: later batches were warm)' : ' (none reused)'}`,
          );
        }
        log(`  ${s.title.padEnd(58)} ${int(m.load.requestsPerSec).padStart(7)} req/s  errors ${m.load.errors}  proxy CPU ${pct(proxyCpu(s, m.cpu))}`);
      } finally {
        await s.teardown?.();
      }
    }
    const { rate: RATE, basis: rateBasis } = constantRate(
      opts.rate,
      results.get('gw-public')?.max?.load.requestsPerSec,
      [...results.values()].flatMap((x) => (x.max ? [x.max.load.requestsPerSec] : [])),
    );

    // ── 2. latency at a constant rate ─────────────────────────────────────────
    step(`latency at a constant rate of ${RATE} req/s (${rateBasis}), ${CONNECTIONS} connections, ${RATE_WARMUP_MS / 1000} s warm-up, ${DURATION} s measured`);
    if (results.has('gw-cold')) coldPools.rate = await factory.create(Math.ceil((RATE * (RATE_WARMUP_MS / 1000 + DURATION) * 1.1) / BATCH) + 10);
    for (const s of scenarios) {
      if (s.http2) continue;
      await s.setup?.();
      try {
        // The gateway's GC and event-loop delay wherever it does the work (nginx + forward-auth included).
        const gatewayWorks = s.proxy === 'gateway' || s.proxy === 'nginx-fa';
        const runtimeBefore = gatewayWorks ? await gatewayRuntime(cluster) : undefined;
        const m = await measureRate(
          {
            url: `${s.origin}${s.path}`,
            rate: RATE,
            durationMs: DURATION * 1000,
            warmupMs: RATE_WARMUP_MS,
            connections: CONNECTIONS,
            servername: s.servername,
            headers: s.rateHeaders
              ? (i) => ({ ...(s.host ? { host: s.host } : {}), ...s.rateHeaders!(i) })
              : { ...(s.host ? { host: s.host } : {}), ...s.headers },
          },
          pids(),
          proxyPidOf(s),
        );
        results.get(s.key)!.rate = m;
        const max = results.get(s.key)!.max?.load.requestsPerSec;
        if (max !== undefined && max < RATE)
          s.notes.push(
            `its maximum (${int(max)} req/s) is below the constant rate of ${RATE} req/s: the latencies are those of a proxy sent more than it can serve (requests queue, some do not finish)`,
          );
        if (gatewayWorks) results.get(s.key)!.rateRuntime = runtimeBetween(runtimeBefore, await gatewayRuntime(cluster));
        const l = m.load.latency;
        log(
          `  ${s.title.padEnd(58)} p50 ${ms(l.p50)}  p99 ${ms(l.p99)}  p99.9 ${ms(l.p999)} ms  errors ${m.load.errors}${m.load.schedulerLag.p99 > 5 ? `  (generator lag p99 ${ms(m.load.schedulerLag.p99)} ms)` : ''}`,
        );
      } finally {
        await s.teardown?.();
      }
    }

    // ── 3. logins per second ──────────────────────────────────────────────────
    let logins: LoginsResult | undefined;
    if (runs(opts, 'logins')) {
      step(`logins per second: the full code flow over HTTP, ${LOGIN_CONCURRENCY} at a time, ${DURATION} s`);
      logins = await loginsPerSecond(bc, LOGIN_CONCURRENCY, DURATION * 1000, pids());
      log(`  ${logins.perSecond.toFixed(1)} logins/s, p50 ${ms(logins.latency.p50, 0)} ms, p99 ${ms(logins.latency.p99, 0)} ms, errors ${logins.errors}`);
    }

    // ── 4. invalidation under load ────────────────────────────────────────────
    let invalidation: Invalidation | undefined;
    if (runs(opts, 'invalidation')) {
      step(`invalidation under load (${RATE} req/s on the protected endpoint with the session in question)`);
      // Alice's earlier sessions (logins of the scenarios above) go first, so that the measured revocation is
      // that of a user with one session in use; the bulk sessions belong to synthetic users and stay.
      const earlier = await revokeAlice(bc, 15_000);
      log(
        `  (alice's ${earlier.revoked} earlier sessions revoked beforehand in ${ms(earlier.tookMs, 0)} ms${earlier.attempts > 1 ? `, ${earlier.attempts} attempts` : ''})`,
      );
      let revokeAttempts = 0;
      const revocation = await underLoad(bc, RATE, gwHost, await bc.loginAlice(), 6_000, [
        {
          atMs: 2_000,
          name: 'revoke',
          action: async () => {
            revokeAttempts = (await revokeAlice(bc, 10_000)).attempts;
          },
        },
      ]);
      const revoked = effect(revocation.records, revocation.actions.revoke!, Infinity, 200, 401);
      revoked.attempts = revokeAttempts;
      log(
        `  revocation: first 401 after ${ms(revoked.firstNewMs, 0)} ms, last 200 for a request sent ${ms(revoked.lastOldSentMs, 0)} ms after the call, ${revoked.oldAfterNew} successes after the first 401${revokeAttempts > 1 ? ` (the API call needed ${revokeAttempts} attempts)` : ''}`,
      );
      const denyEndpoints = originalEndpoints.map((e) => (e.URI === '/*' ? { ...e, public: false, allowedScopes: [['bench=nobody']] } : e));
      const policy = await underLoad(bc, RATE, gwHost, await bc.loginAlice(), 7_000, [
        { atMs: 2_000, name: 'deny', action: () => patchEndpoints(denyEndpoints) },
        { atMs: 4_500, name: 'restore', action: () => patchEndpoints(originalEndpoints) },
      ]);
      const denied = effect(policy.records, policy.actions.deny!, policy.actions.restore!, 200, 403);
      const restored = effect(policy.records, policy.actions.restore!, Infinity, 403, 200);
      log(
        `  policy change: first 403 after ${ms(denied.firstNewMs, 0)} ms (${denied.oldAfterNew} successes after it); restored: first 200 after ${ms(restored.firstNewMs, 0)} ms`,
      );
      await restoreSpec();
      invalidation = { revoked, denied, restored };
    }

    // ── 5. memory with many live sessions ─────────────────────────────────────
    let memory: MemoryResult | undefined;
    if (runs(opts, 'memory')) {
      step(`memory: ${int(MEMORY_SESSIONS)} live sessions, each used once through the gateway`);
      memory = await memoryTest(bc, factory, gwHost, MEMORY_SESSIONS, gatewayAtStart);
      for (const [label, run] of [
        ['after the scenarios', memory.afterLoad],
        ['restarted, control (one session)', memory.control],
        ['restarted, sessions', memory.fresh],
      ] as const)
        log(
          `  ${label}: gateway RSS ${mb(run.rssBefore)} before, peak ${mb(run.rssPeak)}, ${mb(run.rssAfter)} after; heap used/reserved/external ${heapText(run.heapBefore)} → ${heapText(run.heapAfter)}; statuses ${JSON.stringify(run.statuses)}; ${(run.touchMs / 1000).toFixed(1)} s`,
        );
    }

    // ── 6. profile ────────────────────────────────────────────────────────────
    let profile: { summary: ProfileSummary; max: WrkResult; file: string } | undefined;
    if (opts.profile) {
      step('profile: the gateway restarted with --cpu-prof, protected scenario (live session)');
      profile = await profileGateway(bc, tools.wrk!);
      log(`  ${int(profile.max.requestsPerSec)} req/s under the profiler; ${profile.file}`);
      log(plain(profileTable(profile.summary)));
      log('');
      log(plain(areasTable(profile.summary)));
    }

    // ── report ────────────────────────────────────────────────────────────────
    const loadAtEnd = loadAverage();
    const report = buildReport({
      started,
      results,
      rate: RATE,
      rateBasis,
      logins,
      invalidation,
      memory,
      profile,
      loadAtStart,
      loadAtEnd,
      busyBefore,
    });
    log(`\n${plain(report.main)}\n\n${plain(report.targets)}\n\n${plain(report.cpu)}\n\n${plain(report.rate)}\n`);
    if (opts.write) {
      const dir = join(benchDir, 'results');
      await mkdir(dir, { recursive: true });
      const stamp = started
        .toISOString()
        .replace(/:/g, '-')
        .replace(/\.\d+Z$/, 'Z');
      await writeFile(join(dir, `${stamp}.md`), report.markdown);
      if (PARTIAL) log(`written: bench/results/${stamp}.md (a partial run: bench/results/latest.md is left as it was)`);
      else {
        await writeFile(join(dir, 'latest.md'), report.markdown);
        log(`written: bench/results/${stamp}.md and bench/results/latest.md`);
      }
    }
    succeeded = true;
    return 0;
  } finally {
    await cleanup.run();
  }
}

/**
 * `DELETE /sessions?user=alice@example.com`, again while the policy API answers 503 (authn busy), within
 * `boundMs`; how many sessions it ended and how many attempts it took.
 */
async function revokeAlice(bc: BenchCluster, boundMs: number): Promise<{ revoked: number; attempts: number; tookMs: number }> {
  const t0 = performance.now();
  for (let attempts = 1; ; attempts++) {
    const res = await bc.api('DELETE', `/sessions?user=${encodeURIComponent(ALICE.login)}`);
    if (res.status === 200) return { revoked: Array.isArray(res.body) ? res.body.length : 0, attempts, tookMs: performance.now() - t0 };
    if (res.status !== 503 || performance.now() - t0 > boundMs)
      throw new Error(`DELETE /sessions?user=${ALICE.login} answered ${res.status} (attempt ${attempts}): ${JSON.stringify(res.body)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** % of a core the proxy used; for nginx + forward-auth, nginx's worker and the gateway together (both do the request's work). */
function proxyCpu(s: Scenario, cpu: CpuReading): number | undefined {
  const { gateway, nginx, node } = cpu.byName;
  const fa = cpu.byName['nginx-fa'];
  if (s.proxy === 'nginx-fa') return fa !== undefined && gateway !== undefined ? fa + gateway : undefined;
  return s.proxy === 'gateway' ? gateway : s.proxy === 'nginx' ? nginx : s.proxy === 'node' ? node : undefined;
}

/** `count` logins through the code flow, `concurrency` at a time; their cookies. */
async function loginMany(bc: BenchCluster, count: number, concurrency: number): Promise<string[]> {
  const cookies: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next++;
      cookies.push(await bc.loginAlice());
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return cookies;
}

interface LoginsResult {
  perSecond: number;
  completed: number;
  errors: number;
  errorKinds: Record<string, number>;
  latency: ReturnType<typeof percentiles>;
  cpu: CpuReading;
}

async function loginsPerSecond(bc: BenchCluster, concurrency: number, durationMs: number, pids: Record<string, number | undefined>): Promise<LoginsResult> {
  const meter = new CpuMeter(pids);
  const durations: number[] = [];
  const errorKinds: Record<string, number> = {};
  let errors = 0;
  const t0 = performance.now();
  const end = t0 + durationMs;
  meter.start();
  const worker = async () => {
    while (performance.now() < end) {
      const t = performance.now();
      try {
        const done = await withTimeout(loginWithHttp(bc.cluster.gatewayUrl, ALICE.login, ALICE.password), 15_000, 'a login');
        if (done.response.status !== 200 || !done.browser.cookie(SESSION_COOKIE)) throw new Error(`status ${done.response.status}`);
        durations.push(performance.now() - t);
      } catch (err) {
        errors++;
        const kind = (err as Error).message.slice(0, 60);
        errorKinds[kind] = (errorKinds[kind] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const cpu = meter.stop();
  const wall = (performance.now() - t0) / 1000;
  return { perSecond: durations.length / wall, completed: durations.length, errors, errorKinds, latency: percentiles(durations), cpu };
}

interface UnderLoad {
  records: ResponseRecord[];
  actions: Record<string, number>;
  result: ConstantRateResult;
}

/** Constant-rate load on `/` with `cookie`; the actions run at their times (ms into the measured part). */
async function underLoad(
  bc: BenchCluster,
  rate: number,
  host: string,
  cookie: string,
  durationMs: number,
  actions: Array<{ atMs: number; name: string; action: () => Promise<void> }>,
): Promise<UnderLoad> {
  const records: ResponseRecord[] = [];
  const at: Record<string, number> = {};
  const timers: NodeJS.Timeout[] = [];
  const failures: Error[] = [];
  const running = runConstantRate({
    url: `${bc.gatewayOrigin}/`,
    rate,
    durationMs,
    warmupMs: 1_000,
    connections: CONNECTIONS,
    servername: 'localhost',
    headers: { host, cookie: `${SESSION_COOKIE}=${cookie}` },
    expectStatus: null,
    onMeasureStart: () => {
      for (const a of actions)
        timers.push(
          setTimeout(() => {
            at[a.name] = performance.now();
            a.action().catch((err: Error) => failures.push(err));
          }, a.atMs),
        );
    },
    onResponse: (r) => records.push(r),
  });
  const result = await running.finally(() => timers.forEach(clearTimeout));
  if (failures.length) throw failures[0]!;
  for (const a of actions) if (at[a.name] === undefined) throw new Error(`the action ${a.name} did not run during the load`);
  return { records, actions: at, result };
}

interface Effect {
  /** First response with the new status, ms after the change was asked for. */
  firstNewMs: number;
  /** The last request answered with the old status was sent this long after the change (negative: none after it). */
  lastOldSentMs: number;
  /** Old-status answers after the first new one (must be 0: no flapping). */
  oldAfterNew: number;
  requestsInWindow: number;
  otherStatuses: Record<string, number>;
  /** API calls it took (503 while authn was busy, then again). */
  attempts?: number;
}

/** How long after `from` the answers went from `oldStatus` to `newStatus` (within [from, until)). */
function effect(records: ResponseRecord[], from: number, until: number, oldStatus: number, newStatus: number): Effect {
  const inWindow = records.filter((r) => r.sentMs >= from && r.sentMs < until);
  const firstNew = inWindow.filter((r) => r.status === newStatus).reduce((min, r) => Math.min(min, r.doneMs), Infinity);
  const olds = inWindow.filter((r) => r.status === oldStatus);
  const otherStatuses: Record<string, number> = {};
  for (const r of inWindow) if (r.status !== oldStatus && r.status !== newStatus) otherStatuses[String(r.status)] = (otherStatuses[String(r.status)] ?? 0) + 1;
  return {
    firstNewMs: firstNew - from,
    lastOldSentMs: olds.length ? Math.max(...olds.map((r) => r.sentMs)) - from : -1,
    oldAfterNew: olds.filter((r) => r.sentMs > firstNew).length,
    requestsInWindow: inWindow.length,
    otherStatuses,
  };
}

interface MemoryRun {
  touchMs: number;
  statuses: Record<string, number>;
  rssBefore: number | undefined;
  rssPeak: number;
  rssAfter: number | undefined;
  heapBefore: HeapReading | undefined;
  heapAfter: HeapReading | undefined;
}

interface MemoryResult {
  sessions: number;
  createMs: number;
  /** On the gateway that carried all the scenarios before. */
  afterLoad: MemoryRun;
  /** On a gateway restarted just before (empty caches, no load before). */
  fresh: MemoryRun;
  /** The same number of requests on a restarted gateway with a single session. */
  control: MemoryRun;
  restarted: { rss: number | undefined; heap: HeapReading | undefined };
  /** RSS and heap of the gateway as it started (before any scenario). */
  atStart: { rss: number | undefined; heap: HeapReading | undefined };
}

/** Uses each cookie once through the gateway (32 at a time) while sampling its RSS. */
async function touchAll(bc: BenchCluster, host: string, cookies: string[]): Promise<MemoryRun> {
  const pid = () => bc.cluster.pid('gateway');
  const rssBefore = rssMb(pid());
  const heapBefore = await gatewayHeap(bc.cluster);
  const sampler = new RssSampler(pid).start(200);
  const t = performance.now();
  let statuses: Record<string, number>;
  try {
    statuses = await touchEach(bc.gatewayOrigin, host, '/', cookies, 32);
  } finally {
    sampler.stop();
  }
  const touchMs = performance.now() - t;
  await new Promise((r) => setTimeout(r, 1_000));
  return { touchMs, statuses, rssBefore, rssPeak: sampler.peak, rssAfter: rssMb(pid()), heapBefore, heapAfter: await gatewayHeap(bc.cluster) };
}

/**
 * `count` live sessions, each used once: first on the gateway that has carried every scenario so far, then on a
 * freshly restarted gateway (the same sessions; its caches start empty), which isolates what the sessions cost.
 */
async function memoryTest(bc: BenchCluster, factory: SessionFactory, host: string, count: number, atStart: MemoryResult['atStart']): Promise<MemoryResult> {
  const t = performance.now();
  const cookies = await factory.create(count);
  const createMs = performance.now() - t;
  const afterLoad = await touchAll(bc, host, cookies);
  const restart = async () => {
    await bc.cluster.stopService('gateway');
    await bc.cluster.startService('gateway');
    return { rss: rssMb(bc.cluster.pid('gateway')), heap: await gatewayHeap(bc.cluster) };
  };
  // Control: as many requests on a restarted gateway, all with one session — what the load alone costs.
  const restarted = await restart();
  const control = await touchAll(bc, host, new Array<string>(count).fill(cookies[0]!));
  await restart();
  const fresh = await touchAll(bc, host, cookies);
  return { sessions: count, createMs, afterLoad, fresh, control, restarted, atStart };
}

async function profileGateway(bc: BenchCluster, wrkPath: string): Promise<{ summary: ProfileSummary; max: WrkResult; file: string }> {
  const dir = join(bc.dataDir, 'cpuprofile');
  await mkdir(dir, { recursive: true });
  const cookie = await bc.loginAlice();
  const window = { fromUs: 0, toUs: 0 };
  await bc.cluster.stopService('gateway');
  bc.nodeArgs.gateway = ['--cpu-prof', '--cpu-prof-dir', dir];
  let max: WrkResult;
  try {
    await bc.cluster.startService('gateway');
    const base = { url: `https://localhost:${bc.cluster.ports.gateway}/`, connections: CONNECTIONS, headers: { cookie: `${SESSION_COOKIE}=${cookie}` } };
    await measureWrk({ ...base, durationSec: WARMUP }, {}, undefined, wrkPath);
    window.fromUs = monotonicUs();
    max = (await measureWrk({ ...base, durationSec: DURATION }, {}, undefined, wrkPath)).load;
    window.toUs = monotonicUs();
    // The profile is written when the gateway exits (SIGTERM: graceful shutdown, then exit).
    await bc.cluster.stopService('gateway');
  } finally {
    delete bc.nodeArgs.gateway;
  }
  await bc.cluster.startService('gateway');
  // CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile: one per thread; thread 0 is the main one (the others are
  // helpers such as the module loader's hooks thread that --import registers).
  const files = (await readdir(dir)).filter((f) => /\.\d+\.0\.\d+\.cpuprofile$/.test(f));
  if (files.length === 0) throw new Error(`the gateway wrote no main-thread .cpuprofile into ${dir}`);
  const file = join(dir, files.sort().at(-1)!);
  const summary = topSelfFrames(file, repoRoot, 10, window);
  if (summary.totalMs < DURATION * 500)
    throw new Error(`the profile ${file} has only ${summary.totalMs} ms of samples inside the measured run: clocks differ?`);
  return { summary, max, file };
}

function profileTable(s: ProfileSummary): string {
  return table(
    ['#', 'self time', 'share of busy time', 'frame', 'mostly called from'],
    s.top.map((f, i) => [String(i + 1), `${int(f.selfMs)} ms`, `${f.percent.toFixed(1)} %`, `\`${f.frame}\``, f.via ? `\`${f.via}\`` : '']),
  );
}

function areasTable(s: ProfileSummary): string {
  return table(
    ['where the self time goes', 'self time', 'share of busy time'],
    s.areas.map((f) => [`\`${f.frame}\``, `${int(f.selfMs)} ms`, `${f.percent.toFixed(1)} %`]),
  );
}

interface Invalidation {
  revoked: Effect;
  denied: Effect;
  restored: Effect;
}

/** What the run measured: a partial run (`--only`) leaves out what it did not select. */
interface ReportInput {
  started: Date;
  results: Map<string, ScenarioResult>;
  rate: number;
  /** How the rate was chosen. */
  rateBasis: string;
  logins?: LoginsResult;
  invalidation?: Invalidation;
  memory?: MemoryResult;
  profile?: { summary: ProfileSummary; max: WrkResult; file: string };
  loadAtStart: number[];
  loadAtEnd: number[];
  /** % of one core other processes used in the 2 s before the run. */
  busyBefore: number;
}

function buildReport(r: ReportInput): { markdown: string; main: string; targets: string; cpu: string; rate: string } {
  const get = (key: string) => r.results.get(key);
  const maxOf = (key: string) => get(key)?.max?.load.requestsPerSec;
  const nginxMax = maxOf('nginx');
  const nodeMax = maxOf('node-proxy');
  const directMax = maxOf('direct');
  const rows = [...r.results.values()].map(({ scenario: s, max, rate }) => {
    const rps = max?.load.requestsPerSec;
    const l = rate?.load.latency;
    const proxyCpuMax = max ? proxyCpu(s, max.cpu) : undefined;
    const proxyCpuRate = rate ? proxyCpu(s, rate.cpu) : undefined;
    const rss = s.proxy === 'none' ? undefined : Math.max(max?.rssMb ?? 0, rate?.rssMb ?? 0);
    // CPU time per request at the maximum: % of a core / req/s (steadier than req/s when the machine is shared).
    const cpuPerRequest = proxyCpuMax !== undefined && rps ? (proxyCpuMax / 100 / rps) * 1000 : undefined;
    return [
      s.title,
      s.handler,
      int(rps),
      ratio(rps !== undefined && nginxMax ? rps / nginxMax : undefined),
      ratio(rps !== undefined && directMax ? rps / directMax : undefined),
      int(max?.load.errors),
      ms(l?.p50),
      ms(l?.p99),
      ms(l?.p999),
      int(rate?.load.errors),
      s.proxy === 'none' ? '—' : `${pct(proxyCpuMax)} / ${pct(proxyCpuRate)}`,
      s.proxy === 'none' ? '—' : ms(cpuPerRequest, 3),
      mb(rss),
    ];
  });
  if (r.logins)
    rows.push([
      'logins (code flow, HTTP client)',
      'gateway → IdP → callback → `/`',
      `${r.logins.perSecond.toFixed(1)} logins/s`,
      '',
      '',
      int(r.logins.errors),
      ms(r.logins.latency.p50, 0),
      ms(r.logins.latency.p99, 0),
      ms(r.logins.latency.p999, 0),
      '',
      `${pct(r.logins.cpu.byName.gateway)}`,
      ms(((r.logins.cpu.byName.gateway ?? NaN) / 100 / r.logins.perSecond) * 1000, 1),
      '',
    ]);
  const main = table(
    [
      'Scenario',
      'App handler',
      'Max req/s (wrk; h2load for HTTP/2)',
      '× nginx',
      '× direct',
      'Errors (max)',
      `p50 ms @${r.rate}/s`,
      'p99 ms',
      'p99.9 ms',
      'Errors @rate',
      'Proxy CPU max / @rate',
      'Proxy CPU ms/req',
      'Proxy RSS',
    ],
    rows,
  );

  // Targets, and context rows without one; a partial run leaves out those it has not measured for.
  const live = maxOf('gw-live');
  const pub = maxOf('gw-public');
  const fa = maxOf('nginx-forward-auth');
  const p99 = (key: string) => get(key)?.rate?.load.latency.p99;
  const addedPublic = (p99('gw-public') ?? NaN) - (p99('direct') ?? NaN);
  const addedLive = (p99('gw-live') ?? NaN) - (p99('direct-root') ?? NaN);
  const cpuPerRequestOf = (key: string) => {
    const x = get(key);
    const cpu = x?.max ? proxyCpu(x.scenario, x.max.cpu) : undefined;
    return cpu !== undefined && x?.max?.load.requestsPerSec ? (cpu / 100 / x.max.load.requestsPerSec) * 1000 : undefined;
  };
  const { memory, invalidation } = r;
  const targetRows = [
    {
      needs: ['gw-live', 'gw-public'],
      row: () => [
        'Protected (live session) ≥ 0.9 × gateway public throughput',
        `${int(live)} / ${int(pub)} = ${ratio(live && pub ? live / pub : undefined)}`,
        verdict(live !== undefined && pub !== undefined ? live / pub >= 0.9 : undefined),
      ],
    },
    {
      needs: ['gw-public', 'nginx'],
      row: () => [
        'Gateway public ≥ 0.6 × nginx throughput',
        `${int(pub)} / ${int(nginxMax)} = ${ratio(pub && nginxMax ? pub / nginxMax : undefined)}`,
        verdict(pub !== undefined && nginxMax !== undefined ? pub / nginxMax >= 0.6 : undefined),
      ],
    },
    {
      needs: ['node-proxy', 'nginx'],
      row: () => [
        '(context) the smallest Node proxy × nginx: what Node allows here',
        `${int(nodeMax)} / ${int(nginxMax)} = ${ratio(nodeMax && nginxMax ? nodeMax / nginxMax : undefined)}`,
        '',
      ],
    },
    {
      needs: ['gw-public', 'node-proxy'],
      row: () => [
        "(context) gateway public × the smallest Node proxy: the gateway's own cost",
        `${int(pub)} / ${int(nodeMax)} = ${ratio(pub && nodeMax ? pub / nodeMax : undefined)}`,
        '',
      ],
    },
    {
      needs: ['nginx-forward-auth', 'gw-live'],
      row: () => [
        '(context) nginx + forward-auth × gateway protected (live session): req/s; CPU ms/req (nginx + gateway, gateway)',
        `${int(fa)} / ${int(live)} = ${ratio(fa && live ? fa / live : undefined)}; ${ms(cpuPerRequestOf('nginx-forward-auth'), 3)} / ${ms(cpuPerRequestOf('gw-live'), 3)} ms`,
        '',
      ],
    },
    {
      needs: ['nginx-forward-auth', 'nginx'],
      row: () => ['(context) nginx + forward-auth × plain nginx', `${int(fa)} / ${int(nginxMax)} = ${ratio(fa && nginxMax ? fa / nginxMax : undefined)}`, ''],
    },
    {
      needs: ['gw-live', 'direct-root'],
      row: () => [
        `p99 added over direct at ${r.rate} req/s ≤ 2 ms — protected, live session (vs direct \`/\`)`,
        `${ms(p99('gw-live'))} − ${ms(p99('direct-root'))} = ${ms(addedLive)} ms`,
        verdict(Number.isFinite(addedLive) ? addedLive <= 2 : undefined),
      ],
    },
    {
      needs: ['gw-public', 'direct'],
      row: () => [
        `p99 added over direct at ${r.rate} req/s ≤ 2 ms — public (vs direct \`/public/hello\`)`,
        `${ms(p99('gw-public'))} − ${ms(p99('direct'))} = ${ms(addedPublic)} ms`,
        verdict(Number.isFinite(addedPublic) ? addedPublic <= 2 : undefined),
      ],
    },
    {
      needs: ['nginx', 'node-proxy', 'direct'],
      row: () => [
        `(context) p99 added over direct at ${r.rate} req/s by nginx / by the smallest Node proxy`,
        `${ms((p99('nginx') ?? NaN) - (p99('direct') ?? NaN))} ms / ${ms((p99('node-proxy') ?? NaN) - (p99('direct') ?? NaN))} ms`,
        '',
      ],
    },
    {
      needs: ['nginx-forward-auth', 'direct-root'],
      row: () => [
        `(context) p99 added over direct at ${r.rate} req/s by nginx + forward-auth (vs direct \`/\`)`,
        `${ms(p99('nginx-forward-auth'))} − ${ms(p99('direct-root'))} = ${ms((p99('nginx-forward-auth') ?? NaN) - (p99('direct-root') ?? NaN))} ms`,
        '',
      ],
    },
    ...(memory
      ? [
          {
            needs: [],
            row: () => [
              `${int(memory.sessions)} live sessions: gateway RSS ≤ 250 MB — freshly started gateway`,
              `peak ${mb(memory.fresh.rssPeak)}`,
              verdict(memory.fresh.rssPeak <= 250 && (memory.fresh.statuses['200'] ?? 0) === memory.sessions),
            ],
          },
          {
            needs: [],
            row: () => [
              `${int(memory.sessions)} live sessions: gateway RSS ≤ 250 MB — after all the scenarios above`,
              `peak ${mb(memory.afterLoad.rssPeak)}`,
              verdict(memory.afterLoad.rssPeak <= 250 && (memory.afterLoad.statuses['200'] ?? 0) === memory.sessions),
            ],
          },
        ]
      : []),
    ...(invalidation
      ? [
          {
            needs: [],
            row: () => [
              'Revocation under load takes effect ≤ 1 s',
              `${ms(invalidation.revoked.firstNewMs, 0)} ms`,
              verdict(invalidation.revoked.firstNewMs <= 1000 && invalidation.revoked.oldAfterNew === 0),
            ],
          },
          {
            needs: [],
            row: () => [
              'Policy change under load takes effect ≤ 1 s',
              `${ms(invalidation.denied.firstNewMs, 0)} ms`,
              verdict(invalidation.denied.firstNewMs <= 1000 && invalidation.denied.oldAfterNew === 0),
            ],
          },
        ]
      : []),
  ]
    .filter((t) => t.needs.every((key) => r.results.has(key)))
    .map((t) => t.row());
  const targets = table(['Target', 'Measured', 'Result'], targetRows);

  // CPU where it went, at maximum throughput.
  const cpuNames = ['gateway', 'authn', 'policy', 'flowlog', 'app', 'nats', 'redis', 'nginx', 'node', 'nginx-fa'];
  const cpuRows = [...r.results.values()]
    .filter((x) => x.max)
    .map(({ scenario: s, max }) => [
      s.title,
      ...cpuNames.map((n) => pct(max!.cpu.byName[n])),
      pct(max!.cpu.reapedChildren),
      pct(max!.cpu.machine),
      pct(max!.cpu.foreign),
    ]);
  const cpuTable = table(['At maximum (wrk)', ...cpuNames, 'wrk', 'machine', 'not ours'], cpuRows);
  const rateRows = [...r.results.values()]
    .filter((x) => x.rate)
    .map((x) => {
      const { scenario: s, rate } = x;
      const l = rate!.load;
      return [
        s.title,
        int(l.scheduled),
        int(l.completed),
        ms(l.latency.p90),
        ms(l.latency.max),
        ms(l.serviceTime.p99),
        ms(l.schedulerLag.p99),
        pct(rate!.cpu.byName.gateway),
        gcText(x.rateRuntime),
        x.rateRuntime ? `${ms(x.rateRuntime.loopP99Ms, 1)} / ${ms(x.rateRuntime.loopMaxMs, 1)}` : '',
        pct(rate!.cpu.self),
        pct(rate!.cpu.foreign),
        Object.keys(l.errorKinds).length ? JSON.stringify(l.errorKinds) : '',
      ];
    });
  const rateTable = table(
    [
      'At the constant rate',
      'scheduled',
      'completed',
      'p90 ms',
      'max ms',
      'p99 from send ms',
      'generator lag p99 ms',
      'gateway CPU',
      'gateway GC',
      'gateway event-loop delay p99 / max ms',
      'generator CPU',
      'not ours',
      'errors',
    ],
    rateRows,
  );
  const disturbed = r.busyBefore > 25 || [...r.results.values()].some((x) => (x.max?.cpu.foreign ?? 0) > 25 || (x.rate?.cpu.foreign ?? 0) > 25);

  const notes = [...r.results.values()].flatMap(({ scenario: s }) => s.notes.map((n) => `- ${s.title}: ${n}`));
  const md = `# microseg benchmark — ${r.started.toISOString()}

Machine: ${availableCores()} cores, ${process.version}, wrk 4.1 (\`-t1 -c${CONNECTIONS}\`), nginx 1.22 (1 worker, TLS with the gateway's
certificate, upstream keep-alive). Cluster started isolated with \`LOG_LEVEL=warn\` (no per-request access log).
Every process — load generator, gateway, authn, policy, flowlog, NATS, Redis, demo app, IdP, nginx — shares the
same ${availableCores()} cores. Load average at start ${r.loadAtStart.map((x) => x.toFixed(2)).join(' ')}, at end ${r.loadAtEnd.map((x) => x.toFixed(2)).join(' ')}; in the 2 s before the
run other processes used ${pct(r.busyBefore)} of a core.${
    disturbed
      ? `

**Other work was running on the machine during this run** (the "not ours" CPU below: processes that are not part of the
benchmark): every process of ours got less CPU than it asked for, so throughput is lower and latency much higher than on an
idle machine. "Proxy CPU ms/req" (CPU time the proxy spent per request) is the steadier figure for comparing proxies.`
      : ''
  }

${
  PARTIAL
    ? `**A partial run** (\`--only ${[...opts.only!].join(',')}\`): only these scenarios and phases were measured.

`
    : ''
}Max req/s: wrk, ${WARMUP} s warm-up then ${DURATION} s; for HTTP/2, h2load 1.52 (\`-c${CONNECTIONS} -m1\`: as many requests in flight as wrk), the same. Latency: our coordinated-omission-safe generator at a constant
${r.rate} req/s (${r.rateBasis}), ${CONNECTIONS} keep-alive connections, ${RATE_WARMUP_MS / 1000} s warm-up then
${DURATION} s, each latency measured from the request's intended send time. Proxy CPU is % of one core (the gateway's
process, or nginx's worker; for nginx + forward-auth both), at the maximum / at the constant rate, and CPU time per request at the maximum; RSS is the peak. The logins row gives login
latency (a closed loop of ${LOGIN_CONCURRENCY}) instead of the constant-rate figures.

${main}

## Targets

${targets}

${[invalidationText(r.invalidation, r.rate), r.memory && memoryText(r.memory), r.logins && loginsText(r.logins)].filter(Boolean).join('\n\n')}

## Where the CPU went (% of one core)

${cpuTable}

${rateTable}

"p99 from send": the same requests timed from when they actually left (hides queueing; for comparison only). Generator lag:
how late our generator sent requests that found a free connection (its own delay). Gateway GC and event-loop delay come
from its /metrics over the run (warm-up included).
${notes.length ? `\nNotes:\n${notes.join('\n')}\n` : ''}${
    r.profile
      ? `
## Profile of the gateway (protected scenario, live session, \`--cpu-prof\`)

${int(r.profile.max.requestsPerSec)} req/s under the profiler (wrk, ${DURATION} s after a ${WARMUP} s warm-up); samples of the measured ${DURATION} s only:
busy ${int(r.profile.summary.busyMs)} ms of ${int(r.profile.summary.totalMs)} ms (busy = the main thread was not waiting for events; on a
shared machine that includes time it was ready but not scheduled). Self time: the frame itself, without what it calls.

${profileTable(r.profile.summary)}

${areasTable(r.profile.summary)}
`
      : ''
  }`;
  return { markdown: md, main, targets, cpu: cpuTable, rate: rateTable };
}

function invalidationText(i: Invalidation | undefined, rate: number): string {
  if (!i) return '';
  return `Invalidation under load (${rate} req/s on \`/\` with the session concerned; times from the moment the API call was made):

- revocation (\`DELETE /sessions?user=alice@example.com\`): first 401 after ${ms(i.revoked.firstNewMs, 0)} ms; the last 200 answered a
  request sent ${ms(i.revoked.lastOldSentMs, 0)} ms after the call; ${i.revoked.oldAfterNew} successes after the first 401${otherStatuses(i.revoked)}${(i.revoked.attempts ?? 1) > 1 ? `; the API answered 503 (authn busy) and was called ${i.revoked.attempts} times, timed from the first` : ''}.
- policy change (\`PATCH httpresourcespecs/private-app-api\`, \`/*\` for a tag nobody has): first 403 after ${ms(i.denied.firstNewMs, 0)} ms;
  last 200 for a request sent ${ms(i.denied.lastOldSentMs, 0)} ms after the call; ${i.denied.oldAfterNew} successes after the first 403${otherStatuses(i.denied)}.
  Restored: first 200 again after ${ms(i.restored.firstNewMs, 0)} ms.`;
}

function memoryText(m: MemoryResult): string {
  return `Memory: ${int(m.sessions)} live sessions written to Redis (authn's \`SessionStore\`: valid v2 records for private-app with alice's tags) in
${(m.createMs / 1000).toFixed(1)} s, each used once through the gateway, 32 at a time — first on the gateway that carried every scenario
above, then on the same gateway restarted (empty caches); as a control, the same number of requests with a single session on a
restarted gateway shows what the load alone costs. V8 heap given as used / reserved / external.

${memoryTable(m)}

RSS beyond the reserved heap is Node itself (binary, code, ~${mb(m.atStart.rss !== undefined && m.atStart.heap ? m.atStart.rss - m.atStart.heap.heapTotalMb : undefined)} at start) and native memory
(TLS and socket buffers, malloc arenas).`;
}

function loginsText(l: LoginsResult): string {
  return `Logins: ${l.completed} in ${DURATION} s (${l.perSecond.toFixed(1)}/s), errors ${l.errors}${l.errors ? ` ${JSON.stringify(l.errorKinds)}` : ''};
CPU gateway ${pct(l.cpu.byName.gateway)}, authn ${pct(l.cpu.byName.authn)}, IdP ${pct(l.cpu.byName.idp)}, policy ${pct(l.cpu.byName.policy)}, bench client ${pct(l.cpu.self)}.`;
}

function memoryTable(m: MemoryResult): string {
  const row = (label: string, run: MemoryRun) => [
    label,
    `${(run.touchMs / 1000).toFixed(1)} s`,
    JSON.stringify(run.statuses),
    mb(run.rssBefore),
    mb(run.rssPeak),
    mb(run.rssAfter),
    heapText(run.heapBefore),
    heapText(run.heapAfter),
  ];
  return table(
    ['Gateway', 'touching took', 'statuses', 'RSS before', 'RSS peak', 'RSS 1 s after', 'heap before', 'heap after'],
    [
      ['as started, before any scenario', '', '', mb(m.atStart.rss), '', '', heapText(m.atStart.heap), ''],
      row('after all the scenarios', m.afterLoad),
      ['restarted', '', '', mb(m.restarted.rss), '', '', heapText(m.restarted.heap), ''],
      row(`restarted, control: ${int(m.sessions)} requests with one session`, m.control),
      row(`restarted again, ${int(m.sessions)} sessions touched`, m.fresh),
    ],
  );
}

/** `412 ms in 380 pauses (2 major, 1 over 100 ms)` */
function gcText(r: RuntimeSnapshot | undefined): string {
  if (!r) return '';
  const all = Object.values(r.gc);
  const total = all.reduce((a, g) => a + g.ms, 0);
  const count = all.reduce((a, g) => a + g.count, 0);
  const over = all.reduce((a, g) => a + g.over100ms, 0);
  return `${int(total)} ms in ${int(count)} pauses (${r.gc.major?.count ?? 0} major${over ? `, ${over} over 100 ms` : ''})`;
}

function heapText(h: HeapReading | undefined): string {
  return h ? `${mb(h.heapUsedMb)} / ${mb(h.heapTotalMb)} / ${mb(h.externalMb)}` : '—';
}

function otherStatuses(e: Effect): string {
  const keys = Object.keys(e.otherStatuses);
  return keys.length ? `; other answers ${JSON.stringify(e.otherStatuses)}` : '';
}

function availableCores(): number {
  return navigator.hardwareConcurrency;
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(`\nbench failed: ${err.stack ?? err.message}`);
    process.exit(1);
  },
);
