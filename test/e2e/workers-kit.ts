// Tools for a gateway that runs workers (GATEWAY_WORKERS > 1), shared by the e2e and attack suites: the
// primary's /readyz and /metrics, keep-alive connections that stay on the worker they landed on, which worker
// that is (from the per-worker request counts of /metrics: nothing else may talk to the gateway meanwhile),
// and the workers' process ids (the primary's children, by their `--worker=N` argument).
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { Client } from 'undici';
import { waitFor, type Cluster } from '@microseg/testkit';

export interface WorkerReadiness {
  worker: number;
  state: string;
  ready: boolean;
}

export async function readiness(cluster: Cluster): Promise<{ status: number; workers: WorkerReadiness[] }> {
  const res = await fetch(`http://127.0.0.1:${cluster.ports.gatewayAdmin}/readyz`);
  return { status: res.status, workers: ((await res.json()) as { workers: WorkerReadiness[] }).workers };
}

export async function metricsText(cluster: Cluster): Promise<string> {
  return (await fetch(`http://127.0.0.1:${cluster.ports.gatewayAdmin}/metrics`)).text();
}

/** A per-worker series of /metrics: worker → value. */
export function perWorker(text: string, name: string): Map<number, number> {
  const found = new Map<number, number>();
  for (const m of text.matchAll(new RegExp(`^${name}\\{worker="(\\d+)"\\} (\\S+)$`, 'gm'))) found.set(Number(m[1]), Number(m[2]));
  return found;
}

export const requestsPerWorker = async (cluster: Cluster) => perWorker(await metricsText(cluster), 'microseg_gateway_worker_requests_total');

/** One keep-alive connection to the gateway's port; it stays on the worker it landed on unless it drops. */
export class Connection {
  readonly client: Client;
  readonly #port: number;
  /** How often the connection was lost (a later request would open another, maybe to another worker). */
  drops = 0;
  worker = 0;
  constructor(cluster: Cluster) {
    this.#port = cluster.ports.gateway;
    this.client = new Client(`https://127.0.0.1:${this.#port}`, { connect: { rejectUnauthorized: false, servername: 'localhost' }, pipelining: 1 });
    this.client.on('disconnect', () => this.drops++);
  }

  async get(path: string, cookie?: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
    const res = await this.client.request({
      method: 'GET',
      path,
      headers: { host: `localhost:${this.#port}`, accept: 'application/json', ...(cookie ? { cookie: `__Host-microseg=${cookie}` } : {}) },
    });
    return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
  }

  async status(path: string, cookie?: string): Promise<number> {
    return (await this.get(path, cookie)).status;
  }
}

/** Every connection `connectionsOn` opened, to close at the end. */
export const opened: Connection[] = [];

export async function closeAll(): Promise<void> {
  // Some were closed already (connectionsOn closes those it does not keep).
  await Promise.all(opened.map((c) => c.client.close().catch(() => undefined)));
}

/**
 * New connections until `want[w]` of them are on worker w: each sends one request, and the worker whose count
 * grew by one has it. Workers with other traffic meanwhile must not be in `want`.
 */
export async function connectionsOn(cluster: Cluster, want: Record<number, number>): Promise<Record<number, Connection[]>> {
  const found: Record<number, Connection[]> = Object.fromEntries(Object.keys(want).map((w) => [w, []]));
  const missing = () => Object.entries(want).some(([w, n]) => found[Number(w)]!.length < n);
  for (let attempt = 0; missing(); attempt++) {
    assert.ok(attempt < 30, `no connection landed on the workers wanted after 30 tries: ${JSON.stringify(want)}`);
    const before = await requestsPerWorker(cluster);
    const connection = new Connection(cluster);
    opened.push(connection);
    assert.equal(await connection.status('/public/hello'), 200);
    const after = await requestsPerWorker(cluster);
    const grew = [...after].filter(([w, n]) => n - (before.get(w) ?? 0) === 1 && w in want).map(([w]) => w);
    if (grew.length !== 1 || found[grew[0]!]!.length >= want[grew[0]!]!) {
      await connection.client.close();
      continue;
    }
    connection.worker = grew[0]!;
    found[grew[0]!]!.push(connection);
  }
  return found;
}

/** The primary's children: worker number → pid. */
export async function workerPids(cluster: Cluster): Promise<Map<number, number>> {
  const primary = cluster.pid('gateway');
  assert.ok(primary);
  const found = new Map<number, number>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== primary) continue;
      const worker = /--worker=(\d+)/.exec((await readFile(`/proc/${entry}/cmdline`, 'utf8')).replaceAll('\0', ' '));
      if (worker) found.set(Number(worker[1]), Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return found;
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Every worker ready, as the primary's /readyz says. */
export async function waitForAllWorkers(cluster: Cluster, timeoutMs = 30_000): Promise<void> {
  await waitFor('every worker to be ready', async () => (await readiness(cluster)).workers.every((w) => w.ready), timeoutMs);
}

/**
 * `connections` each sending `path` in turn (a pause of 5 ms between two) until `stop()`; what they got. A
 * connection that drops counts in its `drops`.
 */
export function stream(connections: Connection[], path: string, cookie?: string): { tally: { ok: number; failed: string[] }; stop: () => Promise<void> } {
  let streaming = true;
  const tally = { ok: 0, failed: [] as string[] };
  const loops = connections.map(async (c) => {
    while (streaming) {
      try {
        const status = await c.status(path, cookie);
        if (status === 200) tally.ok++;
        else tally.failed.push(`worker ${c.worker}: status ${status}`);
      } catch (err) {
        tally.failed.push(`worker ${c.worker}: ${(err as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  });
  return {
    tally,
    stop: async () => {
      streaming = false;
      await Promise.all(loops);
    },
  };
}
