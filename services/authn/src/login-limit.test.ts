// Login starts per client address: the bucket of an address (pure), then the counter on a real
// redis-server private to this file.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { startRedis, waitFor, type RunningServer } from '@microseg/testkit';
import { addressBucket, LoginStartLimiter } from './login-limit.ts';
import { redisKeys } from '@microseg/contracts';

const buckets: Array<[string, string, string]> = [
  ['an IPv4 address', '203.0.113.7', '203.0.113.7'],
  ['an IPv4-mapped IPv6 address (a dual-stack socket) counts as its IPv4 address', '::ffff:203.0.113.7', '203.0.113.7'],
  ['an IPv6 address counts as its /64', '2001:db8:1:2:aaaa:bbbb:cccc:dddd', '2001:db8:1:2::/64'],
  ['another address of the same /64', '2001:db8:1:2::1', '2001:db8:1:2::/64'],
  ['IPv6 loopback', '::1', '0:0:0:0::/64'],
  ['no address', '', 'unknown'],
  ['not an address', 'client.example.com', 'unknown'],
];

for (const [name, ip, expected] of buckets) {
  test(`addressBucket: ${name}`, () => {
    assert.equal(addressBucket(ip), expected);
  });
}

describe('LoginStartLimiter (real Redis)', () => {
  let server: RunningServer;
  let redis: Redis;

  before(async () => {
    server = await startRedis({ isolated: true, dataDir: await mkdtemp(join(tmpdir(), 'microseg-login-limit-')), defaultPort: 0 });
    redis = new Redis(server.url, { maxRetriesPerRequest: 1 });
  });

  after(async () => {
    await redis?.quit();
    await server?.stop();
  });

  test('the limit holds per address; the first refusal is marked once; other addresses are not affected', async () => {
    const limiter = new LoginStartLimiter(redis, { limit: 3, windowSeconds: 600 });
    for (let i = 0; i < 3; i++) assert.deepEqual(await limiter.count('198.51.100.1'), { allowed: true });
    const first = await limiter.count('198.51.100.1');
    assert.equal(first.allowed, false);
    assert.ok(!first.allowed && first.firstRefusal && first.retryAfterSeconds > 595 && first.retryAfterSeconds <= 600, JSON.stringify(first));
    const second = await limiter.count('198.51.100.1');
    assert.ok(!second.allowed && !second.firstRefusal, 'one event per address and window');
    assert.deepEqual(await limiter.count('198.51.100.2'), { allowed: true });
  });

  test('the addresses of one IPv6 /64 share a count; the mapped form of an IPv4 address is that address', async () => {
    const limiter = new LoginStartLimiter(redis, { limit: 2, windowSeconds: 600 });
    assert.equal((await limiter.count('2001:db8:7:7::1')).allowed, true);
    assert.equal((await limiter.count('2001:db8:7:7::2')).allowed, true);
    assert.equal((await limiter.count('2001:db8:7:7:ffff::3')).allowed, false);
    assert.equal((await limiter.count('2001:db8:7:8::1')).allowed, true, 'another /64');
    assert.equal((await limiter.count('198.51.100.9')).allowed, true);
    assert.equal((await limiter.count('::ffff:198.51.100.9')).allowed, true);
    assert.equal((await limiter.count('198.51.100.9')).allowed, false);
  });

  test('the window ends and the address may start logins again; Redis keeps no key without a lifetime', async () => {
    const limiter = new LoginStartLimiter(redis, { limit: 1, windowSeconds: 1 });
    assert.equal((await limiter.count('192.0.2.50')).allowed, true);
    assert.equal((await limiter.count('192.0.2.50')).allowed, false);
    await waitFor('the window to end', async () => (await limiter.count('192.0.2.50')).allowed, 4_000, 100);
    for (const key of await redis.keys(redisKeys.loginStarts('*'))) assert.ok((await redis.ttl(key)) > 0, `${key} has a TTL`);
    assert.ok(
      (await redis.keys(redisKeys.loginStarts('*'))).every((k) => !k.includes('192.0.2')),
      'keys hold a hash, not the address',
    );
  });
});
