// The forward-auth pipeline on fakes: who may ask, which service a host names, the path rules, and what each
// ingress gets for an allowed request, a sign-in and a refusal — with the flow each decision records.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { create } from '@bufbuild/protobuf';
import { LoginStartResponseSchema, SessionLookupResponseSchema } from '@microseg/proto/authn';
import { Decision, type DecideResponse, type ServiceRoute } from '@microseg/proto/policy';
import { RoutingState } from '../state.ts';
import { asResponse, CLIENT_IP, FakeResponse, fakeDeps, fakeRequest, route, verdict, type FakeDeps } from '../pipeline/testing/fakes.ts';
import { createForwardAuthHandler } from './handler.ts';
import { forwardAuthRoute, forwardAuthStages } from './stages.ts';
import { parseTrustedProxies } from './trust.ts';

/** The ingress is the fake request's peer (CLIENT_IP); the browser behind it is another address. */
const BROWSER_IP = '198.51.100.23';
const APP_HOST = 'app.example.com';
const FA_PORT = 7443;
const protectedRoute = route({ forwardAuth: true, claimsToHttpHeaderMappings: [{ claimName: 'email', targetHttpHeader: 'X-User-Email' }] });

const aliceLookup = async () =>
  create(SessionLookupResponseSchema, {
    found: true,
    sessionId: 's-1',
    subject: 'sub',
    tags: ['email=alice@example.com'],
    cacheUntilMs: BigInt(Date.now() + 60_000),
  });
const loginStart = async () =>
  create(LoginStartResponseSchema, { authorizationUrl: 'https://idp.example.com/auth?state=s', binding: 'b-1', bindingMaxAgeSeconds: 600 });

interface Ask {
  url?: string;
  method?: string;
  headers?: Record<string, string>;
  decide?: DecideResponse;
  routes?: ServiceRoute[];
  trusted?: string[];
}

async function ask(a: Ask): Promise<{ res: FakeResponse; deps: FakeDeps }> {
  const state = new RoutingState(a.routes ?? [protectedRoute], 1n);
  const deps = fakeDeps({
    authn: { lookupSession: aliceLookup, startLogin: loginStart },
    policy: { decide: async () => a.decide ?? verdict(Decision.ALLOW) },
  });
  deps.state = () => state;
  const handler = createForwardAuthHandler({ ...deps, state: () => state }, { port: FA_PORT, trusted: parseTrustedProxies(a.trusted ?? [CLIENT_IP]) });
  const res = new FakeResponse();
  const finished = once(res, 'finish');
  handler(fakeRequest({ method: a.method ?? 'GET', url: a.url ?? '/nginx', headers: { host: 'gateway.internal:7443', ...a.headers } }), asResponse(res));
  await finished;
  await new Promise((resolve) => setImmediate(resolve));
  return { res, deps };
}

const nginx = (uri: string, extra: Record<string, string> = {}) => ({
  'x-original-method': 'GET',
  'x-original-uri': uri,
  'x-forwarded-host': APP_HOST,
  'x-forwarded-for': BROWSER_IP,
  ...extra,
});
const html = { accept: 'text/html' };
const withSession = { cookie: 'theme=dark; __Host-microseg=ticket' };

test('the forward-auth stages', () => {
  assert.deepEqual(
    forwardAuthStages.map((s) => s.name),
    [
      'rejectAmbiguousFraming',
      'findForwardAuthService',
      'normaliseTarget',
      'requireNormalForm',
      'refuseOwnEndpoints',
      'resolveSession',
      'decide',
      'allowForwardAuth',
    ],
  );
});

test('allowed: 200 with the identity headers and the cookies minus the ticket; the flow has the browser, not the ingress', async () => {
  const { res, deps } = await ask({ headers: nginx('/docs?q=1', withSession) });
  assert.equal(res.statusCode, 200);
  assert.equal(res.headers['x-user-email'], 'alice@example.com');
  assert.equal(res.headers.cookie, 'theme=dark');
  assert.equal(res.body, '');
  const question = deps.policy.calls[0]?.args[0] as Record<string, unknown>;
  assert.deepEqual([question.method, question.path, question.clientIp, question.authenticated], ['GET', '/docs', BROWSER_IP, true]);
  assert.equal(deps.flows.recorded.length, 1);
  assert.deepEqual(
    { ...deps.flows.recorded[0], requestId: undefined },
    {
      route: protectedRoute,
      clientIp: BROWSER_IP,
      method: 'GET',
      path: '/docs',
      accepted: true,
      dropReason: '',
      policyId: 'pol-1',
      policyName: 'allow-app',
      user: 'alice@example.com',
      statusCode: 200,
      requestId: undefined,
      port: FA_PORT,
      byDefault: false,
    },
  );
});

test('nginx, no session, a browser navigation: 401 with the IdP in Location and the login cookie (nginx acts on 401, not 302)', async () => {
  const { res, deps } = await ask({ headers: nginx('/docs?q=1', html), decide: verdict(Decision.LOGIN) });
  assert.equal(res.statusCode, 401);
  assert.equal(res.headers.location, 'https://idp.example.com/auth?state=s');
  assert.match(String(res.headers['set-cookie']), /^__Host-microseg-login=b-1; Path=\/; Secure; HttpOnly/);
  const start = deps.authn.calls.find((c) => c.method === 'startLogin')?.args[0] as Record<string, unknown>;
  assert.deepEqual([start.returnTo, start.clientIp], ['/docs?q=1', BROWSER_IP]);
});

test('Traefik and Envoy pass the answer to the browser as it is: a 302 to the IdP', async () => {
  const traefik = await ask({
    url: '/traefik',
    headers: { 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/docs', 'x-forwarded-host': APP_HOST, 'x-forwarded-for': BROWSER_IP, ...html },
    decide: verdict(Decision.LOGIN),
  });
  assert.equal(traefik.res.statusCode, 302);
  assert.equal(traefik.res.headers.location, 'https://idp.example.com/auth?state=s');
  const envoy = await ask({ url: '/envoy/docs', headers: { host: APP_HOST, 'x-forwarded-for': BROWSER_IP, ...html }, decide: verdict(Decision.LOGIN) });
  assert.equal(envoy.res.statusCode, 302);
});

test('no session, not a navigation: 401 JSON without Location, never a login', async () => {
  const { res, deps } = await ask({ headers: nginx('/docs', { accept: 'application/json' }), decide: verdict(Decision.LOGIN) });
  assert.equal(res.statusCode, 401);
  assert.equal(res.headers.location, undefined);
  assert.equal(res.json().code, 'GATEWAY_UNAUTHENTICATED');
  assert.equal(deps.authn.calls.filter((c) => c.method === 'startLogin').length, 0);
});

test('refused: 403 with the reason, for every ingress; a rejected flow', async () => {
  const { res, deps } = await ask({ headers: nginx('/admin', withSession), decide: verdict(Decision.DENY, { reason: 'scopes' }) });
  assert.equal(res.statusCode, 403);
  assert.deepEqual(res.json(), { code: 'GATEWAY_FORBIDDEN', message: 'You are not allowed to access this resource.' });
  assert.equal(res.headers['x-user-email'], undefined);
  assert.deepEqual([deps.flows.recorded[0]?.accepted, deps.flows.recorded[0]?.dropReason, deps.flows.recorded[0]?.clientIp], [false, 'api', BROWSER_IP]);
});

test('Envoy: the 200 names the headers to remove that it does not set', async () => {
  const { res } = await ask({ url: '/envoy/public/x', method: 'POST', headers: { host: APP_HOST, 'x-forwarded-for': BROWSER_IP } });
  assert.equal(res.statusCode, 200);
  assert.equal(res.headers['x-envoy-auth-headers-to-remove'], 'x-user-email, x-microseg-jwt-assertion, cookie');
});

test('untrusted peer: 403 GATEWAY_FORWARD_AUTH_UNTRUSTED; nothing asked of authn or policy', async () => {
  const { res, deps } = await ask({ headers: nginx('/docs', withSession), trusted: ['10.0.0.0/8'] });
  assert.equal(res.statusCode, 403);
  assert.equal(res.json().code, 'GATEWAY_FORWARD_AUTH_UNTRUSTED');
  assert.deepEqual([deps.authn.calls, deps.policy.calls], [[], []]);
  assert.equal(deps.flows.recorded[0]?.clientIp, CLIENT_IP, 'the flow names the peer that asked');
});

test('malformed: 400 naming what is missing; nothing asked', async () => {
  const { res, deps } = await ask({ headers: { 'x-original-uri': '/docs', 'x-forwarded-for': BROWSER_IP } });
  assert.equal(res.statusCode, 400, 'not an nginx request yet: the status as it is');
  assert.match(res.json().message, /lacks x-original-method, x-forwarded-host/);
  assert.deepEqual(deps.policy.calls, []);
});

test('a host no forward-auth service has (or a service not served through forward-auth): 404', async () => {
  for (const routes of [[protectedRoute], [route()]]) {
    const { res } = await ask({ routes, headers: nginx('/docs', { 'x-forwarded-host': routes[0]!.forwardAuth ? 'other.example.com' : APP_HOST }) });
    assert.equal(res.statusCode, 404);
    assert.equal(res.json().code, 'GATEWAY_UNKNOWN_HOST');
  }
});

for (const uri of ['/public/../admin', '/public/%2e%2e/admin', '//admin', '/public//x', '/%7Euser', '/caf%c3%a9']) {
  test(`a path not in its normal form is refused (the ingress forwards it as sent): ${uri}`, async () => {
    const { res, deps } = await ask({ headers: nginx(uri, withSession) });
    assert.equal(res.statusCode, 403, 'nginx gets 403 for a 400 (it would answer 500 for anything but 2xx, 401, 403)');
    assert.equal(res.json().code, 'GATEWAY_BAD_REQUEST');
    assert.match(res.json().message, /normal form/);
    assert.deepEqual(deps.policy.calls, []);
  });
}

for (const uri of ['/public/..%2Fadmin', '/admin;jsessionid=1', '/public/%00', 'https://evil.example/', '*']) {
  test(`an ambiguous path is refused as at the service port: ${uri}`, async () => {
    const { res } = await ask({ headers: nginx(uri, withSession) });
    assert.equal(res.statusCode, 403);
    assert.equal(res.json().code, 'GATEWAY_BAD_REQUEST');
    if (!uri.startsWith('/')) return;
    const envoy = await ask({ url: `/envoy${uri}`, headers: { host: APP_HOST, 'x-forwarded-for': BROWSER_IP } });
    assert.equal(envoy.res.statusCode, 400, 'Traefik and Envoy pass the 400 on as it is');
  });
}

test("the gateway's own endpoints are not decided on: the ingress must route them to the gateway", async () => {
  for (const path of ['/aporeto/oidc/callback?code=c&state=s', '/aporeto/oidc/logout', '/aporeto/oidc/backchannel-logout']) {
    const { res, deps } = await ask({ headers: nginx(path, html) });
    assert.equal(res.statusCode, 403);
    assert.match(res.body, /belongs to the gateway/);
    assert.deepEqual(deps.authn.calls, []);
  }
});

test('two forward-auth services claiming one host: the older (first in the routes) answers', () => {
  const older = route({ id: 'old', forwardAuth: true, hosts: ['a.example', 'b.example'] });
  const newer = route({ id: 'new', forwardAuth: true, hosts: ['b.example'], exposedPort: 9443 });
  const routes = [older, newer];
  assert.equal(forwardAuthRoute(routes, 'b.example')?.id, 'old');
  assert.equal(forwardAuthRoute(routes, 'c.example'), undefined);
});
