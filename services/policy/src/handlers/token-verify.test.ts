// svc.policy.v1.token.verify: the answer for each principal (unit, fakes), then answered from a real token
// store on a real nats-server, where a revoked token is refused at once (integration).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Bus, type BusLogger } from '@microseg/bus';
import { requests } from '@microseg/contracts';
import { startNats, type RunningServer } from '@microseg/testkit';
import { TokenStore } from '../api/tokens.ts';
import { FakeBus } from '../testing/fake-bus.ts';
import { serveTokenVerify } from './token-verify.ts';

const quiet: BusLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };
let nats: RunningServer;
let server: Bus;
let client: Bus;
let tokens: TokenStore;

before(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'microseg-token-verify-'));
  nats = await startNats({ isolated: true, dataDir: dir, defaultPort: 0 });
  server = await Bus.connect({ url: nats.url, name: 'policy', logger: quiet });
  client = await Bus.connect({ url: nats.url, name: 'flowlog', logger: quiet });
  tokens = await TokenStore.open(server.nc, undefined, join(dir, 'admin-token'), () => undefined);
  serveTokenVerify(server, tokens);
  await server.nc.flush();
});

after(async () => {
  await client?.close(1_000);
  await server?.close(1_000);
  await nats?.stop();
});

test('unit: a token the store knows is answered with who it stands for; any other only with valid: false', async () => {
  const bus = new FakeBus();
  serveTokenVerify(bus, { authenticate: (token) => (token === 'good' ? { tokenID: 't1', name: 'ops', role: 'editor', namespace: '/acme' } : undefined) });
  assert.deepEqual(await bus.call(requests.policyTokenVerify, { token: 'good' }), { valid: true, name: 'ops', role: 'editor', namespace: '/acme' });
  assert.deepEqual(await bus.call(requests.policyTokenVerify, { token: 'bad' }), { valid: false });
});

const verify = (token: string) => client.request(requests.policyTokenVerify, { token }, 2_000);

test('a valid token is answered with its name, role and namespace', async () => {
  const { token } = await tokens.create('ops-viewer', 'viewer', '/acme/team-b');
  const reply = await verify(token);
  assert.deepEqual(
    { valid: reply.valid, name: reply.name, role: reply.role, namespace: reply.namespace, error: reply.error },
    { valid: true, name: 'ops-viewer', role: 'viewer', namespace: '/acme/team-b', error: undefined },
  );
});

test('unknown, malformed, empty and tampered tokens are not valid, and say nothing more', async () => {
  const { token } = await tokens.create('editor', 'editor', '/acme');
  for (const bad of ['', 'nope', `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`, `mst_${'0'.repeat(16)}_${'A'.repeat(43)}`]) {
    const reply = await verify(bad);
    assert.deepEqual(
      { valid: reply.valid, name: reply.name, role: reply.role, namespace: reply.namespace },
      { valid: false, name: '', role: '', namespace: '' },
      JSON.stringify(bad),
    );
  }
});

test('a revoked token is refused at the next question', async () => {
  const { record, token } = await tokens.create('short-lived', 'admin', '/');
  assert.equal((await verify(token)).valid, true);
  await tokens.revoke(record.ID);
  assert.equal((await verify(token)).valid, false);
});
