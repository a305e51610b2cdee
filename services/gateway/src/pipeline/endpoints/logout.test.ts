// Logout: GET shows a page and changes nothing; only a same-origin POST logs out, and then the cookies go
// and the gateway forgets the session at once; authn away keeps things as they are and says 503.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { create } from '@bufbuild/protobuf';
import { MicrosegError } from '@microseg/errors';
import { LogoutResponseSchema, SessionLookupResponseSchema } from '@microseg/proto/authn';
import type { AuthnClient } from '../../clients/authn.ts';
import { resolveSession } from '../session.ts';
import { CLIENT_IP, contextFor, FakeResponse, fakeDeps, fakeRequest, HOST, unavailableError, type FakeDeps } from '../testing/fakes.ts';
import { logout } from './logout.ts';

const sameOrigin = { 'sec-fetch-site': 'same-origin', cookie: '__Host-microseg=t1' };

function call(method: string, headers: Record<string, string>, authn: Partial<AuthnClient> = {}, deps: FakeDeps = fakeDeps({ authn })) {
  const res = new FakeResponse();
  const ctx = contextFor(fakeRequest({ method, url: '/aporeto/oidc/logout', headers: { accept: 'text/html', ...headers } }), res, {
    path: '/aporeto/oidc/logout',
  });
  return { deps, res, done: logout(deps, ctx) };
}

test('logout: GET shows the confirmation page (its form POSTs here), sets no cookie, asks authn nothing', async () => {
  const { deps, res, done } = call('GET', { cookie: '__Host-microseg=t1', 'sec-fetch-site': 'cross-site' });
  assert.equal(await done, true);
  assert.equal(res.statusCode, 200);
  assert.match(res.body, /<form method="post" action="\/aporeto\/oidc\/logout">/);
  assert.match(String(res.headers['content-security-policy']), /frame-ancestors 'none'/);
  assert.equal(res.headers['set-cookie'], undefined);
  assert.deepEqual(deps.authn.calls, []);
});

test('logout: HEAD, the same without a body', async () => {
  const { res, done } = call('HEAD', {});
  await done;
  assert.equal(res.statusCode, 200);
  assert.equal(res.body, '');
});

test('logout: another method → 400', async () => {
  const { deps, res, done } = call('DELETE', sameOrigin);
  await done;
  assert.equal(res.statusCode, 400);
  assert.deepEqual(deps.authn.calls, []);
});

const crossOrigin: Array<[string, Record<string, string>]> = [
  ['another site', { 'sec-fetch-site': 'cross-site' }],
  ['the same site, another origin', { 'sec-fetch-site': 'same-site' }],
  ['no Fetch Metadata, another origin', { origin: 'https://evil.example.com' }],
  ['no Fetch Metadata, another port of this host', { origin: `https://${HOST}:8443` }],
  ['neither Fetch Metadata nor Origin', {}],
];
for (const [name, headers] of crossOrigin) {
  test(`logout: POST from ${name} → 403 GATEWAY_CROSS_ORIGIN_REQUEST, nothing changes`, async () => {
    const { deps, res, done } = call('POST', { cookie: '__Host-microseg=t1', ...headers });
    assert.equal(await done, true);
    assert.equal(res.statusCode, 403);
    assert.match(res.body, /GATEWAY_CROSS_ORIGIN_REQUEST/);
    assert.equal(res.headers['set-cookie'], undefined);
    assert.deepEqual(deps.authn.calls, []);
  });
}

/** A gateway that has the session of `t1` in its cache, as after a request. */
async function withCachedSession(authn: Partial<AuthnClient>): Promise<FakeDeps> {
  let lookups = 0;
  const deps = fakeDeps({
    authn: {
      ...authn,
      lookupSession: async () =>
        create(SessionLookupResponseSchema, {
          found: ++lookups === 1,
          sessionId: 's-1',
          subject: 'alice',
          tags: [],
          cacheUntilMs: BigInt(Date.now() + 60_000),
        }),
    },
  });
  await resolveSession(deps, contextFor(fakeRequest({ headers: { cookie: '__Host-microseg=t1' } }), new FakeResponse()));
  return deps;
}

async function stillCached(deps: FakeDeps): Promise<boolean> {
  const ctx = contextFor(fakeRequest({ headers: { cookie: '__Host-microseg=t1' } }), new FakeResponse());
  await resolveSession(deps, ctx);
  return ctx.session !== undefined;
}

const cleared = [
  '__Host-microseg=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0',
  '__Host-microseg-login=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0',
];

test("logout: a same-origin POST ends the session at authn, clears both cookies, forgets the cached session and goes to the IdP's end-session URL", async () => {
  const deps = await withCachedSession({ logout: async () => create(LogoutResponseSchema, { redirectUrl: 'https://idp.example.com/logout?id_token_hint=x' }) });
  const { res, done } = call('POST', sameOrigin, {}, deps);
  assert.equal(await done, true);
  assert.deepEqual(
    deps.authn.calls.filter((c) => c.method === 'logout').map((c) => c.args[0]),
    [{ serviceId: 'svc-1', ticket: 't1', clientIp: CLIENT_IP }],
  );
  assert.equal(res.statusCode, 302);
  assert.equal(res.headers.location, 'https://idp.example.com/logout?id_token_hint=x');
  assert.deepEqual(res.headers['set-cookie'], cleared);
  assert.equal(await stillCached(deps), false, 'the next request asks authn again');
});

test('logout: a same-origin POST with Origin only (no Fetch Metadata) counts', async () => {
  const { res, done } = call('POST', { origin: `https://${HOST}`, cookie: '__Host-microseg=t1' }, { logout: async () => create(LogoutResponseSchema, {}) });
  await done;
  assert.equal(res.statusCode, 302);
  assert.equal(res.headers.location, '/', 'no end-session URL: back to the application');
});

test('logout: authn refuses (an unknown session) → the cookies go all the same, back to /', async () => {
  const deps = await withCachedSession({ logout: () => Promise.reject(new MicrosegError('AUTHN_SESSION_NOT_FOUND')) });
  const { res, done } = call('POST', sameOrigin, {}, deps);
  await done;
  assert.equal(res.statusCode, 302);
  assert.equal(res.headers.location, '/');
  assert.deepEqual(res.headers['set-cookie'], cleared);
  assert.equal(await stillCached(deps), false);
});

for (const answered of [false, true]) {
  test(`logout: authn ${answered ? 'impaired (a 5xx answer)' : 'away'} → 503; the cookie and the cached session stay (the session may still be live)`, async () => {
    const deps = await withCachedSession({ logout: () => Promise.reject(unavailableError('authn', answered)) });
    const { res, done } = call('POST', sameOrigin, {}, deps);
    await done;
    assert.equal(res.statusCode, 503);
    assert.equal(res.headers['set-cookie'], undefined);
    assert.equal(await stillCached(deps), true);
    assert.deepEqual(
      deps.flows.recorded.map((f) => f.dropReason),
      ['unavailable'],
    );
  });
}
