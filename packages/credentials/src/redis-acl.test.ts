// Redis's trust boundary, against a real redis-server started with the generated ACL file and TLS: no
// anonymous or plain-text client, and each service's user confined to its own keys and to data commands.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';
import { redisConnection } from '@microseg/config';
import { redisKeys } from '@microseg/contracts';
import { startRedis, type RunningServer } from '@microseg/testkit';
import { ensureCredentials, type CredentialSet, type RedisIdentity } from './index.ts';

let server: RunningServer;
let credentials: CredentialSet;
const clients: Redis[] = [];

before(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'microseg-redis-acl-'));
  credentials = await ensureCredentials(join(dir, 'secrets'));
  server = await startRedis({ dataDir: dir, isolated: true, defaultPort: 0, secure: credentials });
});
after(async () => {
  for (const c of clients) c.disconnect();
  await server?.stop();
});

const quiet: Partial<RedisOptions> = { maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true, enableOfflineQueue: false };

async function as(identity: RedisIdentity, password = credentials.redis.passwords[identity]): Promise<Redis> {
  const client = new Redis({
    ...quiet,
    ...redisConnection({
      REDIS_URL: server.url,
      REDIS_USERNAME: identity,
      REDIS_PASSWORD: password,
      REDIS_TLS_CA: credentials.tls.ca,
      REDIS_SENTINELS: [],
      REDIS_SENTINEL_NAME: '',
    }),
  });
  client.on('error', () => undefined);
  clients.push(client);
  await client.connect();
  return client;
}

test('no client without a password, with a wrong one, or without TLS', async () => {
  const port = Number(new URL(server.url).port);
  const anonymous = new Redis({ ...quiet, enableReadyCheck: false, host: '127.0.0.1', port, tls: { ca: credentials.tls.ca } });
  anonymous.on('error', () => undefined);
  clients.push(anonymous);
  await anonymous.connect();
  await assert.rejects(anonymous.get('x'), /NOAUTH/, 'the default user is off');
  await assert.rejects(anonymous.call('auth', 'authn', 'wrong-password'), /WRONGPASS/);
  await assert.rejects(anonymous.call('auth', 'default', ''), /WRONGPASS/);
  assert.equal(await anonymous.call('auth', 'authn', credentials.redis.passwords.authn), 'OK', 'control: the right password is taken');
  const plain = new Redis({ ...quiet, host: '127.0.0.1', port, username: 'authn', password: credentials.redis.passwords.authn, connectTimeout: 1_000 });
  plain.on('error', () => undefined);
  clients.push(plain);
  await assert.rejects(
    plain.connect().then(() => plain.get('x')),
    'plain text to the TLS port fails',
  );
});

test("authn's user reaches its keys only, and no server command", async () => {
  const authn = await as('authn');
  await authn.set(redisKeys.loginState('s1'), 'v', 'EX', 10);
  assert.equal(await authn.get(redisKeys.loginState('s1')), 'v');
  await assert.rejects(authn.get(redisKeys.flowIndex), /NOPERM/);
  await assert.rejects(authn.set('other:key', 'x'), /NOPERM/);
  for (const command of [['flushall'], ['config', 'get', 'requirepass'], ['keys', '*'], ['acl', 'list'], ['client', 'list'], ['monitor'], ['shutdown']]) {
    await assert.rejects(authn.call(command[0]!, ...command.slice(1)), /NOPERM/, `${command.join(' ')} is refused`);
  }
  // Scripts run with the caller's rights: a script cannot reach another service's keys either.
  await assert.rejects(authn.eval("return redis.call('get', KEYS[1])", 1, redisKeys.flowIndex), /NOPERM|can't access/i);
  await assert.rejects(authn.eval("return redis.call('get', 'microseg:flowlog:flows')", 0), /NOPERM|can't access/i);
});

test("flowlog's user cannot read a session", async () => {
  const authn = await as('authn');
  await authn.set(redisKeys.session('id1'), 'sealed', 'EX', 10);
  const flowlog = await as('flowlog');
  await assert.rejects(flowlog.get(redisKeys.session('id1')), /NOPERM/);
  await flowlog.zadd(redisKeys.flowIndex, 1, 'a');
  assert.equal(await flowlog.zcard(redisKeys.flowIndex), 1);
});

test('the admin user (operators, tests) reaches everything', async () => {
  const admin = await as('admin');
  assert.equal(await admin.get(redisKeys.session('id1')), 'sealed');
});
