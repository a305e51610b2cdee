// Unit (fakes): the administrators' session handlers — a listing of a namespace (or subtree) and a user, a
// revocation of one session (anywhere in the subtree) or of every session and bearer token of a user, each
// ended session broadcast to the gateways and audited.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { create } from '@bufbuild/protobuf';
import type { Bus } from '@microseg/bus';
import { subjects, type EventKind } from '@microseg/contracts';
import { MicrosegError } from '@microseg/errors';
import { SessionListRequestSchema, SessionLookupRequestSchema, SessionRevokeRequestSchema } from '@microseg/proto/authn';
import type { AuthnEvents, AuthnEventInput } from './events.ts';
import { listSessions, lookupSession, revokeSessions, type SessionDeps } from './session-handlers.ts';
import type { SessionMeta, SessionStore } from './sessions.ts';

const meta = (id: string, namespace: string, user: string, subject = `sub-${user}`): SessionMeta => ({
  id,
  serviceId: 'svc',
  namespace,
  user,
  subject,
  issuer: 'https://idp',
  sid: '',
  createdAtMs: 1,
  expiresAtMs: 2,
  refreshable: false,
});
const all = [
  meta('s1', '/acme', 'alice@example.com'),
  meta('s2', '/acme/dev', 'alice@example.com'),
  meta('s3', '/acmeco', 'alice@example.com'),
  meta('s4', '/acme', 'bob@example.com', 'bob-sub'),
];

function setup() {
  const live = new Map(all.map((m) => [m.id, m]));
  const sessions: Pick<SessionStore, 'list' | 'meta' | 'byName' | 'deleteById'> = {
    async list(match = () => true) {
      return [...live.values()].filter(match);
    },
    async meta(id) {
      return live.get(id);
    },
    async byName(name) {
      return [...live.values()].filter((m) => m.user === name || m.subject === name);
    },
    async deleteById(id) {
      const gone = live.get(id);
      live.delete(id);
      return gone;
    },
  };
  const broadcasts: unknown[] = [];
  const events: Array<{ kind: EventKind; event: AuthnEventInput }> = [];
  const revoked: Array<[string, string, boolean]> = [];
  const deps = {
    bus: { broadcast: (subject: string, _schema: unknown, message: unknown) => void broadcasts.push([subject, message]) } as unknown as Bus,
    sessions: sessions as SessionStore,
    revocations: { revoke: async (user: string, namespace: string, recursive: boolean) => void revoked.push([user, namespace, recursive]) },
    events: { emit: (kind: EventKind, event: AuthnEventInput) => void events.push({ kind, event }) } as AuthnEvents,
  } as SessionDeps;
  return { deps, live, broadcasts, events, revoked };
}

test('list: a namespace, or its subtree; a user by email or subject; /acmeco is not below /acme', async () => {
  const { deps } = setup();
  const ids = async (fields: { namespace: string; recursive?: boolean; user?: string }) =>
    (await listSessions(deps, create(SessionListRequestSchema, fields))).sessions?.map((s) => s.id);
  assert.deepEqual(await ids({ namespace: '/acme' }), ['s1', 's4']);
  assert.deepEqual(await ids({ namespace: '/acme', recursive: true }), ['s1', 's2', 's4']);
  assert.deepEqual(await ids({ namespace: '/acme', recursive: true, user: 'bob-sub' }), ['s4']);
  assert.deepEqual(await ids({ namespace: '/', recursive: true, user: 'alice@example.com' }), ['s1', 's2', 's3']);
});

test('revoke one session: anywhere in the subtree, broadcast and audited; one outside it is 404 and left alone', async () => {
  const { deps, live, broadcasts, events, revoked } = setup();
  const answer = await revokeSessions(deps, create(SessionRevokeRequestSchema, { namespace: '/acme', sessionId: 's2', revokedBy: 'ops' }));
  assert.deepEqual(
    answer.revoked?.map((s) => s.id),
    ['s2'],
  );
  assert.equal(live.has('s2'), false);
  assert.deepEqual(broadcasts, [[subjects.sessionInvalidated, { sessionId: 's2' }]]);
  assert.deepEqual(
    events.map((e) => [e.kind, e.event.content, e.event.namespace]),
    [['sessionRevoked', 'The session of alice@example.com on service svc was revoked by ops.', '/acme/dev']],
  );
  assert.deepEqual(revoked, [], "one session is not the user's bearer tokens");
  await assert.rejects(
    revokeSessions(deps, create(SessionRevokeRequestSchema, { namespace: '/acme', sessionId: 's3' })),
    (err: unknown) => err instanceof MicrosegError && err.code === 'NOT_FOUND',
  );
  assert.equal(live.has('s3'), true);
});

test("revoke a user: every session of hers in the namespace (or subtree), then her bearer tokens, the gateways' cached answers dropped", async () => {
  const { deps, live, broadcasts, events, revoked } = setup();
  const answer = await revokeSessions(
    deps,
    create(SessionRevokeRequestSchema, { namespace: '/acme', recursive: true, user: 'alice@example.com', revokedBy: 'ops' }),
  );
  assert.deepEqual(
    answer.revoked?.map((s) => s.id),
    ['s1', 's2'],
  );
  assert.deepEqual([...live.keys()], ['s3', 's4']);
  assert.deepEqual(revoked, [['alice@example.com', '/acme', true]]);
  assert.deepEqual(broadcasts.at(-1), [subjects.sessionInvalidated, { bearerAnswers: true }]);
  assert.deepEqual(
    events.map((e) => e.kind),
    ['sessionRevoked', 'sessionRevoked', 'bearerTokensRevoked'],
  );
  await assert.rejects(
    revokeSessions(deps, create(SessionRevokeRequestSchema, { namespace: '/acme' })),
    (err: unknown) => err instanceof MicrosegError && err.code === 'BAD_REQUEST',
  );
});

test('lookup: the access token is answered only when the gateway asks for it (a service with passAccessToken)', async () => {
  const now = Date.now();
  const record = {
    v: 2,
    serviceId: 'svc',
    namespace: '/acme',
    user: 'alice@example.com',
    subject: 'alice-sub',
    issuer: 'https://idp',
    audience: 'client',
    tags: ['email=alice@example.com'],
    idToken: 'id-token',
    accessToken: 'the-access-token',
    createdAtMs: now,
    tokensIssuedAtMs: now,
    tokensExpireAtMs: now + 600_000,
    absoluteExpiresAtMs: now + 3_600_000,
    idleTimeoutMs: 3_600_000,
  } as const;
  const deps = {
    sessions: { lookup: async () => ({ id: 'sess-1', record }) },
    counters: { lookups: 0, refreshes: 0, failures: 0 },
    lookupCacheMs: 10_000,
  } as unknown as SessionDeps;
  const plain = await lookupSession(deps, create(SessionLookupRequestSchema, { serviceId: 'svc', ticket: 't' }));
  assert.equal(plain.found, true);
  assert.equal(plain.accessToken, undefined);
  const asked = await lookupSession(deps, create(SessionLookupRequestSchema, { serviceId: 'svc', ticket: 't', includeAccessToken: true }));
  assert.equal(asked.accessToken, 'the-access-token');
  // Never kept by the gateway past the token's end.
  assert.ok(Number(asked.cacheUntilMs) <= record.tokensExpireAtMs);
  // Another service's session says nothing, token or not.
  const other = await lookupSession(deps, create(SessionLookupRequestSchema, { serviceId: 'other', ticket: 't', includeAccessToken: true }));
  assert.deepEqual(other, { found: false });
});
