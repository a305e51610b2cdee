// Forward: the decided request goes to the processing unit with the gateway's own headers; the flow is the
// application's status, or 502/504 when it cannot answer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Decision } from '@microseg/proto/policy';
import { AssertionKeySet, Assertions } from '../assertion/index.ts';
import { settingsWith, testKey, verifiedBy } from '../assertion/testing.ts';
import type { UpstreamOptions } from '../forward.ts';
import { forward, upstreamOptionsOf } from './forward.ts';
import { CLIENT_IP, contextFor, FakeResponse, fakeDeps, fakeRequest, HOST, route, verdict } from './testing/fakes.ts';

const withMapping = route({ claimsToHttpHeaderMappings: [{ claimName: 'email', targetHttpHeader: 'X-User-Email' }] });

const targets: Array<{ name: string; init: Parameters<typeof route>[0]; query: string; origin: string; path: string }> = [
  { name: 'plain http to the unit', init: {}, query: '', origin: 'http://10.0.0.5:8080', path: '/docs' },
  { name: 'https when the service is TLS', init: { exposedServiceIsTls: true }, query: '', origin: 'https://10.0.0.5:8080', path: '/docs' },
  { name: 'an IPv6 unit in brackets', init: { upstreamAddress: 'fd00::5', port: 9000 }, query: '', origin: 'http://[fd00::5]:9000', path: '/docs' },
  { name: 'the query kept', init: {}, query: 'a=1&b=2', origin: 'http://10.0.0.5:8080', path: '/docs?a=1&b=2' },
];
for (const { name, init, query, origin, path } of targets) {
  test(`forward: ${name} → ${origin}${path}`, async () => {
    const deps = fakeDeps();
    const ctx = contextFor(fakeRequest({ url: '/ignored' }), new FakeResponse(), { route: route(init), path: '/docs', query });
    assert.equal(await forward(deps, ctx), true);
    assert.deepEqual(
      deps.forwarder.calls.map((c) => [c.origin, c.path]),
      [[origin, path]],
    );
  });
}

test("forward: the session's mapped claims replace whatever the client sent under those names; the gateway sets the forwarding headers", async () => {
  const deps = fakeDeps();
  const req = fakeRequest({
    headers: { 'x-user-email': 'mallory@example.com', X_User_Email: 'mallory@example.com', 'x-forwarded-for': '1.2.3.4', accept: '*/*' },
  });
  const ctx = contextFor(req, new FakeResponse(), {
    route: withMapping,
    path: '/docs',
    session: { subject: 'alice@example.com', tags: ['email=alice@example.com'] },
  });
  await forward(deps, ctx);
  const headers = deps.forwarder.calls[0]!.headers;
  assert.equal(headers['x-user-email'], 'alice@example.com');
  assert.equal(headers['X_User_Email'], undefined);
  assert.equal(headers['x-forwarded-for'], CLIENT_IP);
  assert.equal(headers['x-forwarded-host'], HOST);
  assert.equal(headers['x-request-id'], 'req-1');
  assert.equal(headers.accept, '*/*');
});

test('forward: without a session, a client-sent claim header is removed and none is set', async () => {
  const deps = fakeDeps();
  const ctx = contextFor(fakeRequest({ headers: { 'x-user-email': 'mallory@example.com' } }), new FakeResponse(), { route: withMapping, path: '/docs' });
  await forward(deps, ctx);
  assert.equal(deps.forwarder.calls[0]!.headers['x-user-email'], undefined);
});

test("forward: the outcome is set before the application answers (the access log may be written first); the flow has the application's status", async () => {
  const deps = fakeDeps();
  deps.forwarder.result = { ok: true, status: 201 };
  const ctx = contextFor(fakeRequest(), new FakeResponse(), {
    path: '/docs',
    verdict: verdict(Decision.ALLOW, { policyId: 'p-7' }),
    session: { subject: 'bob@example.com', tags: [] },
  });
  let outcomeWhileForwarding: unknown;
  deps.forwarder.onForward = () => (outcomeWhileForwarding = ctx.outcome);
  await forward(deps, ctx);
  assert.deepEqual(outcomeWhileForwarding, { accepted: true, dropReason: '', policyId: 'p-7' });
  assert.deepEqual(
    deps.flows.recorded.map((f) => [f.accepted, f.dropReason, f.statusCode, f.user, f.policyId]),
    [[true, '', 201, 'bob@example.com', 'p-7']],
  );
});

const failures = [
  { kind: 'unreachable', status: 502, code: 'GATEWAY_UPSTREAM_UNREACHABLE', dropReason: 'dial' },
  { kind: 'timeout', status: 504, code: 'GATEWAY_UPSTREAM_TIMEOUT', dropReason: 'timeout' },
] as const;
for (const { kind, status, code, dropReason } of failures) {
  test(`forward: the application ${kind} → ${status} ${code}, a rejected flow "${dropReason}"`, async () => {
    const deps = fakeDeps();
    deps.forwarder.result = { ok: false, kind };
    const res = new FakeResponse();
    const ctx = contextFor(fakeRequest({ headers: { accept: 'application/json' } }), res, { path: '/docs' });
    assert.equal(await forward(deps, ctx), true);
    assert.equal(res.statusCode, status);
    assert.equal(res.json().code, code);
    assert.deepEqual(
      deps.flows.recorded.map((f) => [f.accepted, f.dropReason, f.statusCode]),
      [[false, dropReason, status]],
    );
  });
}

test('forward: with a user, the signed assertion replaces any copy the client sent; the access token only where the service passes it', async () => {
  const key = testKey('k1');
  const keys = new AssertionKeySet();
  keys.update(settingsWith([{ key, activateAtMs: 0 }]));
  const deps = fakeDeps({ assertions: new Assertions(keys) });
  const forged = 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJtYWxsb3J5In0.';
  const headers = { 'X-Microseg-Jwt-Assertion': forged, X_Microseg_Jwt_Assertion: forged, authorization: 'Bearer mallory' };
  const session = { subject: 'alice@example.com', tags: ['email=alice@example.com'], accessToken: 'at-1' };
  await forward(deps, contextFor(fakeRequest({ headers }), new FakeResponse(), { route: route({ namespace: '/acme', name: 'app' }), path: '/', session }));
  const sent = deps.forwarder.calls[0]!.headers;
  assert.equal(verifiedBy(sent['x-microseg-jwt-assertion'] as string, key).claims.aud, '/acme/app');
  assert.equal(sent['X-Microseg-Jwt-Assertion'], undefined);
  assert.equal(sent['X_Microseg_Jwt_Assertion'], undefined);
  assert.equal(sent.authorization, 'Bearer mallory', "a service that does not pass the token leaves the client's Authorization alone");

  await forward(deps, contextFor(fakeRequest({ headers }), new FakeResponse(), { route: route({ passAccessToken: true }), path: '/', session }));
  assert.equal(deps.forwarder.calls[1]!.headers.authorization, 'Bearer at-1');

  // No user: no assertion, and the client's copy is gone all the same.
  await forward(deps, contextFor(fakeRequest({ headers }), new FakeResponse(), { route: route({ passAccessToken: true }), path: '/public' }));
  const anonymous = deps.forwarder.calls[2]!.headers;
  assert.deepEqual(
    Object.keys(anonymous).filter((n) => /assertion|authorization/i.test(n)),
    [],
  );
});

test('forward: how the application is spoken to — HTTP/2 when the service says so, its CA only with TLS', async () => {
  const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----';
  const cases: Array<[Parameters<typeof route>[0], UpstreamOptions]> = [
    [{}, {}],
    [{ applicationProtocol: 'HTTP/1.1' }, {}],
    [{ applicationProtocol: 'HTTP/2' }, { http2: true, ca: undefined }],
    [
      { applicationProtocol: 'HTTP/2', exposedServiceIsTls: true, applicationCa: PEM },
      { http2: true, ca: PEM },
    ],
    [
      { exposedServiceIsTls: true, applicationCa: PEM },
      { http2: false, ca: PEM },
    ],
    // A CA without TLS is refused by the API; were one stored, it would change nothing.
    [{ applicationCa: PEM }, {}],
  ];
  for (const [init, expected] of cases) {
    assert.deepEqual(upstreamOptionsOf(route(init)), expected, JSON.stringify(init));
    const deps = fakeDeps();
    await forward(deps, contextFor(fakeRequest(), new FakeResponse(), { route: route(init), path: '/docs' }));
    assert.deepEqual(deps.forwarder.calls[0]!.upstream, expected);
  }
});
