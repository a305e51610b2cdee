// Attacks from inside the network, against the cluster as `npm start` runs it: a process that reaches NATS
// or Redis (in compose, the protected application shares their network) with no credentials, or with the
// credentials of the least trusted service, the gateway. It must not be able to answer decisions, read
// secrets or replies, mint API tokens, end sessions or make every gateway resync — and the real services
// must keep deciding. No service but the gateway reaches the keys that sign identity assertions.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { Redis } from 'ioredis';
import { natsConnectOptions } from '@microseg/bus';
import { buckets, redisKeys, subjects } from '@microseg/contracts';
import { insecureFetch, loginWithHttp, startCluster, type Cluster } from '@microseg/testkit';

let cluster: Cluster;
const open: NatsConnection[] = [];

before(async () => {
  cluster = await startCluster({ dataDir: await mkdtemp(join(tmpdir(), 'microseg-attacks-bus-')), isolated: true });
});
after(async () => {
  await Promise.all(open.map((nc) => nc.close().catch(() => undefined)));
  await cluster?.stop();
});

async function asGateway(): Promise<NatsConnection> {
  const nc = await connect({ ...natsConnectOptions(cluster.natsConnection('gateway'), 'gateway'), name: 'intruder-with-gateway-credentials' });
  open.push(nc);
  return nc;
}

/** The next permission error the server reports on this connection, or undefined after `ms`. */
function permissionError(nc: NatsConnection, ms = 2_000): Promise<string | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), ms);
    void (async () => {
      for await (const s of nc.status()) {
        const text = String((s as { error?: unknown }).error ?? '');
        if (s.type === 'error' && /permission/i.test(text)) return (clearTimeout(timer), resolve(text));
      }
    })();
  });
}

describe('NATS', () => {
  test('a process without credentials cannot connect, with or without TLS', async () => {
    const url = cluster.natsUrl;
    await assert.rejects(connect({ servers: url, tls: { ca: cluster.credentials.tls.ca }, reconnect: false }), /authorization/i);
    await assert.rejects(connect({ servers: url.replace('tls://', 'nats://'), tls: null, reconnect: false }));
  });

  test("with the gateway's credentials: no answering decisions — and bob is still refused by the real policy service", async () => {
    const nc = await asGateway();
    // A rogue answerer outside the queue group would answer first and say ALLOW.
    const refused = new Promise<string>((resolve) =>
      nc.subscribe(subjects.policyDecide, {
        callback: (err, m) => {
          if (err) resolve(String(err));
          else m.respond(new Uint8Array([0x10, 0x01]));
        },
      }),
    );
    assert.match(await refused, /Permissions Violation for Subscription to "svc\.policy\.v1\.decide"/);
    const bob = await loginWithHttp(cluster.gatewayUrl, 'bob@example.com', 'bob');
    assert.equal(bob.response.status, 403, 'the decision still came from policy');
  });

  test("with the gateway's credentials: no client secret, no token check, no other service's replies", async () => {
    const nc = await asGateway();
    const refused = permissionError(nc);
    await assert.rejects(nc.request(subjects.policyOidcClient, new Uint8Array(), { timeout: 1_000 }));
    assert.match((await refused) ?? '', /Permissions Violation for Publish to "svc\.policy\.v1\.service\.oidc"/);
    for (const subject of ['_INBOX.>', '_INBOX.authn.>', subjects.policyTokenVerify, subjects.allEvents]) {
      const sub = nc.subscribe(subject);
      assert.match(String(await sub.closed), /Permissions Violation for Subscription/, `subscribing to ${subject} is refused`);
    }
  });

  test("with the gateway's credentials: no admin token minted in the token bucket", async () => {
    const nc = await asGateway();
    const minted = 'mst_0123456789abcdef_' + 'A'.repeat(43);
    await assert.rejects(async () => {
      const kv = await new Kvm(nc).open(buckets.apiTokens);
      await kv.put(
        '0123456789abcdef',
        JSON.stringify({ ID: '0123456789abcdef', name: 'evil', role: 'admin', namespace: '/', secretHash: 'x', createTime: '' }),
      );
    });
    const res = await fetch(`${cluster.policyUrl}/services`, { headers: { authorization: `Bearer ${minted}`, 'x-namespace': '/' } });
    assert.equal(res.status, 401);
  });

  test("with the gateway's credentials: no session invalidation, no resync storm", async () => {
    const admin = await connect(natsConnectOptions(cluster.natsConnection('admin')));
    open.push(admin);
    const heard: string[] = [];
    admin.subscribe(subjects.sessionInvalidated, { callback: (_e, m) => void heard.push(m.subject) });
    admin.subscribe(subjects.policyChanged, { callback: (_e, m) => void heard.push(m.subject) });
    await admin.flush();
    const nc = await asGateway();
    const refused = permissionError(nc);
    for (let i = 0; i < 100; i++) nc.publish(subjects.policyChanged, new Uint8Array());
    nc.publish(subjects.sessionInvalidated, new Uint8Array());
    await nc.flush();
    assert.match((await refused) ?? '', /Permissions Violation for Publish/);
    await admin.flush();
    assert.deepEqual(heard, [], 'nothing reached the subscribers');
  });
  test("no other service reaches the assertion signing keys: not the gateway sync whose reply carries them, not their bucket, not the gateway's replies", async () => {
    for (const who of ['authn', 'flowlog'] as const) {
      const nc = await connect({ ...natsConnectOptions(cluster.natsConnection(who), who), name: `intruder-with-${who}-credentials` });
      open.push(nc);
      const refused = permissionError(nc);
      await assert.rejects(nc.request(subjects.policyGatewaySync, new Uint8Array(), { timeout: 1_000 }));
      assert.match((await refused) ?? '', /Permissions Violation for Publish to "svc\.policy\.v1\.gateway\.sync"/, who);
      const replies = nc.subscribe('_INBOX.gateway.>');
      assert.match(String(await replies.closed), /Permissions Violation for Subscription/, `${who} reading the gateway's replies`);
      await assert.rejects(async () => {
        const kv = await new Kvm(nc).open(buckets.assertionKeys);
        await kv.get('ring');
      }, `${who} reading the key bucket`);
    }
    // Not even the gateway reads the bucket (private halves sealed or not): it gets the keys in its sync reply only.
    const gateway = await asGateway();
    await assert.rejects(async () => {
      const kv = await new Kvm(gateway).open(buckets.assertionKeys);
      await kv.get('ring');
    });
  });
});

describe('Redis', () => {
  test("no client without a password; flowlog's user cannot read sessions or login states", async () => {
    const anonymous = new Redis({
      ...cluster.redisOptions('admin'),
      username: undefined,
      password: undefined,
      enableReadyCheck: false,
      maxRetriesPerRequest: 0,
      lazyConnect: true,
    });
    anonymous.on('error', () => undefined);
    await anonymous.connect();
    await assert.rejects(anonymous.get(redisKeys.sessionIndex), /NOAUTH/);
    anonymous.disconnect();

    const session = await loginWithHttp(cluster.gatewayUrl, 'alice@example.com', 'alice');
    assert.equal(session.response.status, 200);
    const flowlog = new Redis({ ...cluster.redisOptions('flowlog'), maxRetriesPerRequest: 0 });
    try {
      await assert.rejects(flowlog.zrange(redisKeys.sessionIndex, 0, -1), /NOPERM/);
      await assert.rejects(flowlog.call('keys', '*'), /NOPERM/);
    } finally {
      flowlog.disconnect();
    }
    // The session is intact.
    const echo = new URL('/_echo', cluster.gatewayUrl);
    assert.equal((await insecureFetch(echo, { headers: { cookie: session.browser.cookieHeaderFor(echo) } })).status, 200);
  });
});
