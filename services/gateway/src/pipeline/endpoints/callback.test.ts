// The login callback: GET only; authn's answer becomes the session cookie and a redirect to a local path;
// its refusal a page that says no session was made; authn away the one 503.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { create } from '@bufbuild/protobuf';
import { MicrosegError } from '@microseg/errors';
import { LoginCallbackResponseSchema } from '@microseg/proto/authn';
import type { AuthnClient } from '../../clients/authn.ts';
import { CLIENT_IP, contextFor, FakeResponse, fakeDeps, fakeRequest, unavailableError } from '../testing/fakes.ts';
import { completeLogin, localPath } from './callback.ts';

const signedIn = (returnTo = '/docs?page=2') =>
  create(LoginCallbackResponseSchema, { ticket: 'id.secret', maxAgeSeconds: 3600, returnTo, subject: 'alice@example.com' });

function call(authn: Partial<AuthnClient>, method = 'GET') {
  const deps = fakeDeps({ authn });
  const res = new FakeResponse();
  const ctx = contextFor(
    fakeRequest({ method, url: '/aporeto/oidc/callback?code=c&state=s', headers: { accept: 'text/html', cookie: '__Host-microseg-login=bind-1' } }),
    res,
    {
      path: '/aporeto/oidc/callback',
      query: 'code=c&state=s',
    },
  );
  return { deps, res, done: completeLogin(deps, ctx) };
}

test('callback: authn exchanges the code (with the query, the login binding, the address and the request id); the browser gets its session cookie and goes back', async () => {
  const { deps, res, done } = call({ completeLogin: async () => signedIn() });
  assert.equal(await done, true);
  assert.deepEqual(deps.authn.calls[0]?.args[0], { serviceId: 'svc-1', query: 'code=c&state=s', binding: 'bind-1', clientIp: CLIENT_IP, requestId: 'req-1' });
  assert.equal(res.statusCode, 302);
  assert.equal(res.headers.location, '/docs?page=2');
  assert.equal(res.headers['set-cookie'], '__Host-microseg=id.secret; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=3600');
  assert.deepEqual(
    deps.flows.recorded.map((f) => [f.accepted, f.dropReason, f.statusCode, f.user, f.method]),
    [[true, '', 302, 'alice@example.com', 'GET']],
  );
});

for (const method of ['POST', 'HEAD', 'PUT']) {
  test(`callback: ${method} → 400, authn not asked`, async () => {
    const { deps, res, done } = call({}, method);
    assert.equal(await done, true);
    assert.equal(res.statusCode, 400);
    assert.deepEqual(deps.authn.calls, []);
    assert.deepEqual(
      deps.flows.recorded.map((f) => f.dropReason),
      ['invalid'],
    );
  });
}

const refusals: Array<{ name: string; error: Error; status: number; code: string; shows: RegExp }> = [
  { name: 'state unknown or used', error: new MicrosegError('AUTHN_STATE_INVALID'), status: 400, code: 'AUTHN_STATE_INVALID', shows: /already used/ },
  { name: 'another browser', error: new MicrosegError('AUTHN_STATE_BINDING'), status: 400, code: 'AUTHN_STATE_BINDING', shows: /another browser/ },
  {
    name: 'a token that fails validation',
    error: new MicrosegError('AUTHN_TOKEN_INVALID', 'nonce mismatch'),
    status: 401,
    code: 'AUTHN_TOKEN_INVALID',
    shows: /nonce mismatch/,
  },
  {
    name: 'the IdP cannot be reached',
    error: new MicrosegError('AUTHN_DISCOVERY_FAILED', 'token endpoint timed out'),
    status: 502,
    code: 'AUTHN_DISCOVERY_FAILED',
    shows: /could not be reached or its discovery document is invalid/,
  },
];
for (const { name, error, status, code, shows } of refusals) {
  test(`callback: authn refuses (${name}) → ${status} ${code}, no cookie, "no session was created"`, async () => {
    const { deps, res, done } = call({ completeLogin: () => Promise.reject(error) });
    assert.equal(await done, true);
    assert.equal(res.statusCode, status);
    assert.match(res.body, new RegExp(`<code>${code}</code>`));
    assert.match(res.body, shows);
    assert.match(res.body, /No session was created/);
    assert.equal(res.headers['set-cookie'], undefined);
    assert.deepEqual(
      deps.flows.recorded.map((f) => f.dropReason),
      ['token'],
    );
  });
}

for (const answered of [false, true]) {
  test(`callback: authn ${answered ? 'impaired (a 5xx answer)' : 'away'} → 503, no cookie`, async () => {
    const { res, done } = call({ completeLogin: () => Promise.reject(unavailableError('authn', answered)) });
    assert.equal(await done, true);
    assert.equal(res.statusCode, 503);
    assert.match(res.body, /GATEWAY_DECISION_UNAVAILABLE/);
    assert.equal(res.headers['set-cookie'], undefined);
  });
}

const returnTos: Array<[string, string]> = [
  ['/docs', '/docs'],
  ['/a?b=c', '/a?b=c'],
  ['//evil.example.com/x', '/'],
  ['https://evil.example.com/', '/'],
  ['evil', '/'],
  ['', '/'],
];
for (const [returnTo, location] of returnTos) {
  test(`callback: returnTo ${JSON.stringify(returnTo)} → ${location}`, () => assert.equal(localPath(returnTo), location));
}
