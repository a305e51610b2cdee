// The bus's trust boundary, against a real nats-server started with the generated configuration: anonymous
// clients are refused, and each service identity can do what it needs and nothing that would let it
// impersonate another (answer decisions, read secrets, mint tokens, end sessions).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { natsConnectOptions } from '@microseg/bus';
import { buckets, subjects, type ServiceIdentity } from '@microseg/contracts';
import { startNats, type RunningServer } from '@microseg/testkit';
import { ensureCredentials, type BusIdentity, type CredentialSet } from './index.ts';

let server: RunningServer;
let credentials: CredentialSet;
const open: NatsConnection[] = [];

before(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'microseg-permissions-'));
  credentials = await ensureCredentials(join(dir, 'secrets'));
  server = await startNats({ dataDir: dir, isolated: true, defaultPort: 0, secure: credentials });
});
after(async () => {
  await Promise.all(open.map((nc) => nc.close()));
  await server?.stop();
});

async function as(identity: BusIdentity): Promise<NatsConnection> {
  const nc = await connect({
    ...natsConnectOptions({ servers: [server.url], nkeySeed: credentials.nats.seeds[identity], tls: { ca: credentials.tls.ca } }, identity),
    name: `test-${identity}`,
  });
  open.push(nc);
  return nc;
}

/** Resolves with the permission error the server sends for this connection next (or undefined after `ms`). */
function nextPermissionError(nc: NatsConnection, ms = 2_000): Promise<string | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), ms);
    void (async () => {
      for await (const status of nc.status()) {
        if (status.type === 'error' && /permission/i.test(String((status as { error?: unknown }).error))) {
          clearTimeout(timer);
          resolve(String((status as { error?: unknown }).error));
          return;
        }
      }
    })();
  });
}

/** Whether a subscription is refused by the server. */
async function subscribeRefused(identity: BusIdentity, subject: string, queue?: string): Promise<boolean> {
  const nc = await as(identity);
  const error = nextPermissionError(nc);
  const sub = nc.subscribe(subject, queue ? { queue } : {});
  await nc.flush();
  const closed = await Promise.race([sub.closed.then((e) => e ?? 'closed'), error]);
  return /permission/i.test(String(closed ?? '')) || (await error) !== undefined;
}

/** Whether a publish reaches a subscriber (the admin listens). */
async function publishArrives(identity: BusIdentity, subject: string): Promise<boolean> {
  const admin = await as('admin');
  const sub = admin.subscribe(subject, { max: 1 });
  await admin.flush();
  const nc = await as(identity);
  nc.publish(subject, new TextEncoder().encode('x'));
  await nc.flush();
  const got = await Promise.race([
    (async () => {
      for await (const _ of sub) return true;
      return false;
    })(),
    new Promise<boolean>((r) => setTimeout(() => r(false), 500)),
  ]);
  sub.unsubscribe();
  return got;
}

describe('the bus refuses strangers', () => {
  test('a client without credentials cannot connect', async () => {
    await assert.rejects(connect({ servers: server.url, tls: { ca: credentials.tls.ca }, reconnect: false }), /authorization|auth/i);
  });

  test('a client with an nkey the server does not know cannot connect', async () => {
    const { createUser } = await import('@nats-io/nkeys');
    const stranger = new TextDecoder().decode(createUser().getSeed());
    await assert.rejects(
      connect({ ...natsConnectOptions({ servers: [server.url], nkeySeed: stranger, tls: { ca: credentials.tls.ca } }), reconnect: false }),
      /authorization|auth/i,
    );
  });

  test('a client that does not speak TLS is refused', async () => {
    await assert.rejects(
      connect({
        ...natsConnectOptions({ servers: [server.url.replace('tls://', 'nats://')], nkeySeed: credentials.nats.seeds.gateway }),
        tls: null,
        reconnect: false,
      }),
    );
  });
});

describe("the gateway's credentials cannot go around policy or authn", () => {
  test('it cannot answer decisions: subscribing to the decide subject, with or without the queue group, is refused', async () => {
    assert.equal(await subscribeRefused('gateway', subjects.policyDecide), true);
    assert.equal(await subscribeRefused('gateway', subjects.policyDecide, 'microseg-policy'), true);
    assert.equal(await subscribeRefused('gateway', 'svc.>'), true);
    assert.equal(await subscribeRefused('admin', subjects.policyDecide), false, 'control: the check sees an allowed subscription');
  });

  test('it cannot read token checks or client secrets, nor the replies another service receives', async () => {
    assert.equal(await subscribeRefused('gateway', subjects.policyTokenVerify), true);
    assert.equal(await subscribeRefused('gateway', subjects.policyOidcClient), true);
    assert.equal(await subscribeRefused('gateway', '_INBOX.>'), true);
    assert.equal(await subscribeRefused('gateway', '_INBOX.authn.>'), true);
  });

  test("it cannot ask policy for a client secret, a token check, or a user's console roles", async () => {
    assert.equal(await publishArrives('gateway', subjects.policyOidcClient), false);
    assert.equal(await publishArrives('gateway', subjects.policyTokenVerify), false);
    assert.equal(await publishArrives('gateway', subjects.policyConsoleRoles), false);
    assert.equal(await publishArrives('authn', subjects.policyConsoleRoles), false);
  });

  test('it cannot publish a session invalidation or a policy change', async () => {
    assert.equal(await publishArrives('gateway', subjects.sessionInvalidated), false);
    assert.equal(await publishArrives('gateway', subjects.policyChanged), false);
    assert.equal(await publishArrives('admin', subjects.policyChanged), true, 'control: the check sees an allowed publish');
  });

  test('it cannot write the token or object buckets, nor read them', async () => {
    const policy = await as('policy');
    await new Kvm(policy).create(buckets.apiTokens, { history: 1 });
    const gateway = await as('gateway');
    const error = nextPermissionError(gateway, 3_000);
    await assert.rejects(async () => {
      const kv = await new Kvm(gateway).open(buckets.apiTokens);
      await kv.put('aaaaaaaaaaaaaaaa', JSON.stringify({ ID: 'aaaaaaaaaaaaaaaa', role: 'admin', namespace: '/' }));
    });
    assert.match((await error) ?? '', /permission/i);
    const kv = await new Kvm(policy).open(buckets.apiTokens);
    assert.equal(await kv.get('aaaaaaaaaaaaaaaa'), null, 'nothing was written');
  });

  test('it cannot publish log events in the name of another service', async () => {
    assert.equal(await publishArrives('gateway', subjects.logEvent('policy')), false);
    assert.equal(await publishArrives('gateway', subjects.logEvent('gateway')), true, 'its own events go through');
  });
});

describe('each service can do its own work', () => {
  const roundTrip = async (client: ServiceIdentity, server: ServiceIdentity, subject: string, queue: string) => {
    const responder = await as(server);
    const sub = responder.subscribe(subject, { queue, callback: (_err, msg) => void msg.respond(new TextEncoder().encode('ok')) });
    await responder.flush();
    const asker = await as(client);
    const reply = await asker.request(subject, new Uint8Array(), { timeout: 2_000 });
    sub.unsubscribe();
    return new TextDecoder().decode(reply.data);
  };

  test('gateway → policy decide, gateway → authn lookup, authn → policy secret, flowlog → policy token check, policy → authn sessions', async () => {
    assert.equal(await roundTrip('gateway', 'policy', subjects.policyDecide, 'microseg-policy'), 'ok');
    assert.equal(await roundTrip('gateway', 'authn', subjects.authnSessionLookup, 'microseg-authn'), 'ok');
    assert.equal(await roundTrip('authn', 'policy', subjects.policyOidcClient, 'microseg-policy'), 'ok');
    assert.equal(await roundTrip('flowlog', 'policy', subjects.policyTokenVerify, 'microseg-policy'), 'ok');
    assert.equal(await roundTrip('policy', 'authn', subjects.authnSessionList, 'microseg-authn'), 'ok');
  });

  test("flowlog → policy: the assertion keys' public halves and a user's console roles", async () => {
    assert.equal(await roundTrip('flowlog', 'policy', subjects.policyAssertionKeys, 'microseg-policy'), 'ok');
    assert.equal(await roundTrip('flowlog', 'policy', subjects.policyConsoleRoles, 'microseg-policy'), 'ok');
    assert.equal(await subscribeRefused('flowlog', subjects.policyConsoleRoles, 'microseg-policy'), true, 'flowlog cannot answer them');
  });

  test('authn may invalidate sessions; policy may announce changes; flowlog may not do either', async () => {
    assert.equal(await publishArrives('authn', subjects.sessionInvalidated), true);
    assert.equal(await publishArrives('policy', subjects.policyChanged), true);
    assert.equal(await publishArrives('flowlog', subjects.sessionInvalidated), false);
    assert.equal(await publishArrives('flowlog', subjects.policyChanged), false);
  });

  test('only policy serves policy subjects and only authn serves authn subjects', async () => {
    assert.equal(await subscribeRefused('authn', subjects.policyDecide, 'microseg-policy'), true);
    assert.equal(await subscribeRefused('flowlog', subjects.policyTokenVerify, 'microseg-policy'), true);
    assert.equal(await subscribeRefused('policy', subjects.authnSessionLookup, 'microseg-authn'), true);
    assert.equal(await subscribeRefused('flowlog', subjects.authnSessionLookup, 'microseg-authn'), true);
  });
});
