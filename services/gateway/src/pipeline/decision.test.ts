// Decision: the cache first (renewed in the background), policy on a miss, the last good decision while
// policy is away (within the grace period), and what each verdict becomes: pass on, sign in, 401, 403, a
// redirect on failure, 503.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { create } from '@bufbuild/protobuf';
import { MicrosegError } from '@microseg/errors';
import { LoginStartResponseSchema } from '@microseg/proto/authn';
import { Decision, type DecideResponse } from '@microseg/proto/policy';
import type { AuthnClient } from '../clients/authn.ts';
import type { PolicyClient } from '../clients/policy.ts';
import { DecisionCache } from '../decision-cache.ts';
import type { RequestContext } from './context.ts';
import { decide } from './decision.ts';
import { CLIENT_IP, contextFor, FakeResponse, fakeDeps, fakeRequest, route, unavailableError, verdict, type FakeDeps } from './testing/fakes.ts';

const html = { accept: 'text/html' };
const json = { accept: 'application/json' };
const alice = { subject: 'alice@example.com', tags: ['email=alice@example.com', 'group=dev'] };

interface Setup {
  policy?: Partial<PolicyClient>;
  authn?: Partial<AuthnClient>;
  decisions?: DecisionCache;
  headers?: Record<string, string>;
  method?: string;
  ctx?: Partial<RequestContext>;
}

function setup(s: Setup): { deps: FakeDeps; res: FakeResponse; ctx: RequestContext } {
  const deps = fakeDeps({ policy: s.policy, authn: s.authn, decisions: s.decisions });
  const res = new FakeResponse();
  const ctx = contextFor(fakeRequest({ method: s.method ?? 'GET', url: '/docs', headers: s.headers ?? json }), res, { path: '/docs', ...s.ctx });
  return { deps, res, ctx };
}

const answers = (v: DecideResponse) => ({ decide: async () => v });

test('decision: a miss asks policy the whole question; ALLOW passes on and is kept', async () => {
  const { deps, ctx } = setup({ policy: answers(verdict(Decision.ALLOW)), method: 'POST', ctx: { session: alice } });
  assert.equal(await decide(deps, ctx), false);
  assert.equal(ctx.verdict?.decision, Decision.ALLOW);
  assert.deepEqual(deps.policy.calls, [
    { method: 'decide', args: [{ serviceId: 'svc-1', method: 'POST', path: '/docs', authenticated: true, tags: alice.tags, clientIp: CLIENT_IP }] },
  ]);
  const next = contextFor(fakeRequest({ method: 'POST', url: '/docs' }), new FakeResponse(), {
    path: '/docs',
    session: { ...alice, tags: [...alice.tags].reverse() },
  });
  assert.equal(await decide(deps, next), false);
  assert.equal(deps.policy.calls.length, 1, 'the same question (tags in any order) is answered from the cache');
});

test('decision: without a session the question says so, with no tags', async () => {
  const { deps, ctx } = setup({ policy: answers(verdict(Decision.ALLOW)) });
  await decide(deps, ctx);
  assert.deepEqual(deps.policy.calls[0]?.args[0], { serviceId: 'svc-1', method: 'GET', path: '/docs', authenticated: false, tags: [], clientIp: CLIENT_IP });
});

test('decision: a decision made from objects older than a change the gateway knows of is used for its request, not kept', async () => {
  const decisions = new DecisionCache({ capacity: 10, graceMs: 30_000, maxAgeMs: 60_000 });
  decisions.observeRevision(11n);
  const { deps, ctx } = setup({ policy: answers(verdict(Decision.ALLOW, { revision: 10n })), decisions });
  assert.equal(await decide(deps, ctx), false);
  await decide(deps, contextFor(fakeRequest({ url: '/docs' }), new FakeResponse(), { path: '/docs' }));
  assert.equal(deps.policy.calls.length, 2);
});

test('decision: a known decision past half its age answers at once and is renewed once in the background', async () => {
  const decisions = new DecisionCache({ capacity: 10, graceMs: 120_000, maxAgeMs: 60_000 });
  let renewed: (v: DecideResponse) => void = () => undefined;
  const { deps, ctx } = setup({ decisions, policy: { decide: () => new Promise<DecideResponse>((resolve) => (renewed = resolve)) } });
  const key = DecisionCache.key({ serviceId: 'svc-1', method: 'GET', path: '/docs', authenticated: false, tags: [], clientIp: CLIENT_IP });
  decisions.remember(key, verdict(Decision.ALLOW, { policyId: 'old' }), Date.now() - 40_000);
  assert.equal(await decide(deps, ctx), false, 'answered without waiting for policy');
  assert.equal(ctx.verdict?.policyId, 'old');
  await decide(deps, contextFor(fakeRequest({ url: '/docs' }), new FakeResponse(), { path: '/docs' }));
  assert.equal(deps.policy.calls.length, 1, 'one question in flight per key');
  renewed(verdict(Decision.DENY, { policyId: 'new', reason: 'scopes' }));
  await new Promise((r) => setImmediate(r));
  const after = contextFor(fakeRequest({ url: '/docs', headers: json }), new FakeResponse(), { path: '/docs' });
  assert.equal(await decide(deps, after), true);
  assert.equal(after.verdict?.policyId, 'new', 'the renewed decision replaced the old one');
});

test('decision: a background renewal that fails leaves the known decision in place', async () => {
  const decisions = new DecisionCache({ capacity: 10, graceMs: 120_000, maxAgeMs: 60_000 });
  const { deps, ctx } = setup({ decisions, policy: { decide: () => Promise.reject(unavailableError('policy')) } });
  const key = DecisionCache.key({ serviceId: 'svc-1', method: 'GET', path: '/docs', authenticated: false, tags: [], clientIp: CLIENT_IP });
  decisions.remember(key, verdict(Decision.ALLOW), Date.now() - 40_000);
  assert.equal(await decide(deps, ctx), false);
  await new Promise((r) => setImmediate(r));
  assert.equal(decisions.get(key)?.decision, Decision.ALLOW);
  assert.equal(decisions.shouldRefresh(key), true, 'the next request may try again');
});

const policyFailures: Array<{ name: string; graceMs: number; answered: boolean; standing: boolean }> = [
  {
    name: 'policy away, heard from 1 s ago, grace 30 s: the last good decision for the very same request stands',
    graceMs: 30_000,
    answered: false,
    standing: true,
  },
  { name: 'policy away, heard from 1 s ago, grace 0.5 s: 503', graceMs: 500, answered: false, standing: false },
  { name: 'policy answered with an error (a service just removed): no last good decision, 503', graceMs: 30_000, answered: true, standing: false },
];
for (const { name, graceMs, answered, standing } of policyFailures) {
  test(`decision: ${name}`, async () => {
    // maxAgeMs 0: never answered from the cache without asking, so that only the fallback can stand.
    const decisions = new DecisionCache({ capacity: 10, graceMs, maxAgeMs: 0 });
    const { deps, ctx, res } = setup({ decisions, policy: { decide: () => Promise.reject(unavailableError('policy', answered)) } });
    const key = DecisionCache.key({ serviceId: 'svc-1', method: 'GET', path: '/docs', authenticated: false, tags: [], clientIp: CLIENT_IP });
    decisions.remember(key, verdict(Decision.ALLOW, { policyId: 'good' }), Date.now() - 1_000);
    const done = await decide(deps, ctx);
    if (standing) {
      assert.equal(done, false);
      assert.equal(ctx.verdict?.policyId, 'good');
    } else {
      assert.equal(done, true);
      assert.equal(res.statusCode, 503);
      assert.equal(res.json().code, 'GATEWAY_DECISION_UNAVAILABLE');
      assert.deepEqual(
        deps.flows.recorded.map((f) => f.dropReason),
        ['unavailable'],
      );
    }
    // Another request (another path) has no last good decision of its own.
    const other = contextFor(fakeRequest({ url: '/other', headers: json }), new FakeResponse(), { path: '/other' });
    assert.equal(await decide(deps, other), true);
  });
}

test('decision: policy away and nothing decided before for this request: 503 at once', async () => {
  const { deps, ctx, res } = setup({ policy: { decide: () => Promise.reject(unavailableError('policy')) } });
  assert.equal(await decide(deps, ctx), true);
  assert.equal(res.statusCode, 503);
});

test('decision: a bug is not taken for policy being away', async () => {
  const { deps, ctx } = setup({ policy: { decide: () => Promise.reject(new TypeError('bug')) } });
  await assert.rejects(async () => decide(deps, ctx), TypeError);
});

const loginStart = create(LoginStartResponseSchema, { authorizationUrl: 'https://idp.example.com/auth?state=s', binding: 'b-1', bindingMaxAgeSeconds: 600 });

test('decision: LOGIN for a browser navigation → 302 to the IdP with the login cookie; authn told where to come back', async () => {
  const { deps, ctx, res } = setup({
    policy: answers(verdict(Decision.LOGIN)),
    authn: { startLogin: async () => loginStart },
    headers: { ...html, cookie: '__Host-microseg-login=old' },
    ctx: { query: 'page=2' },
  });
  assert.equal(await decide(deps, ctx), true);
  assert.equal(res.statusCode, 302);
  assert.equal(res.headers.location, loginStart.authorizationUrl);
  assert.match(String(res.headers['set-cookie']), /^__Host-microseg-login=b-1; Path=\/; Secure; HttpOnly; SameSite=Lax; Max-Age=600$/);
  assert.deepEqual(deps.authn.calls[0]?.args[0], { serviceId: 'svc-1', returnTo: '/docs?page=2', binding: 'old', clientIp: CLIENT_IP });
  assert.deepEqual(
    deps.flows.recorded.map((f) => [f.accepted, f.dropReason, f.statusCode, f.user, f.policyId]),
    [[false, 'missingtoken', 302, undefined, 'pol-1']],
  );
});

const notNavigations: Array<{ name: string; method: string; headers: Record<string, string> }> = [
  { name: 'an API client', method: 'GET', headers: json },
  { name: 'a POST from a browser (it would be replayed)', method: 'POST', headers: html },
];
for (const { name, method, headers } of notNavigations) {
  test(`decision: LOGIN for ${name} → 401 JSON, nobody sent to sign in`, async () => {
    const { deps, ctx, res } = setup({ policy: answers(verdict(Decision.LOGIN)), method, headers });
    assert.equal(await decide(deps, ctx), true);
    assert.equal(res.statusCode, 401);
    assert.equal(res.headers.location, undefined);
    assert.deepEqual(deps.authn.calls, []);
    assert.deepEqual(
      deps.flows.recorded.map((f) => f.dropReason),
      ['missingtoken'],
    );
  });
}

test('decision: LOGIN while authn could not tell who this is → 503, not a login redirect', async () => {
  const { deps, ctx, res } = setup({ policy: answers(verdict(Decision.LOGIN)), headers: html, ctx: { sessionUnknown: true } });
  assert.equal(await decide(deps, ctx), true);
  assert.equal(res.statusCode, 503);
  assert.deepEqual(deps.authn.calls, []);
});

test('decision: ALLOW while authn could not tell who this is (a public endpoint) passes on', async () => {
  const { deps, ctx } = setup({ policy: answers(verdict(Decision.ALLOW)), ctx: { sessionUnknown: true } });
  assert.equal(await decide(deps, ctx), false);
});

const loginFailures: Array<{ name: string; error: Error; status: number; code: string; retryAfter?: string; message?: RegExp }> = [
  { name: 'authn away or impaired', error: unavailableError('authn'), status: 503, code: 'GATEWAY_DECISION_UNAVAILABLE', retryAfter: '1' },
  {
    name: 'too many starts from this address',
    error: new MicrosegError('AUTHN_LOGIN_RATE_LIMITED', 'Wait a while.', { retryAfterSeconds: 42 }),
    status: 429,
    code: 'AUTHN_LOGIN_RATE_LIMITED',
    retryAfter: '42',
    message: /Wait a while\./,
  },
  {
    name: 'too many starts, no Retry-After given',
    error: new MicrosegError('AUTHN_LOGIN_RATE_LIMITED'),
    status: 429,
    code: 'AUTHN_LOGIN_RATE_LIMITED',
    retryAfter: '60',
  },
  {
    name: 'the IdP cannot be reached',
    error: new MicrosegError('AUTHN_DISCOVERY_FAILED', 'Discovery at https://idp/ failed'),
    status: 502,
    code: 'AUTHN_DISCOVERY_FAILED',
    message: /could not be reached/,
  },
  {
    name: 'an IdP address microseg does not connect to',
    error: new MicrosegError('AUTHN_IDP_ADDRESS_REFUSED', 'idp at 169.254.169.254'),
    status: 403,
    code: 'AUTHN_IDP_ADDRESS_REFUSED',
    message: /idp at 169\.254\.169\.254/,
  },
];
for (const { name, error, status, code, retryAfter, message } of loginFailures) {
  test(`decision: LOGIN, and authn cannot start it (${name}) → ${status} ${code}`, async () => {
    const { deps, ctx, res } = setup({ policy: answers(verdict(Decision.LOGIN)), authn: { startLogin: () => Promise.reject(error) }, headers: html });
    assert.equal(await decide(deps, ctx), true);
    assert.equal(res.statusCode, status);
    assert.match(res.body, new RegExp(`<code>${code}</code>`));
    assert.equal(res.headers['retry-after'], retryAfter);
    if (message) assert.match(res.body, message);
    assert.equal(res.headers.location, undefined);
    assert.deepEqual(
      deps.flows.recorded.map((f) => f.dropReason),
      [status === 503 ? 'unavailable' : 'missingtoken'],
    );
  });
}

const denials: Array<{
  name: string;
  reason: string;
  headers: Record<string, string>;
  failureUrl?: string;
  status: number;
  expect: RegExp;
  dropReason: string;
}> = [
  {
    name: 'the network policy refuses the address',
    reason: 'network-policy',
    headers: html,
    status: 403,
    expect: /Your address 203\.0\.113\.7 may not reach this application\.[\s\S]*GATEWAY_NETWORK_DENIED/,
    dropReason: 'policy',
  },
  {
    name: 'the network policy refuses, even with a failure URL',
    reason: 'network-policy',
    headers: html,
    failureUrl: 'https://app.example.com/denied',
    status: 403,
    expect: /GATEWAY_NETWORK_DENIED/,
    dropReason: 'policy',
  },
  {
    name: 'no rule covers the endpoint',
    reason: 'no-endpoint',
    headers: html,
    status: 403,
    expect: /No rule of this application allows GET \/docs\.[\s\S]*GATEWAY_FORBIDDEN/,
    dropReason: 'api',
  },
  {
    name: 'the scopes are not satisfied (signed in)',
    reason: 'scopes',
    headers: html,
    status: 403,
    expect: /You are signed in as alice@example\.com\.[\s\S]*does not satisfy the access rules for GET \/docs/,
    dropReason: 'api',
  },
  {
    name: 'the scopes are not satisfied, API client with a failure URL',
    reason: 'scopes',
    headers: json,
    failureUrl: 'https://app.example.com/denied',
    status: 403,
    expect: /"code":"GATEWAY_FORBIDDEN"/,
    dropReason: 'api',
  },
  {
    name: 'the scopes are not satisfied, a browser and a failure URL',
    reason: 'scopes',
    headers: html,
    failureUrl: 'https://app.example.com/denied?x=1',
    status: 302,
    expect: /^$/,
    dropReason: 'api',
  },
];
for (const { name, reason, headers, failureUrl, status, expect, dropReason } of denials) {
  test(`decision: DENY, ${name} → ${status}`, async () => {
    const { deps, ctx, res } = setup({
      policy: answers(verdict(Decision.DENY, { reason })),
      headers,
      ctx: { session: alice, route: route({ redirectUrlOnAuthorizationFailure: failureUrl ?? '' }) },
    });
    assert.equal(await decide(deps, ctx), true);
    assert.equal(res.statusCode, status);
    assert.match(res.body, expect);
    if (status === 302) assert.equal(res.headers.location, 'https://app.example.com/denied?x=1&failure_message=authorization');
    assert.deepEqual(
      deps.flows.recorded.map((f) => [f.accepted, f.dropReason, f.statusCode, f.user, f.policyId]),
      [[false, dropReason, status, 'alice@example.com', 'pol-1']],
    );
  });
}
