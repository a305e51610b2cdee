// Target: the one normaliser decides the path that is matched and forwarded; what it refuses is a 400 whose
// flow does not show the raw target.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normaliseTarget } from './target.ts';
import { contextFor, FakeResponse, fakeDeps, fakeRequest } from './testing/fakes.ts';

const normalised: Array<[target: string, path: string, query: string]> = [
  ['/', '/', ''],
  ['/a/b?x=1&y=2', '/a/b', 'x=1&y=2'],
  ['/a//b/./c/../d', '/a/b/d', ''],
  ['/%7Euser/%61', '/~user/a', ''],
  ['/a%2a', '/a%2A', ''],
];

for (const [target, path, query] of normalised) {
  test(`target: ${target} → ${path}${query ? `?${query}` : ''}`, () => {
    const ctx = contextFor(fakeRequest({ url: target }), new FakeResponse(), { path: '(unparsed)' });
    assert.equal(normaliseTarget(fakeDeps(), ctx), false);
    assert.equal(ctx.path, path);
    assert.equal(ctx.query, query);
  });
}

const refused = ['/a%2Fb', '/a%5Cb', '/a%00', '/../etc/passwd', '/a;jsessionid=1', '/a%3Bb', '/%C0%AE%C0%AE/', '/%FF', '/．．／x', 'http://evil.example.com/'];

for (const target of refused) {
  test(`target: ${target} → 400, nothing of it in the flow`, () => {
    const deps = fakeDeps();
    const res = new FakeResponse();
    const ctx = contextFor(fakeRequest({ url: target, headers: { accept: 'application/json' } }), res, { path: '(unparsed)' });
    assert.equal(normaliseTarget(deps, ctx), true);
    assert.equal(res.statusCode, 400);
    assert.equal(res.json().code, 'GATEWAY_BAD_REQUEST');
    assert.match(res.json().message, /^The request target is ambiguous: /);
    assert.deepEqual(
      deps.flows.recorded.map((f) => [f.dropReason, f.path]),
      [['invalid', '(unparsed)']],
    );
  });
}
