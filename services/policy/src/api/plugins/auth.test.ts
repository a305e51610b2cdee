// Unit (fakes, app.inject()): the authentication plugin — one bearer token in one Authorization header, the
// per-address limiter that answers 429 without looking at the token, X-Namespace — and requireAccess.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import { registerErrorHandling } from '@microseg/runtime';
import { AuthFailureLimiter } from '../auth-failures.ts';
import { fakeTokens, principals } from '../../testing/api-fakes.ts';
import { authentication, callerOf, requireAccess, type Action } from './auth.ts';

async function app(limiter = new AuthFailureLimiter({ burst: 1_000, perMinute: 1_000 })) {
  const http = Fastify();
  registerErrorHandling(http);
  http.get('/healthz', async () => ({ status: 'ok' }));
  await http.register(async (api) => {
    await api.register(authentication, { tokens: fakeTokens(principals), authFailures: limiter });
    api.get('/who', async (req) => ({ ...callerOf(req) }));
    api.get('/may/:action', async (req) => ({
      namespace: requireAccess(req, (req.params as { action: Action }).action, { namespace: (req.query as { ns?: string }).ns }).namespace,
    }));
  });
  return http;
}

const get = async (http: Awaited<ReturnType<typeof app>>, url: string, headers: Record<string, string | string[]> = {}, remoteAddress = '10.0.0.1') => {
  const res = await http.inject({ method: 'GET', url, headers, remoteAddress });
  return { status: res.statusCode, body: res.json(), headers: res.headers };
};

test('a known token in one Authorization header: the caller and the namespace (its own by default, or X-Namespace)', async () => {
  const http = await app();
  assert.deepEqual((await get(http, '/who', { authorization: 'Bearer acmeEditor' })).body, { principal: principals.acmeEditor, namespace: '/acme' });
  assert.equal((await get(http, '/who', { authorization: 'bearer   acmeEditor', 'x-namespace': '/acme/dev' })).body.namespace, '/acme/dev');
});

test('no token, an unknown one, another scheme or two headers: 401 UNAUTHENTICATED', async () => {
  const http = await app();
  const cases: Array<[Record<string, string | string[]>, RegExp]> = [
    [{}, /a valid API token is required/],
    [{ authorization: 'Bearer nobody' }, /a valid API token is required/],
    [{ authorization: 'Basic acmeEditor' }, /a valid API token is required/],
    [{ authorization: 'Bearer acmeEditor extra' }, /a valid API token is required/],
    [{ authorization: ['Bearer acmeEditor', 'Bearer acmeEditor'] }, /send one Authorization header, not several/],
  ];
  for (const [headers, message] of cases) {
    const res = await get(http, '/who', headers);
    assert.deepEqual([res.status, res.body.code], [401, 'UNAUTHENTICATED'], JSON.stringify(headers));
    assert.match(res.body.message, message);
  }
});

test('a bad X-Namespace is a 400 once the token is known', async () => {
  const http = await app();
  const res = await get(http, '/who', { authorization: 'Bearer acmeEditor', 'x-namespace': '/acme/../other' });
  assert.deepEqual(
    [res.status, res.body.code, res.body.message],
    [400, 'BAD_REQUEST', 'X-Namespace must be a namespace path such as /acme/team-b, not "/acme/../other"'],
  );
});

test('past the failures an address may make: 429 with Retry-After, even with a good token; other addresses and the health probe are not affected', async () => {
  const http = await app(new AuthFailureLimiter({ burst: 2, perMinute: 6 }));
  for (let i = 0; i < 2; i++) assert.equal((await get(http, '/who', { authorization: 'Bearer wrong' }, '10.0.0.66')).status, 401);
  const limited = await get(http, '/who', { authorization: 'Bearer rootAdmin' }, '10.0.0.66');
  assert.deepEqual([limited.status, limited.body.code], [429, 'RATE_LIMITED']);
  assert.equal(limited.headers['retry-after'], '10');
  assert.equal((await get(http, '/who', { authorization: 'Bearer rootAdmin' }, '10.0.0.67')).status, 200);
  assert.equal((await get(http, '/healthz', {}, '10.0.0.66')).status, 200);
});

test('requireAccess: inside the token subtree and with a role that allows the action; 403 naming why', async () => {
  const http = await app();
  const cases: Array<[token: string, action: Action, ns: string | undefined, status: number, message?: RegExp]> = [
    ['acmeViewer', 'read', undefined, 200],
    ['acmeViewer', 'write', undefined, 403, /the token acme-viewer has the role viewer, which cannot change objects$/],
    ['acmeEditor', 'write', '/acme/dev', 200],
    ['acmeEditor', 'admin', undefined, 403, /which cannot manage tokens$/],
    ['acmeAdmin', 'admin', '/acme/x', 200],
    ['acmeAdmin', 'read', '/acmeco', 403, /^the token acme-admin is limited to \/acme and cannot act on \/acmeco$/],
    ['rootAdmin', 'admin', '/anything', 200],
  ];
  for (const [token, action, ns, status, message] of cases) {
    const res = await get(http, `/may/${action}${ns ? `?ns=${ns}` : ''}`, { authorization: `Bearer ${token}` });
    assert.equal(res.status, status, `${token} ${action} ${ns}`);
    if (message) assert.match(res.body.message, message);
  }
});

test('a route outside the plugin scope has no caller: callerOf fails closed', () => {
  assert.throws(
    () => callerOf({} as never),
    (err: Error & { code?: string }) => err.code === 'UNAUTHENTICATED',
  );
});
