import { test } from 'node:test';
import assert from 'node:assert/strict';
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

test('Redis: one URL, or a Sentinel group with the password and database from the URL', async () => {
  const { redisSchema, redisTarget } = await import('./index.ts');
  const schema = z.object(redisSchema);
  assert.deepEqual(redisTarget(parseConfig(schema, {})), { url: 'redis://127.0.0.1:6379' });
  const sentinel = parseConfig(schema, { REDIS_URL: 'redis://:s3cret@ignored:6379/2', REDIS_SENTINELS: 'a:26379, b:26380', REDIS_SENTINEL_NAME: 'microseg' });
  assert.deepEqual(redisTarget(sentinel), {
    sentinel: { sentinels: [{ host: 'a', port: 26379 }, { host: 'b', port: 26380 }], name: 'microseg', password: 's3cret', db: 2 },
  });
  assert.throws(() => parseConfig(schema, { REDIS_SENTINELS: 'a' }), /REDIS_SENTINELS: must be host:port/);
});
