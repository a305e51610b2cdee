// Attacks a gateway with several workers (GATEWAY_WORKERS) opens: a revoked session or a tightened rule kept
// alive on connections held to every worker (each has caches of its own), a worker made to die again and
// again, responses that would tell which process answered, and workers orphaned when their primary is killed.
// The cases and their sources: test/attacks/README.md, "Gateway workers".
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isListening, startCluster, waitFor, type Cluster, policyApi, sessionCookieFor } from '@microseg/testkit';
import { alive, closeAll, connectionsOn, readiness, stream, waitForAllWorkers, workerPids, type Connection } from '../e2e/workers-kit.ts';

const NS = '/acme/team-b/dev/private-app';
let cluster: Cluster;

before(async () => {
  // The local cluster returns once every worker is ready.
  cluster = await startCluster({ dataDir: await mkdtemp(join(tmpdir(), 'microseg-attack-workers-')), isolated: true, env: { GATEWAY_WORKERS: '2' } });
});

after(async () => {
  await closeAll();
  await cluster?.stop();
});

const api = policyApi(() => cluster, NS);

const aliceCookie = () => sessionCookieFor(cluster.gatewayUrl, 'alice@example.com', 'alice');

/**
 * The attacker's requests on every connection, back to back, from before `act()` until each connection has
 * been refused `refusedWith` 20 times in a row: when each last got a 200, in ms after `act()` began.
 */
async function lastServedAfter(connections: Connection[], cookie: string, refusedWith: number, act: () => Promise<void>): Promise<number[]> {
  const lastOk = connections.map(() => -Infinity);
  let actedAt = Infinity;
  const loops = connections.map(async (c, i) => {
    let refusals = 0;
    const deadline = performance.now() + 15_000;
    while (refusals < 20 && performance.now() < deadline) {
      const status = await c.status('/_echo', cookie);
      if (status === 200) {
        lastOk[i] = performance.now();
        refusals = 0;
      } else {
        assert.equal(status, refusedWith, `worker ${c.worker}`);
        refusals++;
      }
    }
    assert.equal(refusals, 20, `worker ${c.worker} never refused the attacker`);
  });
  // Every connection is served before the act.
  await waitFor('every connection to be served', async () => lastOk.every(Number.isFinite), 5_000, 10);
  actedAt = performance.now();
  await act();
  await Promise.all(loops);
  return lastOk.map((t) => Math.max(0, t - actedAt));
}

test('a revoked session kept alive on connections held to every worker is refused by all within a second', async () => {
  const cookie = await aliceCookie();
  const pinned = await connectionsOn(cluster, { 1: 2, 2: 2 });
  const held = [...pinned[1]!, ...pinned[2]!];
  const after = await lastServedAfter(held, cookie, 401, async () => {
    assert.equal((await api('DELETE', '/sessions?user=alice@example.com')).status, 200);
  });
  console.log(`last 200 per connection after the revocation: ${after.map(Math.round).join(', ')} ms`);
  for (const [i, ms] of after.entries()) assert.ok(ms < 1_000, `worker ${held[i]!.worker} served the revoked session ${ms} ms later`);
  assert.deepEqual(
    held.map((c) => c.drops),
    [0, 0, 0, 0],
    'the connections stayed on their workers',
  );
});

test('a rule tightened while connections are held to every worker: refused by all within a second', async () => {
  const cookie = await aliceCookie();
  const pinned = await connectionsOn(cluster, { 1: 2, 2: 2 });
  const held = [...pinned[1]!, ...pinned[2]!];
  const original = await api('GET', '/httpresourcespecs/private-app-api');
  try {
    const after = await lastServedAfter(held, cookie, 403, async () => {
      const changed = await api('PATCH', '/httpresourcespecs/private-app-api', {
        endpoints: [
          { URI: '/public/*', methods: ['GET'], public: true },
          { URI: '/*', methods: ['GET', 'POST'], scopes: [['email=nobody@example.com']] },
        ],
      });
      assert.equal(changed.status, 200);
    });
    console.log(`last 200 per connection after the change: ${after.map(Math.round).join(', ')} ms`);
    for (const [i, ms] of after.entries()) assert.ok(ms < 1_000, `worker ${held[i]!.worker} served alice ${ms} ms after the change`);
  } finally {
    assert.equal((await api('PATCH', '/httpresourcespecs/private-app-api', { endpoints: original.body.endpoints })).status, 200);
  }
});

test('responses never say which worker or process answered', async () => {
  const pids = [...(await workerPids(cluster)).values(), cluster.pid('gateway')!].map(String);
  const pinned = await connectionsOn(cluster, { 1: 1, 2: 1 });
  for (const c of [pinned[1]![0]!, pinned[2]![0]!]) {
    for (const [path, status] of [
      ['/public/hello', 200],
      ['/_echo', 401],
      ['/%2e%2e/x', 400],
    ] as const) {
      const res = await c.get(path);
      assert.equal(res.status, status, path);
      for (const [name, value] of Object.entries(res.headers)) {
        assert.doesNotMatch(name, /worker|pid|process|node/i, `${path}: header ${name}`);
        assert.doesNotMatch(String(value), /worker/i, `${path}: header ${name}`);
        // Numbers of their own (random ids, dates, lengths) may contain a pid's digits by chance.
        if (['x-request-id', 'date', 'etag', 'content-length', 'keep-alive'].includes(name)) continue;
        for (const pid of pids) assert.ok(!String(value).split(/\D+/).includes(pid), `${path}: ${name} names a process`);
      }
      const body = res.body.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '');
      assert.doesNotMatch(body, /worker/i, `${path}: body`);
      for (const pid of pids) assert.ok(!body.split(/\D+/).includes(pid), `${path}: the body names a process`);
    }
  }
});

test('a worker that dies again and again is replaced ever later, while the other serves and the gateway stays ready', async () => {
  const { 1: kept = [] } = await connectionsOn(cluster, { 1: 2 });
  const { tally, stop } = stream(kept, '/public/hello');
  let probing = true;
  const probes = { ok: 0, failed: 0 };
  const probe = (async () => {
    while (probing) {
      if ((await readiness(cluster).catch(() => ({ status: 0 }))).status === 200) probes.ok++;
      else probes.failed++;
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  try {
    // Worker 2 dies as soon as it serves, three times in a row (a request of death, a crash at start).
    for (let round = 0; round < 3; round++) {
      let pid: number | undefined;
      await waitFor(
        'worker 2 to serve',
        async () => {
          pid = (await workerPids(cluster)).get(2);
          return pid !== undefined && (await readiness(cluster)).workers[1]!.ready;
        },
        30_000,
        20,
      );
      process.kill(pid!, 'SIGKILL');
      await waitFor('worker 2 to be gone', async () => !alive(pid!), 5_000, 10);
    }
    await waitForAllWorkers(cluster);
  } finally {
    probing = false;
    await probe;
    await stop();
  }
  const delays = (await readFile(join(cluster.logDir, 'gateway.log'), 'utf8'))
    .split('\n')
    .filter((l) => l.includes('gateway worker died'))
    .map((l) => JSON.parse(l) as { worker: number; restartInMs: number })
    .filter((l) => l.worker === 2)
    .map((l) => l.restartInMs);
  assert.deepEqual(delays, [200, 400, 800], 'each replacement later than the one before');
  assert.deepEqual(tally.failed, [], 'no request on worker 1 failed');
  assert.ok(tally.ok > 0);
  assert.deepEqual(
    kept.map((c) => c.drops),
    [0, 0],
  );
  assert.equal(probes.failed, 0, `/readyz failed ${probes.failed} times of ${probes.ok + probes.failed}`);
});

test('the primary killed (SIGKILL): its workers stop by themselves, none left behind holding the port', async () => {
  const pids = [...(await workerPids(cluster)).values()];
  assert.equal(pids.length, 2);
  process.kill(cluster.pid('gateway')!, 'SIGKILL');
  // SHUTDOWN_GRACE_MS (10 s) bounds their draining.
  await waitFor('every worker to exit', async () => pids.every((pid) => !alive(pid)), 20_000, 50);
  assert.equal(await isListening('127.0.0.1', cluster.ports.gateway), false);
});
