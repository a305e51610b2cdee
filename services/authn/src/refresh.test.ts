// Integration: token refresh with real parts — a real redis-server private to this file, the demo IdP
// (oidc-provider: 5-second tokens, rotating refresh tokens) in this process, and openid-client. Two
// SessionStores on two Redis connections play two authn replicas sharing one Redis. Long on purpose: the
// cases share the IdP and the redis-server started once for the file (each costs seconds to start).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import * as client from 'openid-client';
import { create } from '@bufbuild/protobuf';
import { redisKeys } from '@microseg/contracts';
import { startDemoIdp, type BackchannelLogoutResult, type DemoIdp, type DemoIdpStats } from '@microseg/demo';
import { OidcClientResponseSchema } from '@microseg/proto/policy';
import { TestBrowser, formFieldsOf, startRedis, waitFor, type RunningServer } from '@microseg/testkit';
import type { OidcClient } from './oidc-clients.ts';
import { authorizationParameters, tagsFromClaims } from './providers.ts';
import { refreshDueAtMs, refreshOnce, usableSession, type RefreshDeps } from './refresh.ts';
import { SessionStore, type LoadedSession, type SessionRecord } from './sessions.ts';

const CLIENT_ID = 'refresh-app';
const CLIENT_SECRET = 'refresh-app-secret';
const REDIRECT_URI = 'https://refresh-app.example.test/aporeto/oidc/callback';
const SCOPES = ['openid', 'email', 'profile', 'offline_access'];
const HOUR_MS = 3_600_000;

type Tokens = client.TokenEndpointResponse & client.TokenEndpointResponseHelpers;
type IdClaims = { sub: string; iss: string; aud: string | string[]; iat: number; exp: number; sid?: string; email?: string; [claim: string]: unknown };

/** A token call held until the test opens it (the first one to the token endpoint after arming). */
type Gate = { started: PromiseWithResolvers<void>; open: PromiseWithResolvers<void> };

/** One authn replica: its own Redis connection and SessionStore, and what refresh reported to it. */
type Replica = {
  deps: RefreshDeps;
  sessions: SessionStore;
  ended: Array<{ id: string; reason: string }>;
  refreshed: LoadedSession[];
};

let redisServer: RunningServer;
let redisA: Redis;
let redisB: Redis;
let idp: DemoIdp;
let config: client.Configuration;
let tokenEndpoint: string;
let gate: Gate | undefined;
let oidcCalls = 0;

const oidcClient = (): OidcClient => ({
  settings: create(OidcClientResponseSchema, {
    serviceId: 'svc-refresh',
    name: 'refresh-app',
    namespace: '/acme/team-b',
    providerUrl: idp.issuer,
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    redirectUri: REDIRECT_URI,
    scopes: SCOPES,
    sessionIdleTimeoutSeconds: 7200,
    sessionMaxLifetimeSeconds: 43_200,
    providerProfile: 'auto',
  }),
  config,
  fetch: (url, options) => fetch(url, options as RequestInit),
});

/** What authn passes to refresh: resolves the service's OIDC client, counted. */
const oidc = async (): Promise<OidcClient> => {
  oidcCalls += 1;
  return oidcClient();
};

function replica(redis: Redis, lock?: RefreshDeps['lock']): Replica {
  const sessions = new SessionStore(redis);
  const ended: Replica['ended'] = [];
  const refreshed: LoadedSession[] = [];
  return {
    sessions,
    ended,
    refreshed,
    deps: {
      redis,
      sessions,
      counters: { refreshes: 0, failures: 0, lookups: 0 },
      onEnded: (session, reason) => ended.push({ id: session.id, reason }),
      onRefreshed: (session) => refreshed.push(session),
      ...(lock ? { lock } : {}),
    },
  };
}

function armGate(): Gate {
  const armed: Gate = { started: Promise.withResolvers<void>(), open: Promise.withResolvers<void>() };
  gate = armed;
  return armed;
}

function claimsOf(jwt: string): IdClaims {
  return JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as IdClaims;
}

async function stats(): Promise<DemoIdpStats> {
  const response = await fetch(new URL('/_demo/stats', idp.issuer));
  assert.equal(response.status, 200);
  return (await response.json()) as DemoIdpStats;
}

/** How many EXISTS Redis has run: a replica waiting for another's refresh polls the lock with it. */
async function existsCalls(): Promise<number> {
  const info = await redisA.info('commandstats');
  return Number(/cmdstat_exists:calls=(\d+)/.exec(info)?.[1] ?? 0);
}

/** Authorization code flow with PKCE, offline_access and prompt=consent, in a new browser (a new IdP session and grant). */
async function signInAlice(): Promise<Tokens> {
  const browser = new TestBrowser();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const codeVerifier = client.randomPKCECodeVerifier();
  const url = client.buildAuthorizationUrl(config, {
    ...authorizationParameters('generic', SCOPES),
    redirect_uri: REDIRECT_URI,
    response_type: 'code',
    state,
    nonce,
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
  });
  const loginPage = await browser.navigate(url, {}, REDIRECT_URI);
  const { action } = formFieldsOf(loginPage.body ?? '');
  assert.ok(action, `expected the IdP's login page, got ${loginPage.response?.status}`);
  const signedIn = await browser.navigate(
    new URL(action, url),
    {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ login: 'alice@example.com', password: 'alice' }).toString(),
    },
    REDIRECT_URI,
  );
  assert.ok(signedIn.stoppedAt, `expected a redirect to the client, got ${signedIn.response?.status}`);
  const tokens = await client.authorizationCodeGrant(config, signedIn.stoppedAt, {
    pkceCodeVerifier: codeVerifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  });
  assert.ok(tokens.refresh_token, 'offline_access with prompt=consent yields a refresh token');
  assert.ok(tokens.id_token);
  return tokens;
}

/** The session record login would store for these tokens, with the test's overrides. */
function recordFor(tokens: Tokens, overrides: Partial<SessionRecord> = {}): SessionRecord {
  const claims = claimsOf(tokens.id_token ?? '');
  const now = Date.now();
  return {
    v: 2,
    serviceId: 'svc-refresh',
    namespace: '/acme/team-b',
    user: claims.email ?? claims.sub,
    subject: claims.sub,
    issuer: claims.iss,
    audience: CLIENT_ID,
    tags: tagsFromClaims('generic', claims),
    idToken: tokens.id_token ?? '',
    refreshToken: tokens.refresh_token,
    createdAtMs: now,
    tokensIssuedAtMs: claims.iat * 1000,
    tokensExpireAtMs: claims.exp * 1000,
    absoluteExpiresAtMs: now + 12 * HOUR_MS,
    idleTimeoutMs: 2 * HOUR_MS,
    ...overrides,
  };
}

/** Store the session as login does, and load it by its cookie as a request would. */
async function store(sessions: SessionStore, record: SessionRecord): Promise<{ cookieValue: string; session: LoadedSession }> {
  const { cookieValue } = await sessions.create(record);
  const session = await sessions.lookup(cookieValue);
  assert.ok(session);
  assert.deepEqual(session.record, record);
  return { cookieValue, session };
}

/** Due (a third of a 150 s lifetime is left) but valid for another 30 s. */
const dueButValid = () => {
  const now = Date.now();
  return { tokensIssuedAtMs: now - 120_000, tokensExpireAtMs: now + 30_000 };
};
const expired = () => {
  const now = Date.now();
  return { tokensIssuedAtMs: now - 10_000, tokensExpireAtMs: now - 1 };
};

/** A test that holds a token call: one that waited on it instead of answering would hang, so it fails instead. */
const HELD = { timeout: 20_000 };

/** What every successful refresh must have written: new tokens from the IdP, the same session. */
function assertRefreshed(next: SessionRecord, previous: SessionRecord, startedAtMs: number): void {
  assert.ok(next.refreshToken && next.refreshToken !== previous.refreshToken, 'the rotated refresh token replaced the old one');
  // No jti in the demo IdP's ID tokens: one issued in the same second as the previous one is byte for byte the same.
  const claims = claimsOf(next.idToken);
  assert.ok(claims.iat >= claimsOf(previous.idToken).iat);
  assert.equal(claims.sub, previous.subject);
  assert.ok(next.tokensIssuedAtMs >= startedAtMs && next.tokensIssuedAtMs <= Date.now());
  assert.ok(next.tokensExpireAtMs > next.tokensIssuedAtMs, 'the new tokens are valid');
  assert.ok(next.tokensExpireAtMs <= claims.exp * 1000, 'never past the new ID token');
  assert.ok(next.tokensExpireAtMs <= next.tokensIssuedAtMs + 5_000, 'never past the 5-second access token');
  assert.notEqual(next.tokensExpireAtMs, previous.tokensExpireAtMs, "the expiry is the new tokens'");
  assert.ok(Date.now() < refreshDueAtMs(next), 'the fresh tokens are not due again yet');
  for (const key of ['createdAtMs', 'absoluteExpiresAtMs', 'idleTimeoutMs', 'serviceId', 'namespace', 'user', 'subject', 'issuer', 'audience'] as const) {
    assert.equal(next[key], previous[key], `${key} is kept`);
  }
}

/** The same record as stored: JSON, where an undefined field is no field. */
function assertSameRecord(actual: SessionRecord | undefined, expected: SessionRecord, message?: string): void {
  assert.ok(actual, message);
  assert.deepEqual(JSON.parse(JSON.stringify(actual)), JSON.parse(JSON.stringify(expected)), message);
}

async function lockHolder(session: LoadedSession): Promise<string | null> {
  return redisA.get(redisKeys.refreshLock(session.id));
}

before(async () => {
  redisServer = await startRedis({ isolated: true, dataDir: await mkdtemp(join(tmpdir(), 'microseg-refresh-')), defaultPort: 0 });
  redisA = new Redis(redisServer.url, { maxRetriesPerRequest: 1 });
  redisB = new Redis(redisServer.url, { maxRetriesPerRequest: 1 });
  idp = await startDemoIdp({
    port: 0,
    ttl: { idTokenSeconds: 5, accessTokenSeconds: 5 },
    rotateRefreshTokens: true,
    clients: [{ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUris: [REDIRECT_URI] }],
  });
  config = await client.discovery(new URL(idp.issuer), CLIENT_ID, undefined, client.ClientSecretBasic(CLIENT_SECRET), {
    execute: [client.allowInsecureRequests],
  });
  tokenEndpoint = config.serverMetadata().token_endpoint ?? '';
  assert.ok(tokenEndpoint);
  // The IdP made slow on demand: an armed gate holds the next token call until the test opens it.
  config[client.customFetch] = async (url, options) => {
    const held = gate;
    if (held && url === tokenEndpoint) {
      gate = undefined;
      held.started.resolve();
      await held.open.promise;
    }
    return fetch(url, options as RequestInit);
  };
});

after(async () => {
  await redisA?.quit();
  await redisB?.quit();
  await idp?.close();
  await redisServer?.stop();
});

describe('refreshDueAtMs', () => {
  test('a third of the lifetime before expiry, at most a minute, in whole milliseconds', () => {
    const expire = 1_700_000_000_000;
    const cases: Array<[lifetimeMs: number, aheadMs: number]> = [
      [5_000, 1_666], // the demo IdP's 5-second tokens: 1666.67 rounds down
      [3, 1],
      [2, 0],
      [1, 0],
      [0, 0],
      [-5_000, 0], // issued "after" expiry: due at expiry
      [90_000, 30_000],
      [179_999, 59_999],
      [180_000, 60_000],
      [180_002, 60_000],
      [HOUR_MS, 60_000],
      [14 * 24 * HOUR_MS, 60_000],
    ];
    for (const [lifetimeMs, aheadMs] of cases) {
      const record = { tokensIssuedAtMs: expire - lifetimeMs, tokensExpireAtMs: expire } as SessionRecord;
      const due = refreshDueAtMs(record);
      assert.equal(due, expire - aheadMs, `lifetime ${lifetimeMs} ms`);
      assert.ok(Number.isInteger(due), `lifetime ${lifetimeMs} ms gives whole milliseconds`);
    }
  });

  test('for the IdP’s real 5-second tokens, 1666 ms before the ID token expires', async () => {
    const record = recordFor(await signInAlice());
    assert.equal(record.tokensExpireAtMs - record.tokensIssuedAtMs, 5_000);
    assert.equal(refreshDueAtMs(record), record.tokensExpireAtMs - 1_666);
  });
});

describe('refresh against the demo IdP', () => {
  test('not due: usableSession returns the record without asking the IdP', async () => {
    const a = replica(redisA);
    const { session } = await store(a.sessions, recordFor(await signInAlice()));
    const before = await stats();
    const callsBefore = oidcCalls;
    assert.ok(Date.now() < refreshDueAtMs(session.record));

    assert.deepEqual(await usableSession(a.deps, session, oidc), session.record);
    assert.ok(Date.now() < refreshDueAtMs(session.record), 'still not due when it answered');
    assert.deepEqual(await stats(), before, 'no grant at the IdP');
    assert.equal(oidcCalls, callsBefore, 'the OIDC client was not even resolved');
    assert.deepEqual(a.deps.counters, { refreshes: 0, failures: 0, lookups: 0 });
    assert.equal(await lockHolder(session), null, 'no lock taken');
  });

  test('due but valid: the current record at once, the refresh in the background, same ticket', HELD, async () => {
    const a = replica(redisA);
    const { cookieValue, session } = await store(a.sessions, recordFor(await signInAlice(), dueButValid()));
    const before = await stats();
    const startedAt = Date.now();
    const held = armGate();

    // The IdP's answer is held: usableSession must not wait for it.
    assert.deepEqual(await usableSession(a.deps, session, oidc), session.record);
    await held.started.promise;
    assert.equal((await stats()).refreshGrants, before.refreshGrants, 'the refresh is still at the IdP');
    assert.ok(await lockHolder(session), 'the refreshing replica holds the lock');
    held.open.resolve();

    await waitFor('the IdP to grant the background refresh', async () => (await stats()).refreshGrants === before.refreshGrants + 1, 10_000, 20);
    await waitFor('the refreshed session to be stored', async () => a.refreshed.length === 1, 10_000, 10);
    await waitFor('the lock to be released', async () => (await lockHolder(session)) === null, 10_000, 10);

    const stored = await a.sessions.lookup(cookieValue);
    assert.ok(stored, 'the same cookie still opens the session');
    assert.equal(stored.id, session.id);
    assertRefreshed(stored.record, session.record, startedAt);
    assertSameRecord(a.refreshed[0]?.record, stored.record);
    assert.equal(a.refreshed[0]?.id, session.id);
    assert.deepEqual(a.deps.counters, { refreshes: 1, failures: 0, lookups: 0 });
    assert.deepEqual(a.ended, []);
    // The next request uses the fresh record as it is.
    assert.deepEqual(await usableSession(a.deps, stored, oidc), stored.record);
    assert.equal((await stats()).refreshGrants, before.refreshGrants + 1);
  });

  test('expired: waits for the refresh and returns the fresh record', async () => {
    const a = replica(redisA);
    const { cookieValue, session } = await store(a.sessions, recordFor(await signInAlice(), expired()));
    const before = await stats();
    const startedAt = Date.now();

    const fresh = await usableSession(a.deps, session, oidc);
    assert.ok(fresh, 'the session goes on');
    assert.equal((await stats()).refreshGrants, before.refreshGrants + 1, 'refreshed before answering');
    assertRefreshed(fresh, session.record, startedAt);
    assertSameRecord((await a.sessions.lookup(cookieValue))?.record, fresh, 'and stored under the same ticket');
    assert.equal(await lockHolder(session), null);
    assert.deepEqual(a.deps.counters, { refreshes: 1, failures: 0, lookups: 0 });
    assert.equal(a.refreshed.length, 1);
  });

  test('single flight across two replicas: one IdP grant, both get the fresh record, no invalid_grant', HELD, async () => {
    const a = replica(redisA);
    const b = replica(redisB);
    const { cookieValue, session } = await store(a.sessions, recordFor(await signInAlice(), expired()));
    const loadedByB = await b.sessions.lookup(cookieValue);
    assert.ok(loadedByB);
    const before = await stats();
    const existsBefore = await existsCalls();
    const startedAt = Date.now();
    const held = armGate();

    // Both replicas get a request for the expired session at the same time.
    const both = Promise.all([refreshOnce(a.deps, session, oidc), refreshOnce(b.deps, loadedByB, oidc)]);
    await held.started.promise;
    // One replica is at the IdP; the other must be waiting on the lock, not at the IdP too.
    await waitFor('the other replica to wait on the lock', async () => (await existsCalls()) > existsBefore, 10_000, 10);
    held.open.resolve();
    const [outcomeA, outcomeB] = await both;

    assert.equal(outcomeA.kind, 'fresh');
    assert.equal(outcomeB.kind, 'fresh');
    assert.ok(outcomeA.kind === 'fresh' && outcomeB.kind === 'fresh');
    assertSameRecord(outcomeA.record, outcomeB.record, 'both replicas answer with the same fresh record');
    assertRefreshed(outcomeA.record, session.record, startedAt);
    assert.equal((await stats()).refreshGrants, before.refreshGrants + 1, 'exactly one refresh grant at the IdP');
    assert.equal(a.deps.counters.refreshes + b.deps.counters.refreshes, 1);
    assert.equal(a.deps.counters.failures + b.deps.counters.failures, 0, 'no invalid_grant');
    assert.equal(a.refreshed.length + b.refreshed.length, 1);
    assert.deepEqual([...a.ended, ...b.ended], []);
    assertSameRecord((await b.sessions.lookup(cookieValue))?.record, outcomeA.record);
    assert.equal(await lockHolder(session), null);
  });

  test('a replica holding the record from before another replica’s refresh does not refresh again', async () => {
    const a = replica(redisA);
    const b = replica(redisB);
    const { cookieValue, session } = await store(a.sessions, recordFor(await signInAlice(), expired()));
    const staleInB = await b.sessions.lookup(cookieValue);
    assert.ok(staleInB);
    const before = await stats();

    const first = await refreshOnce(a.deps, session, oidc);
    assert.equal(first.kind, 'fresh');
    // B read the session before A's refresh; it takes the lock, reads the session again and finds it fresh.
    const second = await refreshOnce(b.deps, staleInB, oidc);
    assert.equal(second.kind, 'fresh');
    assert.ok(first.kind === 'fresh' && second.kind === 'fresh');
    assertSameRecord(second.record, first.record);
    assert.equal((await stats()).refreshGrants, before.refreshGrants + 1, 'the old, rotated refresh token is never sent');
    assert.deepEqual(b.deps.counters, { refreshes: 0, failures: 0, lookups: 0 });
    assert.deepEqual(b.ended, []);
  });

  test('the lock lease is renewed while the IdP is slow, so no other replica refreshes meanwhile', HELD, async () => {
    const leaseMs = 600;
    const a = replica(redisA, { leaseMs, renewMs: 100 });
    const b = replica(redisB, { leaseMs, renewMs: 100 });
    const { cookieValue, session } = await store(a.sessions, recordFor(await signInAlice(), expired()));
    const loadedByB = await b.sessions.lookup(cookieValue);
    assert.ok(loadedByB);
    const before = await stats();
    const startedAt = Date.now();
    const held = armGate();

    const refreshingA = refreshOnce(a.deps, session, oidc);
    await held.started.promise;
    const lockKey = redisKeys.refreshLock(session.id);
    const owner = await redisA.get(lockKey);
    assert.ok(owner, 'A holds the lock while at the IdP');
    const heldSince = Date.now();

    // Watch the lock for three leases: it must stay A's, its TTL going back up at each renewal.
    const lapses: Array<string | null> = [];
    let renewals = 0;
    let lastTtl = await redisA.pttl(lockKey);
    await waitFor(
      'the lock to outlive three leases',
      async () => {
        const [value, ttl] = await Promise.all([redisA.get(lockKey), redisA.pttl(lockKey)]);
        if (value !== owner || ttl <= 0) lapses.push(value);
        if (ttl > lastTtl) renewals += 1;
        lastTtl = ttl;
        return lapses.length > 0 || (Date.now() - heldSince > 3 * leaseMs && renewals >= 3);
      },
      15_000,
      20,
    );
    assert.deepEqual(lapses, [], 'the lock never lapsed nor changed hands');
    assert.ok(renewals >= 3, `renewed ${renewals} times`);

    // Past the first lease, another replica still finds the lock taken and waits.
    const existsBefore = await existsCalls();
    const refreshingB = refreshOnce(b.deps, loadedByB, oidc);
    await waitFor('B to wait on the lock', async () => (await existsCalls()) > existsBefore, 10_000, 10);
    assert.equal((await stats()).refreshGrants, before.refreshGrants);
    held.open.resolve();

    const [outcomeA, outcomeB] = await Promise.all([refreshingA, refreshingB]);
    assert.ok(outcomeA.kind === 'fresh' && outcomeB.kind === 'fresh', `${outcomeA.kind} / ${outcomeB.kind}`);
    assertSameRecord(outcomeB.record, outcomeA.record);
    assertRefreshed(outcomeA.record, session.record, startedAt);
    assert.equal((await stats()).refreshGrants, before.refreshGrants + 1);
    assert.deepEqual(a.deps.counters, { refreshes: 1, failures: 0, lookups: 0 });
    assert.deepEqual(b.deps.counters, { refreshes: 0, failures: 0, lookups: 0 });
    assert.equal(await redisA.exists(lockKey), 0, 'released at the end');
  });

  test('tags follow the new ID token and sid is kept', async () => {
    const a = replica(redisA);
    const tokens = await signInAlice();
    const stale = ['email=alice@old.example.com', 'groups=former-team', 'name=Alice'];
    const { cookieValue, session } = await store(a.sessions, recordFor(tokens, { ...expired(), tags: stale, sid: 'idp-session-7' }));

    const fresh = await usableSession(a.deps, session, oidc);
    assert.ok(fresh);
    const claims = claimsOf(fresh.idToken);
    assert.equal(claims.sid, undefined, 'a client without back-channel logout gets no sid from the demo IdP');
    assert.equal(fresh.sid, 'idp-session-7', 'so the session keeps its sid');
    assert.deepEqual(fresh.tags, tagsFromClaims('generic', claims), 'tags are the new ID token’s, as at login');
    for (const tag of ['email=alice@example.com', 'email_verified=true', 'groups=admins', 'groups=engineering', 'name=Alice Liddell', 'sub=alice']) {
      assert.ok(fresh.tags.includes(tag), tag);
    }
    for (const tag of stale) assert.ok(!fresh.tags.includes(tag), `${tag} is gone`);
    assertSameRecord((await a.sessions.lookup(cookieValue))?.record, fresh);
    const meta = await a.sessions.meta(session.id);
    assert.equal(meta?.sid, 'idp-session-7');
    assert.deepEqual(await a.sessions.idsBySid(fresh.issuer, 'idp-session-7'), [session.id], 'back-channel logout still finds it by sid');
  });

  test('a refreshed ID token for another subject ends the session', async () => {
    const a = replica(redisA);
    const tokens = await signInAlice();
    const { cookieValue, session } = await store(a.sessions, recordFor(tokens, { ...expired(), subject: 'not-alice' }));
    const before = await stats();

    const outcome = await refreshOnce(a.deps, session, oidc);
    assert.equal(outcome.kind, 'ended');
    assert.ok(outcome.kind === 'ended');
    assert.match(outcome.reason, /another subject/);
    assert.equal((await stats()).refreshGrants, before.refreshGrants + 1, 'the IdP did answer, for alice');
    assert.equal(await a.sessions.lookup(cookieValue), undefined);
    assert.equal(await redisA.exists(redisKeys.session(session.id), redisKeys.sessionMeta(session.id), redisKeys.sessionActive(session.id)), 0);
    assert.deepEqual(await a.sessions.idsBySubject(session.record.issuer, 'not-alice'), []);
    assert.deepEqual(a.ended, [{ id: session.id, reason: outcome.reason }]);
    assert.equal(a.refreshed.length, 0);
    assert.equal(await lockHolder(session), null);
  });

  test('invalid_grant ends the session: alice’s grants revoked at the IdP', async () => {
    const a = replica(redisA);
    const { cookieValue, session } = await store(a.sessions, recordFor(await signInAlice(), expired()));
    assert.ok((await a.sessions.idsBySubject(session.record.issuer, session.record.subject)).includes(session.id));

    const response = await fetch(new URL('/_demo/backchannel-logout', idp.issuer), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'alice@example.com' }),
    });
    assert.equal(response.status, 200);
    const revoked = (await response.json()) as BackchannelLogoutResult;
    assert.ok(revoked.grantsRevoked >= 1);
    assert.equal(revoked.backchannelLogoutsSent, 0, 'no client with a back-channel logout URI: it only revokes');
    const before = await stats();

    const outcome = await refreshOnce(a.deps, session, oidc);
    assert.equal(outcome.kind, 'ended');
    assert.ok(outcome.kind === 'ended');
    assert.match(outcome.reason, /invalid_grant/);
    assert.equal(a.ended.length, 1, 'onEnded once');
    assert.equal(a.ended[0]?.id, session.id);
    assert.match(a.ended[0]?.reason ?? '', /invalid_grant/);
    assert.deepEqual(a.deps.counters, { refreshes: 1, failures: 1, lookups: 0 });
    assert.equal((await stats()).refreshGrants, before.refreshGrants);

    assert.equal(await a.sessions.lookup(cookieValue), undefined, 'the session is gone');
    assert.equal(await a.sessions.reload(session.ticket), undefined);
    assert.equal(await redisA.exists(redisKeys.session(session.id), redisKeys.sessionMeta(session.id), redisKeys.sessionActive(session.id)), 0);
    assert.equal(await redisA.zscore(redisKeys.sessionIndex, session.id), null);
    assert.ok(!(await a.sessions.idsBySubject(session.record.issuer, session.record.subject)).includes(session.id));
    assert.equal(await lockHolder(session), null);
    // Through usableSession, the next request finds no session and nothing more happens.
    assert.equal(await usableSession(a.deps, session, oidc), undefined);
    assert.equal(a.ended.length, 1);
  });
});
