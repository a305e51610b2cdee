// A gateway with two workers (GATEWAY_WORKERS=2, node:cluster): both serve the same port; a revocation and a
// policy change reach both within a second (each has its own caches, fed and cleared by the broadcasts); a
// worker killed with SIGKILL loses no request on the other and is replaced; stopping the gateway stops both.
// Which worker a connection landed on is read from the primary's /metrics (requests per worker): a keep-alive
// connection stays on its worker, and nothing else talks to the gateway here.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'undici';
import { loginWithHttp, startCluster, waitFor, type Cluster } from '@microseg/testkit';

const NS = '/acme/team-b/dev/private-app';
let cluster: Cluster;

before(async () => {
  cluster = await startCluster({ dataDir: await mkdtemp(join(tmpdir(), 'microseg-workers-')), isolated: true, env: { GATEWAY_WORKERS: '2' } });
  // The cluster waits for the gateway's /readyz: one worker ready. Both, for these tests.
  await waitFor('both workers to be ready', async () => (await readiness()).workers.every((w) => w.ready), 30_000);
});

after(async () => {
  await cluster?.stop();
});

interface WorkerReadiness {
  worker: number;
  state: string;
  ready: boolean;
}

async function readiness(): Promise<{ status: number; workers: WorkerReadiness[] }> {
  const res = await fetch(`http://127.0.0.1:${cluster.ports.gatewayAdmin}/readyz`);
  return { status: res.status, workers: ((await res.json()) as { workers: WorkerReadiness[] }).workers };
}

async function metricsText(): Promise<string> {
  return (await fetch(`http://127.0.0.1:${cluster.ports.gatewayAdmin}/metrics`)).text();
}

/** A value of a per-worker series of /metrics, by worker. */
function perWorker(text: string, name: string): Map<number, number> {
  const found = new Map<number, number>();
  for (const m of text.matchAll(new RegExp(`^${name}\\{worker="(\\d+)"\\} (\\S+)$`, 'gm'))) found.set(Number(m[1]), Number(m[2]));
  return found;
}

const requestsPerWorker = async () => perWorker(await metricsText(), 'microseg_gateway_worker_requests_total');

/** One keep-alive connection to the gateway's port; it stays on the worker it landed on unless it drops. */
class Connection {
  readonly client = new Client(`https://127.0.0.1:${cluster.ports.gateway}`, {
    connect: { rejectUnauthorized: false, servername: 'localhost' },
    pipelining: 1,
  });
  drops = 0;
  worker = 0;
  constructor() {
    this.client.on('disconnect', () => this.drops++);
  }

  async status(path: string, cookie?: string): Promise<number> {
    const res = await this.client.request({
      method: 'GET',
      path,
      headers: { host: `localhost:${cluster.ports.gateway}`, accept: 'application/json', ...(cookie ? { cookie: `__Host-microseg=${cookie}` } : {}) },
    });
    await res.body.dump();
    return res.statusCode;
  }
}

const opened: Connection[] = [];
after(async () => {
  // Some were closed already (connectionsOn closes those it does not keep).
  await Promise.all(opened.map((c) => c.client.close().catch(() => undefined)));
});

/**
 * New connections until `want[w]` of them are on worker w: each sends one request, and the worker whose count
 * grew by one has it. Workers with other traffic meanwhile must not be in `want`.
 */
async function connectionsOn(want: Record<number, number>): Promise<Record<number, Connection[]>> {
  const found: Record<number, Connection[]> = Object.fromEntries(Object.keys(want).map((w) => [w, []]));
  const missing = () => Object.entries(want).some(([w, n]) => found[Number(w)]!.length < n);
  for (let attempt = 0; missing(); attempt++) {
    assert.ok(attempt < 20, `no connection landed on the workers wanted after 20 tries: ${JSON.stringify(want)}`);
    const before = await requestsPerWorker();
    const connection = new Connection();
    opened.push(connection);
    assert.equal(await connection.status('/public/hello'), 200);
    const after = await requestsPerWorker();
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

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${cluster.policyUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${cluster.adminToken}`, 'x-namespace': NS, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: await res.json() };
}

async function aliceCookie(): Promise<string> {
  const alice = await loginWithHttp(cluster.gatewayUrl, 'alice@example.com', 'alice');
  assert.equal(alice.response.status, 200);
  const cookie = alice.browser.cookie('__Host-microseg');
  assert.ok(cookie);
  return cookie;
}

/** Polls every connection until each answers `status`; how long that took from `since`. */
async function reachedAll(connections: Connection[], path: string, cookie: string, status: number, since: number): Promise<number> {
  for (const c of connections) await waitFor(`worker ${c.worker} to answer ${status}`, async () => (await c.status(path, cookie)) === status, 2_000, 10);
  return performance.now() - since;
}

test('two workers serve the same port; /metrics sums them as one gateway and counts each', async () => {
  const ready = await readiness();
  assert.equal(ready.status, 200);
  assert.deepEqual(
    ready.workers.map((w) => [w.worker, w.state, w.ready]),
    [
      [1, 'running', true],
      [2, 'running', true],
    ],
  );
  const { 1: [one] = [], 2: [two] = [] } = await connectionsOn({ 1: 1, 2: 1 });
  const before = await requestsPerWorker();
  for (let i = 0; i < 5; i++) assert.equal(await one!.status('/public/hello'), 200);
  for (let i = 0; i < 3; i++) assert.equal(await two!.status('/public/hello'), 200);
  const text = await metricsText();
  const after = perWorker(text, 'microseg_gateway_worker_requests_total');
  assert.deepEqual([after.get(1)! - before.get(1)!, after.get(2)! - before.get(2)!], [5, 3]);
  // The gateway's own series are the workers' sums, with no worker label.
  const total = Number(/^microseg_gateway_request_duration_seconds_count (\d+)$/m.exec(text)?.[1]);
  assert.equal(total, after.get(1)! + after.get(2)!);
  assert.match(text, /^microseg_gateway_requests_total\{service="private-app",decision="accept",drop_reason=""\} \d+$/m);
  assert.deepEqual(
    [...perWorker(text, 'microseg_gateway_worker_up')],
    [
      [1, 1],
      [2, 1],
    ],
  );
  assert.deepEqual([one!.drops, two!.drops], [0, 0]);
});

test('a revocation and a policy change reach both workers within a second', async () => {
  // Revocation: both workers have alice's session in their caches; the broadcast clears it in both.
  const cookie = await aliceCookie();
  let pinned = await connectionsOn({ 1: 1, 2: 1 });
  let both = [pinned[1]![0]!, pinned[2]![0]!];
  for (const c of both) assert.equal(await c.status('/_echo', cookie), 200);
  const revokedAt = performance.now();
  const revoked = await api('DELETE', '/sessions?user=alice@example.com');
  assert.equal(revoked.status, 200);
  const revocationMs = await reachedAll(both, '/_echo', cookie, 401, revokedAt);
  console.log(`the revocation reached both workers in ${Math.round(revocationMs)} ms`);
  assert.ok(revocationMs < 1_000, `took ${revocationMs} ms`);
  assert.deepEqual(
    both.map((c) => c.drops),
    [0, 0],
    'each connection stayed on its worker',
  );

  // Policy: both workers have alice's decision in their caches; the change clears it in both.
  const again = await aliceCookie();
  pinned = await connectionsOn({ 1: 1, 2: 1 });
  both = [pinned[1]![0]!, pinned[2]![0]!];
  for (const c of both) assert.equal(await c.status('/_echo', again), 200);
  const original = await api('GET', '/httpresourcespecs/private-app-api');
  assert.equal(original.status, 200);
  const changedAt = performance.now();
  const changed = await api('PATCH', '/httpresourcespecs/private-app-api', {
    endpoints: [
      { URI: '/public/*', methods: ['GET'], public: true },
      { URI: '/*', methods: ['GET', 'POST'], scopes: [['email=nobody@example.com']] },
    ],
  });
  assert.equal(changed.status, 200, JSON.stringify(changed.body));
  const changeMs = await reachedAll(both, '/_echo', again, 403, changedAt);
  console.log(`the policy change reached both workers in ${Math.round(changeMs)} ms`);
  assert.ok(changeMs < 1_000, `took ${changeMs} ms`);
  assert.deepEqual(
    both.map((c) => c.drops),
    [0, 0],
  );
  assert.equal((await api('PATCH', '/httpresourcespecs/private-app-api', { endpoints: original.body.endpoints })).status, 200);
  await reachedAll(both, '/_echo', again, 200, performance.now());
});

/** The primary's children: worker number → pid (from their arguments, `--worker=N`). */
async function workerPids(): Promise<Map<number, number>> {
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

test('a worker killed (SIGKILL) loses no request on the other, and is replaced within seconds', async () => {
  const pids = await workerPids();
  assert.deepEqual([...pids.keys()].sort(), [1, 2]);
  const { 2: kept = [] } = await connectionsOn({ 2: 3 });

  // A steady stream on three connections to worker 2.
  let streaming = true;
  const tally = { ok: 0, failed: [] as string[] };
  const streams = kept.map(async (c) => {
    while (streaming) {
      try {
        const status = await c.status('/public/hello');
        if (status === 200) tally.ok++;
        else tally.failed.push(`status ${status}`);
      } catch (err) {
        tally.failed.push((err as Error).message);
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  });
  await waitFor('the stream to run', async () => tally.ok >= 30, 10_000, 10);

  const killedAt = performance.now();
  process.kill(pids.get(1)!, 'SIGKILL');
  await waitFor(
    'worker 1 to be replaced and ready',
    async () => {
      const replaced = (await workerPids()).get(1);
      return replaced !== undefined && replaced !== pids.get(1) && (await readiness()).workers[0]!.ready;
    },
    20_000,
    50,
  );
  const readyMs = performance.now() - killedAt;
  const duringKill = tally.ok;
  // The stream goes on a little with both workers back.
  await waitFor('the stream to go on', async () => tally.ok >= duringKill + 30, 10_000, 10);
  streaming = false;
  await Promise.all(streams);

  console.log(`worker 1 replaced and ready ${Math.round(readyMs)} ms after SIGKILL; ${tally.ok} requests on worker 2 meanwhile`);
  assert.deepEqual(tally.failed, [], 'no request on worker 2 failed');
  assert.deepEqual(
    kept.map((c) => c.drops),
    [0, 0, 0],
    "worker 2's connections were never dropped",
  );
  // The new worker 1 serves.
  const { 1: [fresh] = [] } = await connectionsOn({ 1: 1 });
  assert.equal(await fresh!.status('/public/hello'), 200);
  const servesMs = performance.now() - killedAt;
  console.log(`the new worker 1 served ${Math.round(servesMs)} ms after SIGKILL`);
  assert.ok(servesMs < 15_000, `took ${servesMs} ms`);

  const text = await metricsText();
  assert.equal(perWorker(text, 'microseg_gateway_worker_restarts_total').get(1), 1);
  assert.equal(perWorker(text, 'microseg_gateway_worker_restarts_total').get(2), 0);
  assert.match(await readFile(join(cluster.logDir, 'gateway.log'), 'utf8'), /gateway worker died; replacing it/);
});

test('stopping the gateway (SIGTERM to the primary) stops every worker', async () => {
  const pids = [...(await workerPids()).values()];
  assert.equal(pids.length, 2);
  await cluster.stopService('gateway');
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  assert.deepEqual(pids.filter(alive), [], 'no worker left behind');
  assert.match(await readFile(join(cluster.logDir, 'gateway.log'), 'utf8'), /gateway worker stopped/);
});
