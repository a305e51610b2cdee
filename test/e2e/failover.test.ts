// Fail closed: with authn gone, a session the gateway verified moments ago
// stands until its short cache bound, then protected requests get 503; with
// policy gone, the last good decision for the very same request stands for a
// bounded grace period, then 503. Nothing is forwarded without a decision.
// Service resumes after the restart, sessions intact (Redis).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loginWithHttp, startCluster, waitFor, type Cluster, type LoggedIn, type ServiceName } from '@microseg/testkit';

let cluster: Cluster;
let alice: LoggedIn;
const GRACE_MS = 2_000;

before(async () => {
  cluster = await startCluster({
    dataDir: await mkdtemp(join(tmpdir(), 'microseg-failover-')),
    isolated: true,
    env: { GATEWAY_DECISION_GRACE_MS: String(GRACE_MS), AUTHN_LOOKUP_CACHE_MS: String(GRACE_MS) },
  });
  alice = await loginWithHttp(cluster.gatewayUrl, 'alice@example.com', 'alice');
  assert.equal(alice.response.status, 200);
});

after(async () => {
  await cluster?.stop();
});

interface Outcome {
  status: number;
  code?: string;
  forwardedAs?: string;
}

async function protectedRequest(path = '/_echo'): Promise<Outcome> {
  const res = await alice.browser.request(`${cluster.gatewayUrl}${path}`, { headers: { accept: 'application/json' } });
  const body = (await res.json()) as { code?: string; headers?: Record<string, string> };
  return { status: res.status, code: body.code, forwardedAs: body.headers?.['x-user-email'] };
}

/** Sequential traffic until stopped; every outcome is kept. */
function steadyTraffic(): { outcomes: Outcome[]; stop(): Promise<void> } {
  const outcomes: Outcome[] = [];
  let running = true;
  const loop = (async () => {
    while (running) outcomes.push(await protectedRequest());
  })();
  return {
    outcomes,
    async stop() {
      running = false;
      await loop;
    },
  };
}

const unavailable: Outcome = { status: 503, code: 'GATEWAY_DECISION_UNAVAILABLE', forwardedAs: undefined };

for (const service of ['policy', 'authn'] as ServiceName[]) {
  test(`with ${service} stopped, protected requests get 503 and none is forwarded without a decision; service resumes after the restart`, async () => {
    assert.deepEqual(await protectedRequest(), { status: 200, code: undefined, forwardedAs: 'alice@example.com' });
    const traffic = steadyTraffic();
    await waitFor('some traffic before the stop', async () => traffic.outcomes.length >= 5);

    await cluster.stopService(service);
    // A request never decided before has no last good decision: 503 at once.
    if (service === 'policy') assert.deepEqual(await protectedRequest('/_echo/never-decided'), unavailable);
    // What was verified moments ago stands only for its bound (decision grace, session cache).
    await waitFor('the bound to end', async () => traffic.outcomes.at(-1)?.status === 503, GRACE_MS + 3_000);
    const stoppedAt = traffic.outcomes.length;
    // While it is down, every answer is a 503 from the gateway.
    await waitFor('traffic while stopped', async () => traffic.outcomes.length >= stoppedAt + 10);
    const whileDown = traffic.outcomes.slice(stoppedAt);
    for (const outcome of whileDown) assert.deepEqual(outcome, unavailable);

    const restartedAt = Date.now();
    await cluster.startService(service);
    await waitFor(`requests allowed again after ${service} restarted`, async () => traffic.outcomes.at(-1)?.status === 200, 10_000);
    const resumedAfterMs = Date.now() - restartedAt;
    await traffic.stop();

    // Across the whole run: only a decision-backed 200 for alice, or a 503. Nothing else, nothing forwarded without a decision.
    for (const outcome of traffic.outcomes) {
      if (outcome.status === 200) assert.equal(outcome.forwardedAs, 'alice@example.com');
      else assert.deepEqual(outcome, unavailable);
    }
    assert.ok(resumedAfterMs < 10_000, `resumed after ${resumedAfterMs} ms`);
    console.log(service, { resumedAfterMs, total: traffic.outcomes.length, down: whileDown.length });
    // Still logged in: the same cookie works, no new login.
    assert.deepEqual(await protectedRequest(), { status: 200, code: undefined, forwardedAs: 'alice@example.com' });
  });
}
