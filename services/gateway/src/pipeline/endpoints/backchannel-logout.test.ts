// Back-channel logout: the IdP POSTs a logout token; authn's refusal is §2.8's 400 OAuth body, authn away a
// 503 (the IdP may retry), a body past the bound a 400 without asking authn.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MicrosegError } from '@microseg/errors';
import type { AuthnClient } from '../../clients/authn.ts';
import { contextFor, FakeResponse, fakeDeps, fakeRequest, unavailableError } from '../testing/fakes.ts';
import { backchannelLogout, MAX_LOGOUT_BODY } from './backchannel-logout.ts';

function call(authn: Partial<AuthnClient>, init: { method?: string; body?: string } = {}) {
  const deps = fakeDeps({ authn });
  const res = new FakeResponse();
  const req = fakeRequest({
    method: init.method ?? 'POST',
    url: '/aporeto/oidc/backchannel-logout',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: init.body ?? 'logout_token=h.p.s',
  });
  return { deps, res, done: backchannelLogout(deps, contextFor(req, res, { path: '/aporeto/oidc/backchannel-logout' })) };
}

test('back-channel logout: the token goes to authn; 200, not cached', async () => {
  const { deps, res, done } = call({ backchannelLogout: async () => undefined }, { body: 'logout_token=h.p.s&other=1' });
  assert.equal(await done, true);
  assert.deepEqual(deps.authn.calls, [{ method: 'backchannelLogout', args: ['svc-1', 'h.p.s'] }]);
  assert.equal(res.statusCode, 200);
  assert.equal(res.headers['cache-control'], 'no-store');
});

test('back-channel logout: no token in the body → authn is asked with none (and refuses)', async () => {
  const { deps, done } = call({ backchannelLogout: () => Promise.reject(new MicrosegError('AUTHN_TOKEN_INVALID', 'no logout token')) }, { body: 'x=1' });
  await done;
  assert.deepEqual(deps.authn.calls[0]?.args, ['svc-1', '']);
});

test('back-channel logout: authn refuses the token → 400 {error: invalid_request, error_description}', async () => {
  const { res, done } = call({ backchannelLogout: () => Promise.reject(new MicrosegError('AUTHN_TOKEN_INVALID', 'the token has no events claim')) });
  await done;
  assert.equal(res.statusCode, 400);
  assert.deepEqual(JSON.parse(res.body), { error: 'invalid_request', error_description: 'the token has no events claim' });
});

for (const answered of [false, true]) {
  test(`back-channel logout: authn ${answered ? 'impaired (a 5xx answer: its message stays inside)' : 'away'} → 503`, async () => {
    const { res, done } = call({ backchannelLogout: () => Promise.reject(unavailableError('authn', answered)) });
    await done;
    assert.equal(res.statusCode, 503);
    assert.doesNotMatch(res.body, /svc\.authn/);
  });
}

test('back-channel logout: a body over the bound → 400, authn not asked', async () => {
  const { deps, res, done } = call({}, { body: `logout_token=${'a'.repeat(MAX_LOGOUT_BODY)}` });
  assert.equal(await done, true);
  assert.equal(res.statusCode, 400);
  assert.match(res.body, /too large/);
  assert.deepEqual(deps.authn.calls, []);
});

test('back-channel logout: GET → 400, authn not asked', async () => {
  const { deps, res, done } = call({}, { method: 'GET', body: '' });
  await done;
  assert.equal(res.statusCode, 400);
  assert.deepEqual(deps.authn.calls, []);
});
