// Pure helpers of the login state, then the store on a real redis-server private to this file.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { redisKeys } from '@microseg/contracts';
import { startRedis, waitFor, type RunningServer } from '@microseg/testkit';
import { bindingFor, bindingMatches, hashBinding, LoginStateStore, newBinding, safeReturnPath, type LoginState } from './login-state.ts';

const returnPaths: Array<{ name: string; candidate: string; expected: string }> = [
  { name: 'a path', candidate: '/dashboard', expected: '/dashboard' },
  { name: 'a path with a query', candidate: '/a?b=c', expected: '/a?b=c' },
  { name: 'the root', candidate: '/', expected: '/' },
  { name: 'a query that names another site', candidate: '/a?next=https://evil.com', expected: '/a?next=https://evil.com' },
  { name: 'the longest path kept', candidate: `/${'a'.repeat(4095)}`, expected: `/${'a'.repeat(4095)}` },
  { name: 'protocol-relative URL', candidate: '//evil.com', expected: '/' },
  { name: 'protocol-relative URL with a path', candidate: '//evil.com/a', expected: '/' },
  { name: 'backslash after the slash', candidate: '/\\evil.com', expected: '/' },
  { name: 'backslash later in the path', candidate: '/a\\b', expected: '/' },
  { name: 'absolute URL', candidate: 'https://x', expected: '/' },
  { name: 'javascript: URL', candidate: 'javascript:alert(1)', expected: '/' },
  { name: 'relative path', candidate: 'dashboard', expected: '/' },
  { name: 'empty', candidate: '', expected: '/' },
  { name: 'tab after the slash (browsers drop it: //evil.com)', candidate: '/\t/evil.com', expected: '/' },
  { name: 'CR LF (header injection)', candidate: '/a\r\nSet-Cookie: x=1', expected: '/' },
  { name: 'NUL', candidate: '/a\u0000b', expected: '/' },
  { name: 'DEL', candidate: '/a\u007fb', expected: '/' },
  { name: 'too long', candidate: `/${'a'.repeat(4096)}`, expected: '/' },
];

for (const { name, candidate, expected } of returnPaths) {
  test(`safeReturnPath: ${name}`, () => {
    assert.equal(safeReturnPath(candidate), expected);
  });
}

const BINDING_FORMAT = /^[A-Za-z0-9_-]{43}$/;

test('bindingFor: a well-formed binding is reused, so logins in several tabs share it', () => {
  const existing = newBinding();
  assert.match(existing, BINDING_FORMAT);
  assert.equal(bindingFor(existing), existing);
});

for (const existing of ['', 'short', `${newBinding()}A`, `${newBinding().slice(1)}=`, `${newBinding().slice(1)}.`, `${newBinding().slice(0, 42)}/`]) {
  test(`bindingFor: a malformed binding (${JSON.stringify(existing.slice(0, 12))}…, ${existing.length} chars) is replaced by a new one`, () => {
    const binding = bindingFor(existing);
    assert.match(binding, BINDING_FORMAT);
    assert.notEqual(binding, existing);
  });
}

test('newBinding: every binding is new', () => {
  const bindings = new Set(Array.from({ length: 1000 }, newBinding));
  assert.equal(bindings.size, 1000);
});

const matching: Array<{ name: string; binding: () => string; expectedHash: (binding: string) => string; matches: boolean }> = [
  { name: 'the same binding', binding: newBinding, expectedHash: hashBinding, matches: true },
  { name: 'another browser', binding: newBinding, expectedHash: () => hashBinding(newBinding()), matches: false },
  { name: 'no binding cookie', binding: () => '', expectedHash: () => hashBinding(newBinding()), matches: false },
  { name: 'a malformed binding, even with its own hash', binding: () => 'not-a-binding', expectedHash: hashBinding, matches: false },
  { name: 'an empty stored hash', binding: newBinding, expectedHash: () => '', matches: false },
  { name: 'a stored hash that is not hex', binding: newBinding, expectedHash: () => 'zz'.repeat(32), matches: false },
  { name: 'a truncated stored hash', binding: newBinding, expectedHash: (b) => hashBinding(b).slice(0, 62), matches: false },
];

for (const { name, binding, expectedHash, matches } of matching) {
  test(`bindingMatches: ${name}`, () => {
    const value = binding();
    assert.equal(bindingMatches(value, expectedHash(value)), matches);
  });
}

describe('LoginStateStore (real Redis)', () => {
  const TTL_SECONDS = 600;
  let server: RunningServer;
  let redis: Redis;
  let states: LoginStateStore;

  const sample = (): LoginState => ({
    serviceId: 'svc-1',
    nonce: 'nonce-value',
    codeVerifier: 'verifier-value',
    returnTo: '/a?b=c',
    bindingHash: hashBinding(newBinding()),
    startedAtMs: 1_700_000_000_000,
  });
  const newState = () => newBinding(); // 43 base64url characters, like openid-client's randomState()

  before(async () => {
    server = await startRedis({ isolated: true, dataDir: await mkdtemp(join(tmpdir(), 'microseg-login-state-')), defaultPort: 0 });
    redis = new Redis(server.url, { maxRetriesPerRequest: 1 });
    states = new LoginStateStore(redis, TTL_SECONDS);
  });

  after(async () => {
    await redis?.quit();
    await server?.stop();
  });

  test('take returns what was saved, once', async () => {
    const state = newState();
    const value = sample();
    await states.save(state, value);

    assert.deepEqual(await states.take(state), value);
    assert.equal(await states.take(state), undefined, 'a state is single use');
    assert.equal(await redis.exists(redisKeys.loginState(state)), 0);
  });

  test('two concurrent takes: exactly one wins', async () => {
    const state = newState();
    await states.save(state, sample());
    const results = await Promise.all([states.take(state), states.take(state), states.take(state)]);
    assert.equal(results.filter((r) => r !== undefined).length, 1);
  });

  test('a saved state expires with the configured lifetime', async () => {
    const state = newState();
    await states.save(state, sample());
    const ttl = await redis.ttl(redisKeys.loginState(state));
    assert.ok(ttl > TTL_SECONDS - 5 && ttl <= TTL_SECONDS, `ttl ${ttl}`);

    const shortLived = new LoginStateStore(redis, 1);
    const expiring = newState();
    await shortLived.save(expiring, sample());
    await waitFor('the state to expire', async () => (await redis.exists(redisKeys.loginState(expiring))) === 0, 5_000, 50);
    assert.equal(await shortLived.take(expiring), undefined);
  });

  test('an unknown state is undefined', async () => {
    assert.equal(await states.take(newState()), undefined);
  });

  const malformed: Array<{ name: string; state: string }> = [
    { name: 'empty', state: '' },
    { name: 'too short', state: 'a'.repeat(15) },
    { name: 'too long', state: 'a'.repeat(129) },
    { name: 'a Redis pattern', state: `${'a'.repeat(16)}*` },
    { name: 'a key separator', state: `${'a'.repeat(16)}:x` },
    { name: 'a space', state: `${'a'.repeat(16)} x` },
    { name: 'a dot segment', state: `../${'a'.repeat(16)}` },
    { name: 'a percent-encoding', state: `${'a'.repeat(16)}%41` },
  ];

  for (const { name, state } of malformed) {
    test(`take rejects a malformed state without touching Redis: ${name}`, async () => {
      // Stored under that exact key, so only the format check can refuse it.
      await states.save(state, sample());
      assert.equal(await states.take(state), undefined);
      assert.equal(await redis.exists(redisKeys.loginState(state)), 1, 'not consumed either');
    });
  }
});
