// Integration: encrypted session tickets on a real redis-server private to this file.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { redisKeys } from '@microseg/contracts';
import { startRedis, type RunningServer } from '@microseg/testkit';
import { SessionStore, type SessionRecord } from './sessions.ts';

let server: RunningServer;
let redis: Redis;
let sessions: SessionStore;

const ID_TOKEN = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSIsImVtYWlsIjoiYWxpY2VAZXhhbXBsZS5jb20ifQ.c2lnbmF0dXJlLW9mLWFsaWNl';
const REFRESH_TOKEN = 'refresh-token-of-alice-0123456789';

function record(overrides: Partial<SessionRecord> = {}): SessionRecord {
  return {
    v: 1,
    serviceId: 'svc-1',
    subject: 'alice-subject',
    issuer: 'https://idp.example.com',
    sid: 'idp-session-1',
    tags: ['email=alice@example.com', 'email_verified=true', 'groups=admins'],
    idToken: ID_TOKEN,
    refreshToken: REFRESH_TOKEN,
    createdAtMs: Date.now(),
    expiresAtMs: Date.now() + 3_600_000,
    ...overrides,
  };
}

/** The ticket with one character of its secret changed, still well formed. */
function withSecretChanged(ticket: string, at: number): string {
  const dot = ticket.indexOf('.');
  const i = dot + 1 + at;
  const replacement = ticket[i] === 'A' ? 'B' : 'A';
  return ticket.slice(0, i) + replacement + ticket.slice(i + 1);
}

function withIdChanged(ticket: string): string {
  return (ticket[0] === 'A' ? 'B' : 'A') + ticket.slice(1);
}

const idOf = (ticket: string) => ticket.slice(0, ticket.indexOf('.'));

before(async () => {
  server = await startRedis({ isolated: true, dataDir: await mkdtemp(join(tmpdir(), 'microseg-sessions-')), defaultPort: 0 });
  redis = new Redis(server.url, { maxRetriesPerRequest: 1 });
  sessions = new SessionStore(redis);
});

after(async () => {
  await redis?.quit();
  await server?.stop();
});

test('create then lookup returns the record', async () => {
  const stored = record();
  const ticket = await sessions.create(stored);
  assert.deepEqual(await sessions.lookup(ticket), stored);
});

test('every login creates a new session', async () => {
  const stored = record();
  const [first, second] = [await sessions.create(stored), await sessions.create(stored)];
  assert.notEqual(idOf(first), idOf(second));
  assert.deepEqual(await sessions.lookup(first), stored);
  assert.deepEqual(await sessions.lookup(second), stored);
});

const forged: Array<{ name: string; alter: (ticket: string) => string }> = [
  { name: 'one character of the secret changed (first)', alter: (t) => withSecretChanged(t, 0) },
  { name: 'one character of the secret changed (middle)', alter: (t) => withSecretChanged(t, 20) },
  { name: 'one character of the id changed', alter: withIdChanged },
  { name: 'the secret of another session', alter: (t) => `${idOf(t)}.${'A'.repeat(42)}A` },
  { name: 'the id alone', alter: idOf },
  { name: 'empty', alter: () => '' },
  { name: 'garbage', alter: () => 'not-a-ticket' },
];

for (const { name, alter } of forged) {
  test(`lookup of a tampered cookie is undefined: ${name}`, async () => {
    const ticket = await sessions.create(record());
    const tampered = alter(ticket);
    assert.notEqual(tampered, ticket);
    assert.equal(await sessions.lookup(tampered), undefined);
    assert.ok(await sessions.lookup(ticket), 'the real ticket still works');
  });
}

test('lookup of an expired record is undefined', async () => {
  const ticket = await sessions.create(record({ expiresAtMs: Date.now() - 1 }));
  assert.equal(await redis.exists(redisKeys.session(idOf(ticket))), 1, 'still in Redis: the record itself is checked');
  assert.equal(await sessions.lookup(ticket), undefined);
});

test('the Redis entry lives as long as the session', async () => {
  const ticket = await sessions.create(record({ expiresAtMs: Date.now() + 60_000 }));
  const ttl = await redis.pttl(redisKeys.session(idOf(ticket)));
  assert.ok(ttl > 55_000 && ttl <= 60_000, `pttl ${ttl}`);
});

test('the session is encrypted at rest: Redis holds no token, tag or secret', async () => {
  const stored = record();
  const ticket = await sessions.create(stored);
  const raw = await redis.get(redisKeys.session(idOf(ticket)));
  assert.ok(raw);
  assert.match(raw, /^v1\.[A-Za-z0-9_-]+$/);
  const secret = ticket.slice(ticket.indexOf('.') + 1);
  const forbidden = [ID_TOKEN, ...ID_TOKEN.split('.'), REFRESH_TOKEN, stored.subject, stored.issuer, secret, 'alice', ...stored.tags, ...stored.tags.map((t) => t.split('=')[1]!)];
  for (const text of forbidden) assert.ok(!raw.includes(text), `Redis must not contain ${JSON.stringify(text)}`);
  for (const encoding of ['base64', 'base64url', 'hex'] as const) {
    assert.ok(!raw.includes(Buffer.from('alice@example.com').toString(encoding).slice(0, 16)), `nor a ${encoding} copy of a claim`);
  }
});

test('delete removes the session', async () => {
  const ticket = await sessions.create(record());
  await sessions.delete(ticket);
  assert.equal(await sessions.lookup(ticket), undefined);
  assert.equal(await redis.exists(redisKeys.session(idOf(ticket))), 0);
});

test('delete of a malformed cookie does nothing', async () => {
  const ticket = await sessions.create(record());
  await sessions.delete('not-a-ticket');
  await sessions.delete(withSecretChanged(ticket, 0)); // a forged secret for a real id
  assert.ok(await sessions.lookup(ticket));
});
