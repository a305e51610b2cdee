// The cluster under test and what the scenarios need from it: the policy API, alice's
// sessions (through the real code flow, or many at once written directly to Redis
// with authn's own SessionStore), and a clean shutdown whatever way the run ends.
import { mkdtemp, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { RedisConnection } from '@microseg/config';
import { Pool } from 'undici';
import { loginWithHttp, startCluster, waitFor, type Cluster, type ServiceName } from '@microseg/testkit';
import { SessionStore, type SessionRecord } from '../../services/authn/src/sessions.ts';

export const NS = '/acme/team-b/dev/private-app';
export const ALICE = { login: 'alice@example.com', password: 'alice' };
export const SESSION_COOKIE = '__Host-microseg';

/** Runs cleanups in reverse order once, on success, failure, Ctrl-C or SIGTERM. */
export class Cleanup {
  readonly #steps: Array<{ what: string; run: () => Promise<void> }> = [];
  #running: Promise<void> | undefined;

  constructor(log: (line: string) => void) {
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      if (++signals > 1) {
        log(`${signal} again: leaving now (the cluster's and nginx's own exit hooks send them SIGTERM)`);
        process.exit(signal === 'SIGINT' ? 130 : 143);
      }
      log(`\n${signal}: stopping nginx and the cluster …`);
      void this.run().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
    };
    // `on`, not `once`: with no listener of ours left, signal-exit (loaded by the test kit's dependencies) would
    // re-raise the signal and end the process before the cleanup is done.
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }

  add(what: string, run: () => Promise<void>): void {
    this.#steps.push({ what, run });
  }

  run(): Promise<void> {
    this.#running ??= (async () => {
      for (const step of this.#steps.reverse()) {
        await Promise.race([step.run(), new Promise((resolve) => setTimeout(resolve, 20_000))]).catch((err: Error) =>
          console.error(`cleanup (${step.what}) failed: ${err.message}`),
        );
      }
    })();
    return this.#running;
  }
}

export interface BenchCluster {
  cluster: Cluster;
  dataDir: string;
  gatewayOrigin: string;
  /** The gateway's generated certificate and key (nginx terminates TLS with the same). */
  certFile: string;
  keyFile: string;
  nodeArgs: Partial<Record<ServiceName, string[]>>;
  api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
  /** Alice's session cookie, through the code flow at the gateway (or at another origin in front of it: nginx). */
  loginAlice(origin?: string): Promise<string>;
}

/** More environment for the cluster's services, the demo IdP and the demo app (forward-auth). */
export interface ClusterExtras {
  env?: Record<string, string>;
  idpEnv?: Record<string, string>;
  appEnv?: Record<string, string>;
}

/** `keepData()` is asked at the end: the data directory (logs, nginx files) stays when the run failed. */
export async function startBenchCluster(
  cleanup: Cleanup,
  log: (line: string) => void,
  keepData: () => boolean,
  extras: ClusterExtras = {},
): Promise<BenchCluster> {
  const dataDir = await mkdtemp(join(tmpdir(), 'microseg-bench-'));
  cleanup.add('data directory', async () => {
    if (keepData()) log(`logs kept in ${join(dataDir, 'logs')} (nginx: ${join(dataDir, 'nginx')})`);
    else await rm(dataDir, { recursive: true, force: true });
  });
  const nodeArgs: Partial<Record<ServiceName, string[]>> = {};
  log(`starting the cluster (isolated, LOG_LEVEL=warn; data in ${dataDir}) …`);
  // warn: per-request access logs would otherwise be a large part of the gateway's work.
  // The benchmark logs in 100+ times from 127.0.0.1 (more than the default login starts per address).
  const cluster = await startCluster({
    dataDir,
    isolated: true,
    logLevel: 'warn',
    nodeArgs,
    env: { AUTHN_LOGIN_STARTS_PER_ADDRESS: '1000000', ...extras.env },
    ...(extras.idpEnv ? { idpEnv: extras.idpEnv } : {}),
    ...(extras.appEnv ? { appEnv: extras.appEnv } : {}),
  });
  cleanup.add('cluster', () => cluster.stop());
  const certFile = join(dataDir, 'gateway', 'certs', 'localhost.crt');
  const keyFile = join(dataDir, 'gateway', 'certs', 'localhost.key');
  await waitFor('the gateway to create its certificate', async () => existsSync(certFile) && existsSync(keyFile), 10_000, 50);

  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${cluster.policyUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${cluster.adminToken}`, 'x-namespace': NS, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON
    }
    return { status: res.status, body: parsed as any };
  };

  const loginAlice = async (origin = cluster.gatewayUrl) => {
    const loggedIn = await withTimeout(loginWithHttp(origin, ALICE.login, ALICE.password), 20_000, 'a login');
    const cookie = loggedIn.browser.cookie(SESSION_COOKIE);
    if (loggedIn.response.status !== 200 || !cookie) throw new Error(`alice's login ended with ${loggedIn.response.status}: ${loggedIn.body.slice(0, 200)}`);
    return cookie;
  };

  return { cluster, dataDir, gatewayOrigin: `https://127.0.0.1:${cluster.ports.gateway}`, certFile, keyFile, nodeArgs, api, loginAlice };
}

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} took more than ${ms} ms`)), ms))),
  ]);
}

/**
 * Sessions written directly to Redis with authn's SessionStore: valid v2 records made from a real session of
 * alice (same service, namespace, issuer, audience, lifetimes and tags — so the same access), each with its own
 * ticket and its own user (`bench-N@example.com`, subject `bench-N`): revoking alice later ends only her real
 * sessions, not thousands of copies.
 */
export class SessionFactory {
  readonly #redis: Redis;
  readonly #store: SessionStore;
  #template: SessionRecord | undefined;
  #made = 0;

  constructor(redis: RedisConnection) {
    this.#redis = new Redis({ lazyConnect: false, maxRetriesPerRequest: 2, ...redis });
    this.#store = new SessionStore(this.#redis);
  }

  /** Takes alice's real session (opened with its cookie) as the template; checks it belongs to the service. */
  async useTemplate(cookie: string, service: { ID: string; namespace: string }): Promise<SessionRecord> {
    const loaded = await this.#store.lookup(cookie);
    if (!loaded) throw new Error("alice's session is not in Redis");
    if (loaded.record.serviceId !== service.ID || loaded.record.namespace !== service.namespace)
      throw new Error(
        `alice's session belongs to ${loaded.record.serviceId} in ${loaded.record.namespace}, not to private-app (${service.ID} in ${service.namespace})`,
      );
    this.#template = loaded.record;
    return loaded.record;
  }

  /** `count` new live v2 sessions with alice's tags; returns their cookie values. Bounded concurrency. */
  async create(count: number, concurrency = 64): Promise<string[]> {
    const template = this.#template;
    if (!template) throw new Error('useTemplate() first');
    const cookies: string[] = new Array(count);
    let next = 0;
    const worker = async () => {
      while (next < count) {
        const i = next++;
        const n = ++this.#made;
        const now = Date.now();
        const record: SessionRecord = { ...template, v: 2, user: `bench-${n}@example.com`, subject: `bench-${n}`, sid: undefined, createdAtMs: now };
        cookies[i] = (await this.#store.create(record)).cookieValue;
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
    return cookies;
  }

  async close(): Promise<void> {
    this.#redis.disconnect();
  }
}

/** GET `path` through the gateway once per cookie (bounded concurrency); counts the statuses. */
export async function touchEach(origin: string, hostHeader: string, path: string, cookies: string[], concurrency = 32): Promise<Record<string, number>> {
  const pool = new Pool(origin, {
    connections: concurrency,
    connect: { rejectUnauthorized: false, servername: 'localhost' },
    headersTimeout: 10_000,
    bodyTimeout: 10_000,
  });
  const statuses: Record<string, number> = {};
  let next = 0;
  const worker = async () => {
    while (next < cookies.length) {
      const cookie = cookies[next++]!;
      let key: string;
      try {
        const res = await pool.request({ path, method: 'GET', headers: { host: hostHeader, cookie: `${SESSION_COOKIE}=${cookie}` } });
        await res.body.dump({ limit: 1 << 20 });
        key = String(res.statusCode);
      } catch (err) {
        key = (err as { code?: string }).code ?? 'error';
      }
      statuses[key] = (statuses[key] ?? 0) + 1;
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    await pool.destroy();
  }
  return statuses;
}

export interface HeapReading {
  /** V8 heap in use / reserved, and memory outside it that V8 tracks (Buffers), MB. */
  heapUsedMb: number;
  heapTotalMb: number;
  externalMb: number;
}

/** The gateway's V8 heap figures from its Prometheus metrics (prom-client's default process metrics). */
export async function gatewayHeap(cluster: { ports: { gatewayAdmin: number } }): Promise<HeapReading | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${cluster.ports.gatewayAdmin}/metrics`, { signal: AbortSignal.timeout(3_000) });
    const text = await res.text();
    const metric = (name: string) => Number(new RegExp(`^microseg_process_${name} ([\\d.e+]+)`, 'm').exec(text)?.[1]) / 1048576;
    const reading = {
      heapUsedMb: metric('nodejs_heap_size_used_bytes'),
      heapTotalMb: metric('nodejs_heap_size_total_bytes'),
      externalMb: metric('nodejs_external_memory_bytes'),
    };
    return Number.isFinite(reading.heapUsedMb) ? reading : undefined;
  } catch {
    return undefined;
  }
}

export interface RuntimeSnapshot {
  /** Per GC kind (minor, major, incremental, weakcb): pauses, total ms, pauses over 100 ms. */
  gc: Record<string, { count: number; ms: number; over100ms: number }>;
  /** Event-loop delay since the previous scrape (prom-client resets its histogram at every scrape), ms. */
  loopP99Ms: number;
  loopMaxMs: number;
}

/** GC pauses and event-loop delay of the gateway from its /metrics (scrape once before a run to reset the delay). */
export async function gatewayRuntime(cluster: { ports: { gatewayAdmin: number } }): Promise<RuntimeSnapshot | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${cluster.ports.gatewayAdmin}/metrics`, { signal: AbortSignal.timeout(3_000) });
    const text = await res.text();
    const gc: RuntimeSnapshot['gc'] = {};
    const entry = (kind: string) => (gc[kind] ??= { count: 0, ms: 0, over100ms: 0 });
    const under100 = new Map<string, number>();
    for (const m of text.matchAll(/^microseg_process_nodejs_gc_duration_seconds_(count|sum|bucket)\{([^}]*)\} ([\d.e+-]+)$/gm)) {
      const labels = Object.fromEntries([...m[2]!.matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
      const kind = labels.kind ?? '?';
      const value = Number(m[3]);
      if (m[1] === 'count') entry(kind).count = value;
      else if (m[1] === 'sum') entry(kind).ms = value * 1000;
      else if (labels.le === '0.1') under100.set(kind, value);
    }
    for (const [kind, e] of Object.entries(gc)) e.over100ms = e.count - (under100.get(kind) ?? e.count);
    const gauge = (name: string) => Number(new RegExp(`^microseg_process_nodejs_eventloop_lag_${name}_seconds ([\\d.e+-]+)`, 'm').exec(text)?.[1]) * 1000;
    return { gc, loopP99Ms: gauge('p99'), loopMaxMs: gauge('max') };
  } catch {
    return undefined;
  }
}

/** What happened between two snapshots: GC pauses in the window, and the delay of the later one. */
export function runtimeBetween(before: RuntimeSnapshot | undefined, after: RuntimeSnapshot | undefined): RuntimeSnapshot | undefined {
  if (!before || !after) return undefined;
  const gc: RuntimeSnapshot['gc'] = {};
  for (const [kind, a] of Object.entries(after.gc)) {
    const b = before.gc[kind] ?? { count: 0, ms: 0, over100ms: 0 };
    gc[kind] = { count: a.count - b.count, ms: a.ms - b.ms, over100ms: a.over100ms - b.over100ms };
  }
  return { gc, loopP99Ms: after.loopP99Ms, loopMaxMs: after.loopMaxMs };
}
