// Integration: encrypted session tickets on a real redis-server private to this file.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { createHash } from 'node:crypto';
import { redisKeys } from '@microseg/contracts';
import { startRedis, type RunningServer } from '@microseg/testkit';
import { SessionStore, type SessionRecord } from './sessions.ts';

let server: RunningServer;
let redis: Redis;
let sessions: SessionStore;

const ID_TOKEN = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSIsImVtYWlsIjoiYWxpY2VAZXhhbXBsZS5jb20ifQ.c2lnbmF0dXJlLW9mLWFsaWNl';
const REFRESH_TOKEN = 'refresh-token-of-alice-0123456789';

function record(overrides: Partial<SessionRecord> = {}): SessionRecord {
  const now = Date.now();
  return {
    v: 2,
    serviceId: 'svc-1',
    namespace: '/acme/team-b',
    user: 'alice@example.com',
    subject: 'alice-subject',
    issuer: 'https://idp.example.com',
    audience: 'private-app',
    sid: 'idp-session-1',
    tags: ['email=alice@example.com', 'email_verified=true', 'groups=admins'],
    idToken: ID_TOKEN,
    refreshToken: REFRESH_TOKEN,
    createdAtMs: now,
    tokensIssuedAtMs: now,
    tokensExpireAtMs: now + 3_600_000,
    absoluteExpiresAtMs: now + 12 * 3_600_000,
    idleTimeoutMs: 3_600_000,
    ...overrides,
  };
}

/** Create and return the cookie value. */
const create = async (r: SessionRecord) => (await sessions.create(r)).cookieValue;
const lookupRecord = async (cookie: string) => (await sessions.lookup(cookie))?.record;

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
  const ticket = await create(stored);
  assert.deepEqual(await lookupRecord(ticket), stored);
  assert.equal((await sessions.lookup(ticket))?.id, idOf(ticket));
});

test('every login creates a new session', async () => {
  const stored = record();
  const [first, second] = [await create(stored), await create(stored)];
  assert.notEqual(idOf(first), idOf(second));
  assert.deepEqual(await lookupRecord(first), stored);
  assert.deepEqual(await lookupRecord(second), stored);
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
    const ticket = await create(record());
    const tampered = alter(ticket);
    assert.notEqual(tampered, ticket);
    assert.equal(await sessions.lookup(tampered), undefined);
    assert.ok(await sessions.lookup(ticket), 'the real ticket still works');
  });
}

test('lookup past the absolute lifetime is undefined', async () => {
  const ticket = await create(record({ absoluteExpiresAtMs: Date.now() - 1 }));
  assert.equal(await redis.exists(redisKeys.session(idOf(ticket))), 1, 'still in Redis: the record itself is checked');
  assert.equal(await sessions.lookup(ticket), undefined);
});

test("the Redis entry lives to the absolute end when refreshable, else to the tokens' end", async () => {
  const refreshable = await create(record({ tokensExpireAtMs: Date.now() + 60_000, absoluteExpiresAtMs: Date.now() + 120_000 }));
  const ttl = await redis.pttl(redisKeys.session(idOf(refreshable)));
  assert.ok(ttl > 115_000 && ttl <= 120_000, `pttl ${ttl}`);
  const plain = await create(record({ refreshToken: undefined, tokensExpireAtMs: Date.now() + 60_000, absoluteExpiresAtMs: Date.now() + 120_000 }));
  const plainTtl = await redis.pttl(redisKeys.session(idOf(plain)));
  assert.ok(plainTtl > 55_000 && plainTtl <= 60_000, `pttl ${plainTtl}`);
});

test('an idle session ends at its next lookup, for good', async () => {
  const ticket = await create(record());
  await redis.del(redisKeys.sessionActive(idOf(ticket))); // what the idle timeout does
  assert.equal(await sessions.lookup(ticket), undefined);
  assert.equal(await redis.exists(redisKeys.session(idOf(ticket))), 0, 'deleted, not only refused');
});

test('a lookup keeps the session active for another idle period', async () => {
  const ticket = await create(record({ idleTimeoutMs: 60_000 }));
  await redis.pexpire(redisKeys.sessionActive(idOf(ticket)), 1_000);
  assert.ok(await sessions.lookup(ticket));
  const ttl = await redis.pttl(redisKeys.sessionActive(idOf(ticket)));
  assert.ok(ttl > 55_000, `idle pttl ${ttl}`);
});

test('the index lists sessions without any token and finds them by subject and sid', async () => {
  const stored = record({ subject: 'index-subject', sid: 'index-sid', user: 'indexed@example.com' });
  const ticket = await create(stored);
  const id = idOf(ticket);
  const listed = (await sessions.list()).find((m) => m.id === id);
  assert.ok(listed);
  assert.equal(listed.user, 'indexed@example.com');
  assert.equal(listed.namespace, '/acme/team-b');
  assert.equal(listed.refreshable, true);
  assert.deepEqual(await sessions.idsBySubject(stored.issuer, 'index-subject'), [id]);
  assert.deepEqual(await sessions.idsBySid(stored.issuer, 'index-sid'), [id]);
  const meta = JSON.stringify(await redis.hgetall(redisKeys.sessionMeta(id)));
  for (const text of [ID_TOKEN, REFRESH_TOKEN, ticket.slice(ticket.indexOf('.') + 1)]) assert.ok(!meta.includes(text), 'the index holds no token or secret');
});

test('deleteById removes the session and its index entries', async () => {
  const stored = record({ subject: 'gone-subject', sid: 'gone-sid' });
  const ticket = await create(stored);
  const meta = await sessions.deleteById(idOf(ticket));
  assert.equal(meta?.subject, 'gone-subject');
  assert.equal(await sessions.lookup(ticket), undefined);
  assert.deepEqual(await sessions.idsBySubject(stored.issuer, 'gone-subject'), []);
  assert.deepEqual(await sessions.idsBySid(stored.issuer, 'gone-sid'), []);
  assert.ok(!(await sessions.list()).some((m) => m.id === idOf(ticket)));
});

test('replace keeps the ticket valid with the new content', async () => {
  const ticket = await create(record());
  const loaded = (await sessions.lookup(ticket))!;
  await sessions.replace(loaded.ticket, { ...loaded.record, tags: ['email=alice@example.com', 'groups=new'], refreshToken: 'rotated' });
  const again = await lookupRecord(ticket);
  assert.deepEqual(again?.tags, ['email=alice@example.com', 'groups=new']);
  assert.equal(again?.refreshToken, 'rotated');
});

test('the session is encrypted at rest: Redis holds no token, tag or secret', async () => {
  const stored = record();
  const ticket = await create(stored);
  const raw = await redis.get(redisKeys.session(idOf(ticket)));
  assert.ok(raw);
  assert.match(raw, /^v1\.[A-Za-z0-9_-]+$/);
  const secret = ticket.slice(ticket.indexOf('.') + 1);
  const forbidden = [
    ID_TOKEN,
    ...ID_TOKEN.split('.'),
    REFRESH_TOKEN,
    stored.subject,
    stored.issuer,
    secret,
    'alice',
    ...stored.tags,
    ...stored.tags.map((t) => t.split('=')[1]!),
  ];
  for (const text of forbidden) assert.ok(!raw.includes(text), `Redis must not contain ${JSON.stringify(text)}`);
  for (const encoding of ['base64', 'base64url', 'hex'] as const) {
    assert.ok(!raw.includes(Buffer.from('alice@example.com').toString(encoding).slice(0, 16)), `nor a ${encoding} copy of a claim`);
  }
});

test('deleteByCookie removes the session', async () => {
  const ticket = await create(record());
  const ended = await sessions.deleteByCookie(ticket);
  assert.equal(ended?.record.user, 'alice@example.com');
  assert.equal(await sessions.lookup(ticket), undefined);
  assert.equal(await redis.exists(redisKeys.session(idOf(ticket))), 0);
});

test('deleteByCookie of a malformed or forged cookie does nothing', async () => {
  const ticket = await create(record());
  assert.equal(await sessions.deleteByCookie('not-a-ticket'), undefined);
  assert.equal(await sessions.deleteByCookie(withSecretChanged(ticket, 0)), undefined); // a forged secret for a real id
  assert.ok(await sessions.lookup(ticket));
});

test('replace does not bring back a session deleted meanwhile (revoked during a refresh)', async () => {
  const ticket = await create(record());
  const loaded = (await sessions.lookup(ticket))!;
  await sessions.deleteById(loaded.id);
  assert.equal(await sessions.replace(loaded.ticket, { ...loaded.record, refreshToken: 'rotated' }), false);
  assert.equal(await redis.exists(redisKeys.session(loaded.id)), 0);
  assert.equal(await redis.exists(redisKeys.sessionMeta(loaded.id)), 0);
  assert.ok(!(await sessions.list()).some((m) => m.id === loaded.id));
});

test('a filtered listing reads the whole index: a match after more than a page of other sessions is found, and the limit counts matches', async () => {
  // More sessions than one page of the index (1,000), the one sought created last.
  for (let i = 0; i < 1_050; i += 50)
    await Promise.all(Array.from({ length: 50 }, (_, j) => create(record({ user: `bulk-${i + j}@example.com`, subject: `bulk-${i + j}` }))));
  const last = idOf(await create(record({ user: 'last@example.com', subject: 'last-subject' })));
  const found = await sessions.list((m) => m.user === 'last@example.com');
  assert.deepEqual(
    found.map((m) => m.id),
    [last],
  );
  const bulk = await sessions.list((m) => m.user.startsWith('bulk-'), 1_020);
  assert.equal(bulk.length, 1_020, 'the limit counts matching sessions, across pages');
});

test('sessions are found by user name or subject through the by-name index; older sessions join it once', async () => {
  const a = idOf(await create(record({ user: 'named@example.com', subject: 'named-subject', sid: undefined })));
  const b = idOf(await create(record({ user: 'named@example.com', subject: 'named-subject', serviceId: 'svc-2', sid: undefined })));
  await create(record({ user: 'other@example.com', subject: 'other-subject', sid: undefined }));
  assert.deepEqual((await sessions.byName('named@example.com')).map((m) => m.id).sort(), [a, b].sort());
  assert.deepEqual((await sessions.byName('named-subject')).map((m) => m.id).sort(), [a, b].sort());
  await sessions.deleteById(a);
  assert.deepEqual(
    (await sessions.byName('named@example.com')).map((m) => m.id),
    [b],
    'a deleted session leaves the index',
  );
  assert.equal(await redis.sismember(redisKeys.sessionsByName(createHash('sha256').update('named@example.com').digest('hex').slice(0, 40)), a), 0);

  // A session written before the index existed (no by-name entry) is found after the one-time completion.
  const legacy = idOf(await create(record({ user: 'legacy@example.com', subject: 'legacy-subject', sid: undefined })));
  for (const name of ['legacy@example.com', 'legacy-subject'])
    await redis.del(redisKeys.sessionsByName(createHash('sha256').update(name).digest('hex').slice(0, 40)));
  assert.deepEqual(await sessions.byName('legacy@example.com'), []);
  await redis.del(redisKeys.sessionsByNameComplete);
  assert.ok(((await sessions.completeNameIndex()) ?? 0) >= 1);
  assert.deepEqual(
    (await sessions.byName('legacy@example.com')).map((m) => m.id),
    [legacy],
  );
  assert.equal(await sessions.completeNameIndex(), undefined, 'done once');
});
