// A gateway with two workers (GATEWAY_WORKERS=2, node:cluster): both serve the same port; a revocation and a
// policy change reach both within a second (each has its own caches, fed and cleared by the broadcasts); a
// worker killed with SIGKILL loses no request on the other and is replaced; stopping the gateway stops both.
// Which worker a connection landed on is read from the primary's /metrics (workers-kit.ts): a keep-alive
// connection stays on its worker, and nothing else talks to the gateway here.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCluster, waitFor, type Cluster, policyApi, sessionCookieFor } from '@microseg/testkit';
import { alive, closeAll, connectionsOn, metricsText, perWorker, readiness, requestsPerWorker, stream, workerPids, type Connection } from './workers-kit.ts';

const NS = '/acme/team-b/dev/private-app';
let cluster: Cluster;

before(async () => {
  // The local cluster returns once every worker is ready.
  cluster = await startCluster({ dataDir: await mkdtemp(join(tmpdir(), 'microseg-workers-')), isolated: true, env: { GATEWAY_WORKERS: '2' } });
});

after(async () => {
  await closeAll();
  await cluster?.stop();
});

const api = policyApi(() => cluster, NS);

const aliceCookie = () => sessionCookieFor(cluster.gatewayUrl, 'alice@example.com', 'alice');

/** One connection on each worker. */
async function onBoth(): Promise<[Connection, Connection]> {
  const pinned = await connectionsOn(cluster, { 1: 1, 2: 1 });
  return [pinned[1]![0]!, pinned[2]![0]!];
}

/** Polls every connection until each answers `status`; how long that took from `since`. */
async function reachedAll(connections: Connection[], path: string, cookie: string, status: number, since: number): Promise<number> {
  for (const c of connections) await waitFor(`worker ${c.worker} to answer ${status}`, async () => (await c.status(path, cookie)) === status, 2_000, 10);
  return performance.now() - since;
}

test('two workers serve the same port; /metrics sums them as one gateway and counts each', async () => {
  const ready = await readiness(cluster);
  assert.equal(ready.status, 200);
  assert.deepEqual(
    ready.workers.map((w) => [w.worker, w.state, w.ready]),
    [
      [1, 'running', true],
      [2, 'running', true],
    ],
  );
  const [one, two] = await onBoth();
  const before = await requestsPerWorker(cluster);
  for (let i = 0; i < 5; i++) assert.equal(await one.status('/public/hello'), 200);
  for (let i = 0; i < 3; i++) assert.equal(await two.status('/public/hello'), 200);
  const text = await metricsText(cluster);
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
  assert.deepEqual([one.drops, two.drops], [0, 0]);
});

test('a revocation and a policy change reach both workers within a second', async () => {
  // Revocation: both workers have alice's session in their caches; the broadcast clears it in both.
  const cookie = await aliceCookie();
  let both = await onBoth();
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
  both = await onBoth();
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

test('a worker killed (SIGKILL) loses no request on the other, and is replaced within seconds', async () => {
  const pids = await workerPids(cluster);
  assert.deepEqual([...pids.keys()].sort(), [1, 2]);
  const { 2: kept = [] } = await connectionsOn(cluster, { 2: 3 });

  // A steady stream on three connections to worker 2.
  const { tally, stop } = stream(kept, '/public/hello');
  await waitFor('the stream to run', async () => tally.ok >= 30, 10_000, 10);

  const killedAt = performance.now();
  process.kill(pids.get(1)!, 'SIGKILL');
  await waitFor(
    'worker 1 to be replaced and ready',
    async () => {
      const replaced = (await workerPids(cluster)).get(1);
      return replaced !== undefined && replaced !== pids.get(1) && (await readiness(cluster)).workers[0]!.ready;
    },
    20_000,
    50,
  );
  const readyMs = performance.now() - killedAt;
  const duringKill = tally.ok;
  // The stream goes on a little with both workers back.
  await waitFor('the stream to go on', async () => tally.ok >= duringKill + 30, 10_000, 10);
  await stop();

  console.log(`worker 1 replaced and ready ${Math.round(readyMs)} ms after SIGKILL; ${tally.ok} requests on worker 2 meanwhile`);
  assert.deepEqual(tally.failed, [], 'no request on worker 2 failed');
  assert.deepEqual(
    kept.map((c) => c.drops),
    [0, 0, 0],
    "worker 2's connections were never dropped",
  );
  // The new worker 1 serves.
  const { 1: [fresh] = [] } = await connectionsOn(cluster, { 1: 1 });
  assert.equal(await fresh!.status('/public/hello'), 200);
  const servesMs = performance.now() - killedAt;
  console.log(`the new worker 1 served ${Math.round(servesMs)} ms after SIGKILL`);
  assert.ok(servesMs < 15_000, `took ${servesMs} ms`);

  const text = await metricsText(cluster);
  assert.equal(perWorker(text, 'microseg_gateway_worker_restarts_total').get(1), 1);
  assert.equal(perWorker(text, 'microseg_gateway_worker_restarts_total').get(2), 0);
  assert.match(await readFile(join(cluster.logDir, 'gateway.log'), 'utf8'), /gateway worker died; replacing it/);
});

test('stopping the gateway (SIGTERM to the primary) stops every worker', async () => {
  const pids = [...(await workerPids(cluster)).values()];
  assert.equal(pids.length, 2);
  await cluster.stopService('gateway');
  assert.deepEqual(pids.filter(alive), [], 'no worker left behind');
  assert.match(await readFile(join(cluster.logDir, 'gateway.log'), 'utf8'), /gateway worker stopped/);
});
