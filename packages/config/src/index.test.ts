import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, fields, parseConfig, z } from './index.ts';

const schema = z.object({
  PORT: fields.port(8080),
  API: fields.url('http://localhost:1', ['http:', 'https:']),
  ENABLED: fields.boolean(false),
});

test('defaults apply and the result is frozen', () => {
  const config = parseConfig(schema, {});
  assert.deepEqual(config, { PORT: 8080, API: 'http://localhost:1', ENABLED: false });
  assert.ok(Object.isFrozen(config));
});

test('every problem is reported at once, naming the variable', () => {
  assert.throws(
    () => parseConfig(schema, { PORT: '99999', API: 'ftp://x', ENABLED: 'maybe' }),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.problems.length, 3);
      assert.match(err.problems.join('\n'), /PORT: must be a TCP port/);
      assert.match(err.problems.join('\n'), /API: must be a URL with scheme http: or https:/);
      assert.match(err.problems.join('\n'), /ENABLED: must be true or false/);
      return true;
    },
  );
});

test('Redis: one server or a Sentinel group; the ACL user and password from their variables (or the URL); TLS with rediss:// or a CA', async () => {
  const { redisSchema, redisConnection } = await import('./index.ts');
  const schema = z.object(redisSchema);
  assert.deepEqual(redisConnection(parseConfig(schema, {})), { host: '127.0.0.1', port: 6379 });
  assert.deepEqual(redisConnection(parseConfig(schema, { REDIS_URL: 'redis://u:p%40ss@db.local:6380/3' })), {
    host: 'db.local',
    port: 6380,
    username: 'u',
    password: 'p@ss',
    db: 3,
  });
  assert.deepEqual(redisConnection(parseConfig(schema, { REDIS_URL: 'redis://u:old@db:6379', REDIS_USERNAME: 'authn', REDIS_PASSWORD: 'new' })), {
    host: 'db',
    port: 6379,
    username: 'authn',
    password: 'new',
  });
  assert.deepEqual(redisConnection(parseConfig(schema, { REDIS_URL: 'rediss://db.local:6380' })), {
    host: 'db.local',
    port: 6380,
    tls: { servername: 'db.local' },
  });
  const sentinel = parseConfig(schema, {
    REDIS_URL: 'redis://:s3cret@ignored:6379/2',
    REDIS_SENTINELS: 'a:26379, b:26380',
    REDIS_SENTINEL_NAME: 'microseg',
    REDIS_USERNAME: 'authn',
  });
  assert.deepEqual(redisConnection(sentinel), {
    sentinels: [
      { host: 'a', port: 26379 },
      { host: 'b', port: 26380 },
    ],
    name: 'microseg',
    username: 'authn',
    password: 's3cret',
    db: 2,
  });
  assert.throws(() => parseConfig(schema, { REDIS_SENTINELS: 'a' }), /REDIS_SENTINELS: must be host:port/);
  assert.throws(() => parseConfig(schema, { REDIS_URL: 'http://x' }), /REDIS_URL: must be a URL such as redis:/);
});

test('NAME_FILE gives a variable the content of a file; both at once, or an unreadable file, are named', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'config-'));
  await writeFile(join(dir, 'pw'), 's3cret\n');
  const schema = z.object({ PASSWORD: z.string().optional(), OTHER: z.string().optional() });
  assert.deepEqual(parseConfig(schema, { PASSWORD_FILE: join(dir, 'pw') }), { PASSWORD: 's3cret' });
  assert.throws(
    () => parseConfig(schema, { PASSWORD: 'a', PASSWORD_FILE: join(dir, 'pw'), OTHER_FILE: join(dir, 'missing') }),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.deepEqual(err.problems, ['PASSWORD_FILE: set PASSWORD or PASSWORD_FILE, not both', `OTHER_FILE: cannot read ${join(dir, 'missing')} (ENOENT)`]);
      return true;
    },
  );
});

test('NATS: servers, the nkey seed, and TLS when the URL says tls:// or a CA is given', async () => {
  const { commonSchema, natsConnection } = await import('./index.ts');
  const schema = z.object(commonSchema);
  assert.deepEqual(natsConnection(parseConfig(schema, {})), { servers: ['nats://127.0.0.1:4222'] });
  assert.deepEqual(natsConnection(parseConfig(schema, { NATS_URL: 'tls://a:4222, tls://b:4222' })), {
    servers: ['tls://a:4222', 'tls://b:4222'],
    tls: { ca: undefined, cert: undefined, key: undefined },
  });
  const ca = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----';
  const seed = `SU${'A'.repeat(56)}`;
  assert.deepEqual(natsConnection(parseConfig(schema, { NATS_TLS_CA: ca, NATS_NKEY_SEED: seed })), {
    servers: ['nats://127.0.0.1:4222'],
    nkeySeed: seed,
    tls: { ca, cert: undefined, key: undefined },
  });
  assert.throws(
    () => parseConfig(schema, { NATS_NKEY_SEED: 'secret', NATS_TLS_CA: 'not a pem' }),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.problems.join('\n'), /NATS_NKEY_SEED: must be an nkey user seed/);
      assert.match(err.problems.join('\n'), /NATS_TLS_CA: must be a CA certificate in PEM form/);
      return true;
    },
  );
});
