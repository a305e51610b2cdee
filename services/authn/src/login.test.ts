// Unit (fake IdP, fakes for Redis, the limiter and the session store): login start and callback (SPEC §4).
// The start is counted first and refused past the limit; an unknown service or an unreachable IdP fails with
// its event; a start sends state, nonce and an S256 PKCE challenge, all fresh, and keeps them bound to the
// browser. The callback uses a state once, for its service and browser only, and checks what the IdP answers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { create } from '@bufbuild/protobuf';
import type { Redis } from 'ioredis';
import type { EventKind } from '@microseg/contracts';
import { MicrosegError, type ErrorCode } from '@microseg/errors';
import { LoginCallbackRequestSchema, LoginStartRequestSchema } from '@microseg/proto/authn';
import type { AuthnEventInput, AuthnEvents } from './events.ts';
import { completeLogin, startLogin, type LoginDeps } from './login.ts';
import type { LoginStartVerdict } from './login-limit.ts';
import { hashBinding, LoginStateStore, newBinding, type LoginState } from './login-state.ts';
import type { OidcClient, OidcClients } from './oidc-clients.ts';
import type { SessionRecord, SessionStore } from './sessions.ts';
import { CLIENT_ID, FakeIdp, ISSUER, jsonResponse, sign, signingKey } from './testing/fake-idp.ts';

const CLIENT_IP = '203.0.113.7';
const TTL = 600;
const key = await signingKey();

function setup(options: { verdict?: LoginStartVerdict; clientError?: Error; settingsError?: Error; tenants?: string[] } = {}) {
  const idp = new FakeIdp([key]);
  const oidc: OidcClient = idp.client({ allowedTenants: options.tenants ?? [] });
  const serviceId = oidc.settings.serviceId;
  const redisData = new Map<string, string>();
  const redis = {
    set: async (name: string, value: string) => void redisData.set(name, value),
    getdel: async (name: string) => {
      const value = redisData.get(name) ?? null;
      redisData.delete(name);
      return value;
    },
  } as unknown as Redis;
  const events: Array<{ kind: EventKind; event: AuthnEventInput }> = [];
  const sessions: SessionRecord[] = [];
  const counted: string[] = [];
  const asked: string[] = [];
  const known = (id: string) => {
    asked.push(id);
    if (id !== serviceId) throw new MicrosegError('AUTHN_SERVICE_UNKNOWN');
  };
  const deps: LoginDeps = {
    clients: {
      get: async (id: string) => {
        known(id);
        if (options.clientError) throw options.clientError;
        return oidc;
      },
      settings: async (id: string) => {
        known(id);
        if (options.settingsError) throw options.settingsError;
        return oidc.settings;
      },
    } as unknown as OidcClients,
    states: new LoginStateStore(redis, TTL),
    starts: { count: async (ip: string) => (counted.push(ip), options.verdict ?? { allowed: true }) },
    sessions: {
      create: async (record: SessionRecord) => (
        sessions.push(record),
        { cookieValue: `ticket-${sessions.length}`, id: 'id', refreshable: Boolean(record.refreshToken) }
      ),
    } as unknown as SessionStore,
    events: { emit: (kind: EventKind, event: AuthnEventInput) => void events.push({ kind, event }) } as AuthnEvents,
    config: { AUTHN_LOGIN_TTL_SECONDS: TTL, AUTHN_LOGIN_STARTS_PER_ADDRESS: 20 },
  };
  const start = (fields: { returnTo?: string; binding?: string; serviceId?: string } = {}) =>
    startLogin(deps, create(LoginStartRequestSchema, { serviceId, returnTo: '/orders?page=2', clientIp: CLIENT_IP, ...fields }));
  const callback = (query: string, binding: string, id = serviceId) =>
    completeLogin(deps, create(LoginCallbackRequestSchema, { serviceId: id, query, binding, clientIp: CLIENT_IP }));
  const savedState = (state: string) => JSON.parse(redisData.get(`microseg:authn:login:${state}`) ?? 'null') as LoginState | null;
  return { idp, oidc, serviceId, deps, start, callback, events, sessions, counted, asked, redisData, savedState };
}

const isError = (code: ErrorCode) => (err: unknown) => err instanceof MicrosegError && err.code === code;
const kinds = (events: Array<{ kind: EventKind }>) => events.map((e) => e.kind);
const s256 = (verifier: string) => createHash('sha256').update(verifier).digest('base64url');

test('a start: an authorization code request with fresh state, nonce and S256 PKCE, all kept for the callback', async () => {
  const { start, savedState, serviceId, counted } = setup();
  const binding = newBinding();
  const answer = await start({ binding });
  const url = new URL(answer.authorizationUrl!);
  assert.equal(`${url.origin}${url.pathname}`, `${ISSUER}/auth`);
  const p = url.searchParams;
  assert.deepEqual(
    ['response_type', 'client_id', 'redirect_uri', 'scope', 'code_challenge_method'].map((n) => p.get(n)),
    ['code', CLIENT_ID, 'https://app.example.com/aporeto/oidc/callback', 'openid email', 'S256'],
  );
  const [state, nonce, challenge] = [p.get('state')!, p.get('nonce')!, p.get('code_challenge')!];
  for (const value of [state, nonce, challenge]) assert.match(value, /^[A-Za-z0-9_-]{43,}$/, 'at least 256 bits, URL-safe');
  const saved = savedState(state);
  assert.ok(saved, 'the state is stored under its own name');
  assert.equal(saved.serviceId, serviceId);
  assert.equal(saved.nonce, nonce);
  assert.equal(s256(saved.codeVerifier), challenge, 'the challenge is S256 of the kept verifier');
  assert.ok(!url.href.includes(saved.codeVerifier), 'the verifier never leaves authn');
  assert.equal(saved.returnTo, '/orders?page=2');
  assert.equal(saved.bindingHash, hashBinding(binding));
  assert.deepEqual([answer.binding, answer.bindingMaxAgeSeconds], [binding, TTL], "the browser's binding is kept (logins in several tabs)");
  assert.deepEqual(counted, [CLIENT_IP]);

  const again = new URL((await start({ binding })).authorizationUrl!).searchParams;
  for (const name of ['state', 'nonce', 'code_challenge']) assert.notEqual(again.get(name), p.get(name), `${name} is fresh for every start`);
});

test('a start: a malformed binding is replaced, and a return path off the site becomes /', async () => {
  const { start, savedState } = setup();
  for (const returnTo of ['//evil.example/x', 'https://evil.example', '/\\evil.example']) {
    const answer = await start({ binding: 'short', returnTo });
    assert.match(answer.binding!, /^[A-Za-z0-9_-]{43}$/);
    assert.notEqual(answer.binding, 'short');
    const saved = savedState(new URL(answer.authorizationUrl!).searchParams.get('state')!);
    assert.deepEqual([saved?.returnTo, saved?.bindingHash], ['/', hashBinding(answer.binding!)]);
  }
});

test('a start past the limit: 429 with Retry-After, one event per address and window, no state, no IdP asked', async () => {
  const refused = { allowed: false as const, retryAfterSeconds: 42, firstRefusal: true, bucket: '203.0.113.0/24' };
  const first = setup({ verdict: refused });
  await assert.rejects(first.start(), (err) => isError('AUTHN_LOGIN_RATE_LIMITED')(err) && (err as MicrosegError).retryAfterSeconds === 42);
  assert.deepEqual(kinds(first.events), ['loginStartsLimited']);
  assert.equal(first.events[0]!.event.namespace, '/acme');
  assert.match(first.events[0]!.event.content, /^203\.0\.113\.0\/24 started more than 20 logins within 600 s .*429 for 42 s\.$/);
  assert.equal(first.redisData.size, 0);
  assert.equal(first.idp.fetched.length, 0);

  const later = setup({ verdict: { ...refused, firstRefusal: false } });
  await assert.rejects(later.start(), isError('AUTHN_LOGIN_RATE_LIMITED'));
  assert.deepEqual(later.events, [], 'not one event per refused request');
  assert.deepEqual(later.asked, [], 'not even the settings are asked');

  const unknownToo = setup({ verdict: refused, settingsError: new Error('policy away') });
  await assert.rejects(unknownToo.start(), isError('AUTHN_LOGIN_RATE_LIMITED'));
  assert.equal(unknownToo.events[0]!.event.namespace, '', 'no namespace when the settings cannot be had');
});

test('a start for an unknown service: refused as it is, no state, no event', async () => {
  const { start, events, redisData } = setup();
  await assert.rejects(start({ serviceId: 'svc-unknown' }), isError('AUTHN_SERVICE_UNKNOWN'));
  assert.deepEqual([events, redisData.size], [[], 0]);
});

test('a start when the IdP cannot be used: the matching event in the service namespace, the error passed on', async () => {
  const cases: Array<[ErrorCode, EventKind]> = [
    ['AUTHN_DISCOVERY_FAILED', 'idpDiscoveryFailed'],
    ['AUTHN_NETWORK_DENIED', 'idpBlockedByNetworkPolicy'],
    ['AUTHN_IDP_ADDRESS_REFUSED', 'idpAddressRefused'],
  ];
  for (const [code, kind] of cases) {
    const { start, events, redisData } = setup({ clientError: new MicrosegError(code, `why ${code}`) });
    await assert.rejects(start(), isError(code));
    assert.deepEqual(
      events.map((e) => [e.kind, e.event.content, e.event.namespace]),
      [[kind, `why ${code}`, '/acme']],
    );
    assert.equal(redisData.size, 0);
  }
  const other = setup({ clientError: new MicrosegError('POLICY_SECRET_UNREADABLE') });
  await assert.rejects(other.start(), isError('POLICY_SECRET_UNREADABLE'));
  assert.deepEqual(other.events, [], 'other failures are reported where they happen');
});

/** Starts a login and has the fake IdP answer the code grant as a correct IdP would, unless `idToken` changes the claims. */
async function loggedInFlow(ctx: ReturnType<typeof setup>, answer: { claims?: Record<string, unknown>; refreshToken?: string; signWith?: typeof key } = {}) {
  const binding = newBinding();
  const params = new URL((await ctx.start({ binding })).authorizationUrl!).searchParams;
  const grants: URLSearchParams[] = [];
  const now = Math.floor(Date.now() / 1000);
  ctx.idp.token = async (form) => {
    grants.push(form);
    if (form.get('code') !== 'the-code' || s256(form.get('code_verifier') ?? '') !== params.get('code_challenge'))
      return jsonResponse({ error: 'invalid_grant' }, 400);
    const claims = {
      iss: ISSUER,
      aud: CLIENT_ID,
      sub: 'alice-sub',
      email: 'alice@example.com',
      sid: 'sid-1',
      iat: now,
      exp: now + 600,
      nonce: params.get('nonce'),
      ...answer.claims,
    };
    const idToken = await sign(answer.signWith ?? key, claims);
    return jsonResponse({
      access_token: 'at',
      token_type: 'Bearer',
      expires_in: 300,
      id_token: idToken,
      ...(answer.refreshToken ? { refresh_token: answer.refreshToken } : {}),
    });
  };
  return { binding, state: params.get('state')!, query: `code=the-code&state=${params.get('state')}`, grants };
}

test('a callback: the code is exchanged with the PKCE verifier, the ID token checked, a session made for its user', async () => {
  const ctx = setup();
  const { binding, query, grants } = await loggedInFlow(ctx);
  const before = Date.now();
  const answer = await ctx.callback(query, binding);
  assert.equal(grants.length, 1);
  assert.equal(grants[0]!.get('grant_type'), 'authorization_code');
  assert.deepEqual([answer.ticket, answer.returnTo, answer.subject], ['ticket-1', '/orders?page=2', 'alice@example.com']);
  assert.ok(answer.maxAgeSeconds! >= 299 && answer.maxAgeSeconds! <= 300, 'the access token (300 s) ends first');
  const [record] = ctx.sessions;
  assert.deepEqual(
    [record!.serviceId, record!.namespace, record!.user, record!.subject, record!.issuer, record!.audience, record!.sid, record!.refreshToken],
    [ctx.serviceId, '/acme', 'alice@example.com', 'alice-sub', ISSUER, CLIENT_ID, 'sid-1', undefined],
  );
  assert.ok(record!.tags.includes('email=alice@example.com'));
  assert.ok(record!.absoluteExpiresAtMs >= before + 8 * 3600_000 && record!.idleTimeoutMs === 3600_000);
  assert.deepEqual(
    ctx.events.map((e) => [e.kind, e.event.content, e.event.namespace]),
    [['loginSucceeded', `alice@example.com logged in to web from ${CLIENT_IP}.`, '/acme']],
  );

  await assert.rejects(ctx.callback(query, binding), isError('AUTHN_STATE_INVALID'), 'a state is used once: the replay is refused');
  assert.equal(ctx.sessions.length, 1);
  assert.match(ctx.events.at(-1)!.event.content, /unknown, expired or already used state$/);
});

test('a callback with a refresh token: the cookie lives as long as the session may', async () => {
  const ctx = setup();
  const { binding, query } = await loggedInFlow(ctx, { refreshToken: 'rt' });
  const answer = await ctx.callback(query, binding);
  assert.equal(ctx.sessions[0]!.refreshToken, 'rt');
  assert.ok(answer.maxAgeSeconds! > 8 * 3600 - 5 && answer.maxAgeSeconds! <= 8 * 3600);
});

test('a callback refused before the IdP is asked: forged state, another service, another browser, an IdP error', async () => {
  const ctx = setup();
  const flow = await loggedInFlow(ctx);
  const refusedBefore = async (query: string, binding: string, code: ErrorCode, reason: RegExp, id?: string) => {
    await assert.rejects(ctx.callback(query, binding, id), isError(code));
    assert.deepEqual([kinds(ctx.events).at(-1), ctx.events.at(-1)!.event.namespace], ['loginFailed', '/acme']);
    assert.match(ctx.events.at(-1)!.event.content, reason);
  };
  await refusedBefore(`code=the-code&state=${'A'.repeat(43)}`, flow.binding, 'AUTHN_STATE_INVALID', /already used state$/);
  await refusedBefore('code=the-code&state=x', flow.binding, 'AUTHN_STATE_INVALID', /already used state$/);
  await refusedBefore(flow.query, newBinding(), 'AUTHN_STATE_BINDING', /started in another browser$/);

  const stolen = await loggedInFlow(ctx);
  await assert.rejects(ctx.callback(stolen.query, stolen.binding, 'svc-unknown'), isError('AUTHN_STATE_INVALID'));
  assert.match(ctx.events.at(-1)!.event.content, /state belongs to another service$/);

  const denied = await loggedInFlow(ctx);
  await refusedBefore(`error=access_denied%3Cscript%3E&state=${denied.state}`, denied.binding, 'AUTHN_IDP_ERROR', /answered access_deniedscript$/);
  assert.equal(ctx.sessions.length, 0);
  assert.equal(ctx.idp.fetched.filter((u) => u.endsWith('/token')).length, 0, 'no code was exchanged');
});

test('a callback whose ID token fails a check: 401, the reason in the event, no session', async () => {
  const cases: Array<[string, Parameters<typeof loggedInFlow>[1], RegExp]> = [
    ['another nonce', { claims: { nonce: 'replayed-nonce' } }, /unexpected ID Token "nonce" claim value/],
    ['another audience', { claims: { aud: 'other-client' } }, /"aud" \(audience\) claim value/],
    ['another issuer', { claims: { iss: 'https://evil.example.com' } }, /"iss" \(issuer\) claim value/],
    ['a key not in the JWKS', { signWith: await signingKey(key.kid) }, /the ID token has an invalid signature/],
  ];
  for (const [name, answer, reason] of cases) {
    const ctx = setup();
    const { binding, query } = await loggedInFlow(ctx, answer);
    await assert.rejects(ctx.callback(query, binding), isError('AUTHN_TOKEN_INVALID'), name);
    assert.deepEqual(kinds(ctx.events), ['loginFailed'], name);
    assert.match(ctx.events[0]!.event.content, reason, name);
    assert.equal(ctx.sessions.length, 0, name);
  }
});

test('a callback with a tenant not allowed: 401, no session', async () => {
  const ctx = setup({ tenants: ['tenant-a'] });
  const { binding, query } = await loggedInFlow(ctx, { claims: { tid: 'tenant-b' } });
  await assert.rejects(ctx.callback(query, binding), isError('AUTHN_TOKEN_INVALID'));
  assert.match(ctx.events[0]!.event.content, /failed: the token's tenant "tenant-b" is not in OIDCAllowedTenants$/);
  assert.equal(ctx.sessions.length, 0);
});

test('a callback when the token endpoint refuses the code, cannot be reached, or is blocked by a network policy', async () => {
  const cases: Array<[ErrorCode, EventKind, () => Promise<Response>, string]> = [
    ['AUTHN_TOKEN_INVALID', 'loginFailed', async () => jsonResponse({ error: 'invalid_grant' }, 400), 'the provider answered invalid_grant'],
    [
      'AUTHN_DISCOVERY_FAILED',
      'loginFailed',
      () => Promise.reject(new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } })),
      'network error ECONNREFUSED',
    ],
    [
      'AUTHN_NETWORK_DENIED',
      'loginFailedIdpUnreachable',
      () => Promise.reject(new MicrosegError('AUTHN_NETWORK_DENIED', 'blocked by policy allow-app-to-idp')),
      'blocked by policy allow-app-to-idp',
    ],
  ];
  for (const [code, kind, answer, reason] of cases) {
    const ctx = setup();
    const { binding, query } = await loggedInFlow(ctx);
    ctx.idp.token = answer;
    await assert.rejects(ctx.callback(query, binding), isError(code), code);
    assert.deepEqual(kinds(ctx.events), [kind], code);
    assert.ok(ctx.events[0]!.event.content.endsWith(`failed: ${reason}`), ctx.events[0]!.event.content);
    assert.equal(ctx.sessions.length, 0);
  }
});
