// The gateway's own endpoints are matched by exact (normalised) path; everything else passes on untouched.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { contextFor, FakeResponse, fakeDeps, fakeRequest, unavailableError } from '../testing/fakes.ts';
import { ownEndpoints } from './index.ts';

const cases: Array<{ path: string; answeredWith?: number }> = [
  // A GET, answered by each module its own way: the callback asks authn (away here: 503), the logout shows
  // its page, the back-channel logout wants a POST.
  { path: '/aporeto/oidc/callback', answeredWith: 503 },
  { path: '/aporeto/oidc/logout', answeredWith: 200 },
  { path: '/aporeto/oidc/backchannel-logout', answeredWith: 400 },
  // The assertion key set: public, answered without asking anyone.
  { path: '/.well-known/microseg/jwks.json', answeredWith: 200 },
  { path: '/.well-known/microseg/jwks.json/' },
  { path: '/.well-known/microseg' },
  { path: '/aporeto/oidc/callback/' },
  { path: '/aporeto/oidc/callbackx' },
  { path: '/APORETO/oidc/logout' },
  { path: '/app/aporeto/oidc/logout' },
  { path: '/aporeto/oidc' },
  { path: '/' },
];

for (const { path, answeredWith } of cases) {
  test(`endpoints: ${path} → ${answeredWith ? 'answered here' : 'passes on'}`, async () => {
    const deps = fakeDeps({ authn: { completeLogin: () => Promise.reject(unavailableError('authn')) } });
    const res = new FakeResponse();
    const done = await ownEndpoints(deps, contextFor(fakeRequest({ url: path }), res, { path }));
    assert.equal(done, Boolean(answeredWith));
    if (answeredWith) assert.equal(res.statusCode, answeredWith);
    else {
      assert.equal(res.headersSent, false);
      assert.deepEqual(deps.authn.calls, []);
    }
  });
}
