// Session: the user from the cookie's ticket or a bearer token, through the session cache; authn unable to
// tell is "unknown" (never "no session"), and an invalid bearer token is a 401 at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { create } from '@bufbuild/protobuf';
import { BearerVerifyResponseSchema, SessionLookupResponseSchema } from '@microseg/proto/authn';
import type { AuthnClient } from '../clients/authn.ts';
import { bearerToken, resolveSession, subjectOf } from './session.ts';
import { contextFor, FakeResponse, fakeDeps, fakeRequest, route, unavailableError } from './testing/fakes.ts';

const JWT = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln';
const later = () => BigInt(Date.now() + 60_000);
/** When the sessions of these answers end (kept with the session: an open WebSocket closes then). */
const END = BigInt(Date.now() + 3_600_000);
const found = (sessionId = 's-1') =>
  create(SessionLookupResponseSchema, {
    found: true,
    sessionId,
    subject: 'sub-1',
    tags: ['email=alice@example.com', 'group=dev'],
    cacheUntilMs: later(),
    expiresAtMs: END,
  });
const valid = () => create(BearerVerifyResponseSchema, { valid: true, subject: 'client-1', tags: ['scope=read'], expiresAtMs: END });

function run(authn: Partial<AuthnClient>, headers: Record<string, string>, init: { bearer?: boolean; oidc?: boolean; passAccessToken?: boolean } = {}) {
  const deps = fakeDeps({ authn });
  const res = new FakeResponse();
  const svc = route({
    authorizationType: init.oidc === false ? '' : 'OIDC',
    acceptBearerTokens: init.bearer ?? false,
    passAccessToken: init.passAccessToken ?? false,
  });
  const ctx = contextFor(fakeRequest({ headers: { accept: 'application/json', ...headers } }), res, { route: svc });
  return { deps, res, ctx, done: resolveSession(deps, ctx) };
}

test('session: a ticket authn knows → the user (named by the email claim), asked once, then from the cache', async () => {
  const first = run({ lookupSession: async () => found() }, { cookie: '__Host-microseg=t1' });
  assert.equal(await first.done, false);
  assert.deepEqual(first.ctx.session, {
    sessionId: 's-1',
    subject: 'alice@example.com',
    tags: ['email=alice@example.com', 'group=dev'],
    expiresAtMs: Number(END),
  });
  assert.deepEqual(first.deps.authn.calls, [{ method: 'lookupSession', args: ['svc-1', 't1', false] }]);
  const again = contextFor(fakeRequest({ headers: { cookie: '__Host-microseg=t1' } }), new FakeResponse(), { route: first.ctx.route });
  assert.equal(await resolveSession(first.deps, again), false);
  assert.equal(again.session?.subject, 'alice@example.com');
  // The very same object: what is kept with it (the identity assertion) is kept for every request of the session.
  assert.equal(again.session, first.ctx.session);
  assert.equal(first.deps.authn.calls.length, 1, 'the second request asked authn nothing');
});

test("session: a service's ticket is looked up anew for another service (the cache key holds the service)", async () => {
  const { deps, done } = run({ lookupSession: async () => found() }, { cookie: '__Host-microseg=t1' });
  await done;
  const otherCtx = contextFor(fakeRequest({ headers: { cookie: '__Host-microseg=t1' } }), new FakeResponse(), {
    route: route({ id: 'svc-2', authorizationType: 'OIDC' }),
  });
  await resolveSession(deps, otherCtx);
  assert.deepEqual(
    deps.authn.calls.map((c) => c.args[0]),
    ['svc-1', 'svc-2'],
  );
});

const noLookup: Array<{ name: string; headers: Record<string, string>; init?: { bearer?: boolean; oidc?: boolean } }> = [
  { name: 'no credential', headers: {} },
  { name: 'the session cookie sent twice (ambiguous)', headers: { cookie: '__Host-microseg=t1; __Host-microseg=t2' } },
  { name: 'the cookie without its __Host- prefix', headers: { cookie: 'microseg=t1' } },
  { name: 'a service without OIDC', headers: { cookie: '__Host-microseg=t1' }, init: { oidc: false } },
  { name: 'a bearer token where the service takes none', headers: { authorization: `Bearer ${JWT}` } },
  { name: 'a bearer "token" that is no JWT', headers: { authorization: 'Bearer abc' }, init: { bearer: true } },
];
for (const { name, headers, init } of noLookup) {
  test(`session: ${name} → no user, authn not asked, the request goes on`, async () => {
    const { deps, ctx, res, done } = run({}, headers, init);
    assert.equal(await done, false);
    assert.equal(ctx.session, undefined);
    assert.equal(ctx.sessionUnknown, false);
    assert.equal(res.headersSent, false);
    assert.deepEqual(deps.authn.calls, []);
  });
}

test('session: a ticket authn does not know → no user, not refused here (the decision sends to sign in)', async () => {
  const { ctx, res, done } = run({ lookupSession: async () => create(SessionLookupResponseSchema, { found: false }) }, { cookie: '__Host-microseg=gone' });
  assert.equal(await done, false);
  assert.equal(ctx.session, undefined);
  assert.equal(ctx.sessionUnknown, false);
  assert.equal(res.headersSent, false);
});

for (const answered of [false, true]) {
  test(`session: authn unable to tell (${answered ? 'it answered with an error: Redis away' : 'no answer'}) → unknown, never "no session"`, async () => {
    const { ctx, res, done } = run({ lookupSession: () => Promise.reject(unavailableError('authn', answered)) }, { cookie: '__Host-microseg=t1' });
    assert.equal(await done, false);
    assert.equal(ctx.session, undefined);
    assert.equal(ctx.sessionUnknown, true);
    assert.equal(res.headersSent, false);
  });
}

test('session: anything else thrown is not taken for "unknown" (the runner answers 500)', async () => {
  const { done } = run({ lookupSession: () => Promise.reject(new TypeError('bug')) }, { cookie: '__Host-microseg=t1' });
  await assert.rejects(async () => done, TypeError);
});

test('session: a valid bearer token → the client as user; the cookie wins when both are sent', async () => {
  const bearer = run({ verifyBearer: async () => valid() }, { authorization: `Bearer ${JWT}` }, { bearer: true });
  assert.equal(await bearer.done, false);
  assert.deepEqual(bearer.ctx.session, { sessionId: 'bearer-answers', subject: 'client-1', tags: ['scope=read'], expiresAtMs: Number(END) });
  assert.deepEqual(bearer.deps.authn.calls, [{ method: 'verifyBearer', args: ['svc-1', JWT] }]);
  const both = run({ lookupSession: async () => found() }, { cookie: '__Host-microseg=t1', authorization: `Bearer ${JWT}` }, { bearer: true });
  await both.done;
  assert.deepEqual(
    both.deps.authn.calls.map((c) => c.method),
    ['lookupSession'],
  );
});

test('session: an invalid bearer token → 401 with WWW-Authenticate invalid_token and a flow "token"', async () => {
  const { deps, res, done } = run(
    { verifyBearer: async () => create(BearerVerifyResponseSchema, { valid: false }) },
    { authorization: `Bearer ${JWT}` },
    { bearer: true },
  );
  assert.equal(await done, true);
  assert.equal(res.statusCode, 401);
  assert.equal(res.json().code, 'GATEWAY_UNAUTHENTICATED');
  assert.equal(res.headers['www-authenticate'], 'Bearer error="invalid_token"');
  assert.deepEqual(
    deps.flows.recorded.map((f) => [f.dropReason, f.statusCode]),
    [['token', 401]],
  );
});

for (const answered of [false, true]) {
  test(`session: a bearer check authn cannot make (${answered ? 'Redis away' : 'no answer'}) → unknown (the decision answers 503), not 401`, async () => {
    const { ctx, res, done } = run(
      { verifyBearer: () => Promise.reject(unavailableError('authn', answered)) },
      { authorization: `Bearer ${JWT}` },
      { bearer: true },
    );
    assert.equal(await done, false);
    assert.equal(ctx.sessionUnknown, true);
    assert.equal(res.headersSent, false);
  });
}

test('session: a bearer answer is kept at most 10 s, or until the token expires', async () => {
  const soon = create(BearerVerifyResponseSchema, { valid: true, subject: 'c', tags: [], expiresAtMs: BigInt(Date.now() - 1) });
  const { deps, done } = run({ verifyBearer: async () => soon }, { authorization: `Bearer ${JWT}` }, { bearer: true });
  await done;
  await resolveSession(
    deps,
    contextFor(fakeRequest({ headers: { authorization: `Bearer ${JWT}` } }), new FakeResponse(), {
      route: route({ authorizationType: 'OIDC', acceptBearerTokens: true }),
    }),
  );
  assert.equal(deps.authn.calls.length, 2, 'an expired token is verified again');
});

const bearers: Array<[header: string | undefined, token: string]> = [
  [`Bearer ${JWT}`, JWT],
  [`bearer   ${JWT}`, JWT],
  [`BEARER ${JWT}`, JWT],
  [`Bearer ${JWT} extra`, ''],
  [`Bearer ${JWT}.more`, ''],
  ['Bearer abc', ''],
  [`Basic ${JWT}`, ''],
  [`Bearer\t${JWT}`, ''],
  ['', ''],
  [undefined, ''],
];
for (const [header, token] of bearers) {
  test(`bearerToken: ${JSON.stringify(header)} → ${token ? 'the token' : 'none'}`, () => assert.equal(bearerToken(header), token));
}

test('session: a service with passAccessToken asks for the access token and keeps it with the session (cached apart from answers without it)', async () => {
  const withToken = () => create(SessionLookupResponseSchema, { ...found(), accessToken: 'at-1' });
  const pass = run({ lookupSession: async () => withToken() }, { cookie: '__Host-microseg=t1' }, { passAccessToken: true });
  await pass.done;
  assert.deepEqual(pass.deps.authn.calls, [{ method: 'lookupSession', args: ['svc-1', 't1', true] }]);
  assert.equal(pass.ctx.session?.accessToken, 'at-1');
  // The same ticket at the same service without passAccessToken (the service changed): another answer, no token.
  const plain = contextFor(fakeRequest({ headers: { cookie: '__Host-microseg=t1' } }), new FakeResponse(), { route: route({ authorizationType: 'OIDC' }) });
  await resolveSession({ ...pass.deps, authn: { ...pass.deps.authn, lookupSession: async () => found() } }, plain);
  assert.equal(plain.session?.accessToken, undefined);
  // A token authn answers to a service that did not ask is not kept.
  const unasked = run({ lookupSession: async () => withToken() }, { cookie: '__Host-microseg=t2' });
  await unasked.done;
  assert.equal(unasked.ctx.session?.accessToken, undefined);
  // A bearer token is the access token itself: kept for such a service only.
  const bearer = run({ verifyBearer: async () => valid() }, { authorization: `Bearer ${JWT}` }, { bearer: true, passAccessToken: true });
  await bearer.done;
  assert.equal(bearer.ctx.session?.accessToken, JWT);
});

test('subjectOf: the email claim when there is one, else the subject', () => {
  assert.equal(subjectOf(['group=a', 'email=bob@example.com'], 'sub-1'), 'bob@example.com');
  assert.equal(subjectOf(['group=a'], 'sub-1'), 'sub-1');
});
