// Integration: a revoked user's bearer tokens, on a real redis-server and a real nats-server private to
// this file — the store's subtree semantics and lifetime, and what revocation by user records and
// broadcasts to the gateways.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { Bus } from '@microseg/bus';
import { eventCatalogue, redisKeys, subjects, type EventKind } from '@microseg/contracts';
import { SessionInvalidatedSchema, type SessionInvalidated } from '@microseg/proto/authn';
import { createLogger } from '@microseg/telemetry';
import { startNats, startRedis, waitFor, type RunningServer } from '@microseg/testkit';
import { BearerRevocations, latestCovering } from './bearer-revocation.ts';
import { revokeSessions, type SessionDeps } from './session-handlers.ts';
import { SessionStore } from './sessions.ts';

const TTL_SECONDS = 120;
let redisServer: RunningServer;
let natsServer: RunningServer;
let redis: Redis;
let bus: Bus;
let gatewaySide: Bus;
let revocations: BearerRevocations;
const broadcasts: SessionInvalidated[] = [];
const events: Array<{ title: string; content: string }> = [];

before(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'microseg-bearer-revocation-'));
  redisServer = await startRedis({ isolated: true, dataDir: dir, defaultPort: 0 });
  natsServer = await startNats({ isolated: true, dataDir: dir, defaultPort: 0 });
  redis = new Redis(redisServer.url, { maxRetriesPerRequest: 1 });
  const logger = createLogger('test', 'silent');
  bus = await Bus.connect({ url: natsServer.url, name: 'authn-under-test', logger });
  gatewaySide = await Bus.connect({ url: natsServer.url, name: 'a-gateway', logger });
  gatewaySide.onBroadcast(subjects.sessionInvalidated, SessionInvalidatedSchema, (m) => void broadcasts.push(m));
  await gatewaySide.nc.flush();
  revocations = new BearerRevocations(redis, TTL_SECONDS);
});

after(async () => {
  await bus?.close(1_000);
  await gatewaySide?.close(1_000);
  redis?.disconnect();
  await natsServer?.stop();
  await redisServer?.stop();
});

const subtrees: Array<{ name: string; fields: Record<string, string>; namespace: string; expected: number }> = [
  { name: 'the namespace itself', fields: { 'n/acme/team-b': '100' }, namespace: '/acme/team-b', expected: 100 },
  { name: 'a child, without recursion', fields: { 'n/acme': '100' }, namespace: '/acme/team-b', expected: 0 },
  { name: 'a child, recursively', fields: { 'r/acme': '100' }, namespace: '/acme/team-b', expected: 100 },
  { name: 'a sibling with the same prefix', fields: { 'r/acme/team': '100' }, namespace: '/acme/team-b', expected: 0 },
  { name: 'everything below the root', fields: { 'r/': '100' }, namespace: '/acme/team-b', expected: 100 },
  { name: 'the latest of several', fields: { 'r/': '100', 'n/acme/team-b': '300', 'r/acme': '200' }, namespace: '/acme/team-b', expected: 300 },
  { name: 'a malformed field or value', fields: { 'x/acme/team-b': '500', 'n/acme/team-b': 'soon' }, namespace: '/acme/team-b', expected: 0 },
];

for (const { name, fields, namespace, expected } of subtrees) {
  test(`latestCovering: ${name}`, () => {
    assert.equal(latestCovering(fields, namespace), expected);
  });
}

test('a revocation is found by either name it was recorded under, in its subtree only, and lives as long as the longest token', async () => {
  await revocations.revoke('carol@example.com', '/acme', true, 1_000_000);
  assert.equal(await revocations.revokedAtMs(['carol-subject', 'carol@example.com'], '/acme/team-b'), 1_000_000);
  assert.equal(await revocations.revokedAtMs(['carol-subject', 'carol@example.com'], '/other'), 0);
  assert.equal(await revocations.revokedAtMs(['dave@example.com'], '/acme/team-b'), 0);
  const keys = await redis.keys(redisKeys.bearerRevoked('*'));
  assert.equal(keys.length, 1);
  assert.doesNotMatch(keys[0]!, /carol/, 'the key holds a hash of the name, not the name');
  const ttl = await redis.ttl(keys[0]!);
  assert.ok(ttl > TTL_SECONDS - 5 && ttl <= TTL_SECONDS, `ttl ${ttl}`);
});

function depsWith(sessions: SessionStore): SessionDeps {
  return {
    bus,
    redis,
    sessions,
    clients: undefined as never,
    revocations,
    events: { emit: (kind: EventKind, e: { content: string }) => void events.push({ title: eventCatalogue[kind].title, content: e.content }) } as never,
    lookupCacheMs: 1_000,
    counters: { refreshes: 0, failures: 0, lookups: 0 },
  };
}

test('revoking a user records the revocation, broadcasts that bearer answers must go, and says so in an event', async () => {
  const sessions = new SessionStore(redis);
  const now = Date.now();
  await sessions.create({
    v: 2,
    serviceId: 'svc-1',
    namespace: '/acme/team-b',
    user: 'alice@example.com',
    subject: 'alice',
    issuer: 'https://idp.example.com',
    audience: 'app',
    tags: ['email=alice@example.com'],
    idToken: 'x.y.z',
    createdAtMs: now,
    tokensIssuedAtMs: now,
    tokensExpireAtMs: now + 60_000,
    absoluteExpiresAtMs: now + 60_000,
    idleTimeoutMs: 60_000,
  });
  const before = Date.now();
  const from = broadcasts.length;
  const reply = await revokeSessions(depsWith(sessions), {
    namespace: '/acme',
    recursive: true,
    user: 'alice@example.com',
    sessionId: '',
    revokedBy: 'admin-token',
  } as never);
  assert.equal(reply.revoked?.length, 1, 'her session was revoked');
  const at = await revocations.revokedAtMs(['alice', 'alice@example.com'], '/acme/team-b');
  assert.ok(at >= before && at <= Date.now(), 'her bearer tokens until now are revoked');
  await waitFor('the broadcasts', async () => broadcasts.slice(from).some((m) => m.bearerAnswers), 2_000, 10);
  assert.ok(
    broadcasts.slice(from).some((m) => m.sessionId && !m.bearerAnswers),
    'the session itself was broadcast too',
  );
  assert.ok(events.some((e) => e.title === 'Bearer tokens revoked' && /alice@example\.com.*\/acme and below.*admin-token/.test(e.content)));
});

test('revoking a user who has no session still revokes her bearer tokens', async () => {
  const from = broadcasts.length;
  await revokeSessions(depsWith(new SessionStore(redis)), {
    namespace: '/acme/team-b',
    recursive: false,
    user: 'erin@example.com',
    sessionId: '',
    revokedBy: '',
  } as never);
  assert.ok((await revocations.revokedAtMs(['erin@example.com'], '/acme/team-b')) > 0);
  assert.equal(await revocations.revokedAtMs(['erin@example.com'], '/acme/team-b/dev'), 0, 'not below the namespace without recursion');
  await waitFor('the bearer broadcast', async () => broadcasts.slice(from).some((m) => m.bearerAnswers), 2_000, 10);
});

test("revoking one session by id leaves the user's bearer tokens alone", async () => {
  const sessions = new SessionStore(redis);
  const now = Date.now();
  const created = await sessions.create({
    v: 2,
    serviceId: 'svc-1',
    namespace: '/acme/team-b',
    user: 'frank@example.com',
    subject: 'frank',
    issuer: 'https://idp.example.com',
    audience: 'app',
    tags: [],
    idToken: 'x.y.z',
    createdAtMs: now,
    tokensIssuedAtMs: now,
    tokensExpireAtMs: now + 60_000,
    absoluteExpiresAtMs: now + 60_000,
    idleTimeoutMs: 60_000,
  });
  await revokeSessions(depsWith(sessions), { namespace: '/acme/team-b', recursive: false, user: '', sessionId: created.id, revokedBy: '' } as never);
  assert.equal(await revocations.revokedAtMs(['frank', 'frank@example.com'], '/acme/team-b'), 0);
});
