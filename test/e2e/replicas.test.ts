// Every service runs safely with several replicas: under steady traffic, one
// replica of authn, policy and flowlog is stopped in turn; no request fails but
// those it was serving at that instant, the work is visibly shared while both
// run (per-replica counters), and every flow is counted exactly once.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loginWithHttp, startCluster, waitFor, type Cluster, type LoggedIn, type Replica, type ServiceName } from '@microseg/testkit';

const NS = '/acme/team-b/dev/private-app';
const CLIENTS = 4;
let cluster: Cluster;
let alice: LoggedIn;
const replicas = new Map<ServiceName, Replica>();

before(async () => {
  // Every request asks authn and policy (no session or decision reuse), so that their replicas have work to share.
  cluster = await startCluster({
    dataDir: await mkdtemp(join(tmpdir(), 'microseg-replicas-')),
    isolated: true,
    env: { AUTHN_LOOKUP_CACHE_MS: '0', GATEWAY_DECISION_CACHE_MS: '0' },
  });
  for (const name of ['authn', 'policy', 'flowlog'] as ServiceName[]) replicas.set(name, await cluster.startReplica(name, 2));
  alice = await loginWithHttp(cluster.gatewayUrl, 'alice@example.com', 'alice');
  assert.equal(alice.response.status, 200);
});

after(async () => {
  await cluster?.stop();
});

/** A counter of the work one replica did, read from its own health port. */
async function workDone(service: ServiceName, port: number): Promise<number> {
  if (service === 'authn') return ((await (await fetch(`http://127.0.0.1:${port}/stats`)).json()) as { lookups: number }).lookups;
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const metric = service === 'policy' ? 'microseg_policy_decisions_total' : 'microseg_flowlog_events_stored_total';
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${metric}{`) || line.startsWith(`${metric} `))
    .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
}

const primaryPort = (service: ServiceName) =>
  ({ authn: cluster.ports.authn, policy: cluster.ports.policy, flowlog: cluster.ports.flowlog, gateway: cluster.ports.gatewayAdmin })[service];

test('one replica of authn, policy and flowlog stopped in turn under steady traffic: nothing fails, work is shared, every flow counted once', async () => {
  const outcomes: number[] = [];
  let running = true;
  const clients = Array.from({ length: CLIENTS }, async () => {
    while (running) {
      try {
        const res = await alice.browser.request(`${cluster.gatewayUrl}/_echo`, { headers: { accept: 'application/json' } });
        await res.arrayBuffer();
        outcomes.push(res.status);
      } catch {
        outcomes.push(0); // the connection failed: counted as a failed request
      }
    }
  });

  const shared: Record<string, [number, number]> = {};
  try {
    for (const service of ['authn', 'policy', 'flowlog'] as ServiceName[]) {
      const ports = [primaryPort(service), replicas.get(service)!.port];
      const before = await Promise.all(ports.map((p) => workDone(service, p)));
      await waitFor(
        `both ${service} replicas to take work`,
        async () => {
          const now = await Promise.all(ports.map((p) => workDone(service, p)));
          return now.every((n, i) => n - before[i]! >= 5);
        },
        20_000,
      );
      const now = await Promise.all(ports.map((p) => workDone(service, p)));
      shared[service] = [now[0]! - before[0]!, now[1]! - before[1]!];

      await cluster.stopService(service);
      const stoppedAt = outcomes.length;
      await waitFor(`traffic with one ${service} replica`, async () => outcomes.length >= stoppedAt + 50, 20_000);
      await cluster.startService(service);
    }
  } finally {
    // However the steps above end, the traffic stops.
    running = false;
    await Promise.all(clients);
  }

  const failed = outcomes.filter((s) => s !== 200);
  console.log({ requests: outcomes.length, failed: failed.length, sharedWhileBothRan: shared });
  assert.deepEqual(failed, [], 'a replica that stops finishes what it serves; the others take the rest');

  // Every accepted request is one accepted flow, counted once, though consumers stopped and restarted.
  const expected = outcomes.length;
  let counted = 0;
  await waitFor(
    'every flow to be counted',
    async () => {
      const res = await fetch(`${cluster.flowlogUrl}/api/v1/flows?namespace=${NS}&limit=1000`, { headers: { authorization: `Bearer ${cluster.adminToken}` } });
      const body = (await res.json()) as { flows: Array<{ URI: string; action: string; user: string; count: number }> };
      counted = body.flows.filter((f) => f.URI === 'GET /_echo' && f.action === 'Accept' && f.user === 'alice@example.com').reduce((n, f) => n + f.count, 0);
      return counted >= expected;
    },
    20_000,
  );
  assert.equal(counted, expected, 'no flow counted twice');
});
