// End to end, forward-auth (docs/forward-auth.md, SPEC §3.9): Debian's nginx in front of the demo application,
// configured with deploy/forward-auth/nginx.conf, asks the gateway's forward-auth port about every request. The
// users meet nginx only: the login, its callback and the cookies all go through it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, fetch as undiciFetch } from 'undici';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import type { Browser } from 'playwright-core';
import {
  freePort,
  insecureFetch,
  isListening,
  loginWithHttp,
  repoRoot,
  startCluster,
  startForwardAuthNginx,
  waitFor,
  type Cluster,
  type RunningNginx,
  policyApi,
} from '@microseg/testkit';
import { launchChromium } from './browser.ts';

const NS = '/acme/team-b/dev/private-app';
/** A client of nginx at another loopback address than nginx's own, to tell the two apart in flows and policies. */
const CLIENT_IP = '127.0.0.3';
const BLOCKED_IP = '127.0.0.4';
const screenshots = join(repoRoot, 'test-results');

let cluster: Cluster;
let nginx: RunningNginx & { url: string };
let browser: Browser;

/** fetch from one loopback address (nginx sees it as the client), trusting nginx's self-signed certificate. */
function fetchFrom(localAddress: string): typeof fetch {
  const agent = new Agent({ localAddress, connect: { rejectUnauthorized: false } });
  return ((input: string | URL, init?: RequestInit) => undiciFetch(input, { ...(init as object), dispatcher: agent })) as unknown as typeof fetch;
}

const api = policyApi(() => cluster, NS);

before(async () => {
  const nginxPort = await freePort();
  const forwardAuthPort = await freePort();
  cluster = await startCluster({
    dataDir: await mkdtemp(join(tmpdir(), 'microseg-e2e-fa-')),
    isolated: true,
    env: { GATEWAY_FORWARD_AUTH_PORT: String(forwardAuthPort), GATEWAY_FORWARD_AUTH_TRUSTED_PROXIES: '127.0.0.1' },
    // The IdP's second client comes back to nginx, the address users know.
    idpEnv: { DEMO_WALKTHROUGH_REDIRECT_URI: `https://localhost:${nginxPort}/aporeto/oidc/callback` },
  });
  // The demo application's rules (private-app-api: /public/* public, the rest for alice) on a service served
  // through nginx; its exposedPort serves the callback and logout, which nginx sends there.
  const created = await api('POST', '/services', {
    name: 'ingress-app',
    hosts: ['localhost'],
    exposedPort: cluster.ports.walkthrough,
    port: cluster.ports.app,
    selectors: [['type=private-app']],
    exposedAPIs: [['app=private-app']],
    authorizationType: 'OIDC',
    OIDCProviderURL: cluster.idpUrl,
    OIDCClientID: 'walkthrough-app',
    OIDCClientSecret: 'walkthrough-secret',
    OIDCCallbackURL: `https://localhost:${nginxPort}`,
    OIDCScopes: ['email', 'profile'],
    claimsToHTTPHeaderMappings: [{ claimName: 'email', targetHTTPHeader: 'X-User-Email' }],
    forwardAuth: true,
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  await waitFor('the gateway to serve the service', () => isListening('127.0.0.1', cluster.ports.walkthrough));
  nginx = await startForwardAuthNginx({ port: nginxPort, forwardAuthPort, servicePort: cluster.ports.walkthrough, appPort: cluster.ports.app });
  await waitFor('nginx to be let through by the gateway', async () => (await insecureFetch(`${nginx.url}/public/hello`)).status === 200);
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await nginx?.stop();
  await cluster?.stop();
});

describe('nginx in front of the demo application, asking the gateway', () => {
  test('alice signs in through nginx and reaches the app with her identity, not a forged one; the app never sees the ticket', async () => {
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    await context.setExtraHTTPHeaders({ 'X-User-Email': 'mallory@example.com' });
    const page = await context.newPage();
    await page.goto(`${nginx.url}/`);
    assert.ok(page.url().startsWith(cluster.idpUrl), `expected the IdP login page, got ${page.url()}`);
    await page.getByLabel(/e-?mail/i).fill('alice@example.com');
    await page.getByLabel(/password/i).fill('alice');
    await Promise.all([page.waitForURL((u) => u.href.startsWith(nginx.url)), page.getByRole('button', { name: 'Sign in' }).click()]);
    await page.waitForLoadState();
    assert.equal(new URL(page.url()).pathname, '/');
    assert.match((await page.textContent('body')) ?? '', /Welcome, alice@example\.com/);
    await page.screenshot({ path: join(screenshots, 'forward-auth-alice.png') });

    const echo = await page.goto(`${nginx.url}/_echo`);
    assert.equal(echo?.status(), 200);
    const received = JSON.parse(await echo.text()) as { headers: Record<string, string> };
    assert.equal(received.headers['x-user-email'], 'alice@example.com');
    assert.ok(!JSON.stringify(received.headers).includes('mallory'), 'the client-sent identity header reached the app');
    assert.ok(!(received.headers.cookie ?? '').includes('microseg'), 'a microseg cookie reached the app');
    // The signed identity assertion came through nginx too, for this service, verifiable with the published key set.
    const keys = (await (await insecureFetch(`https://localhost:${cluster.ports.walkthrough}/.well-known/microseg/jwks.json`)).json()) as JSONWebKeySet;
    const { payload } = await jwtVerify(String(received.headers['x-microseg-jwt-assertion']), createLocalJWKSet(keys), { audience: `${NS}/ingress-app` });
    assert.equal(payload.email, 'alice@example.com');

    const session = (await context.cookies(nginx.url)).find((c) => c.name === '__Host-microseg');
    assert.ok(session, 'no session cookie for the application host');
    assert.deepEqual([session.httpOnly, session.secure, session.sameSite, session.path, session.domain], [true, true, 'Lax', '/', 'localhost']);

    // Logout through nginx: the page of the gateway, its POST, the cookie gone and the session with it.
    await page.goto(`${nginx.url}/aporeto/oidc/logout`);
    await Promise.all([page.waitForURL((u) => !u.href.startsWith(`${nginx.url}/aporeto/oidc/logout`)), page.getByRole('button', { name: 'Sign out' }).click()]);
    assert.equal(
      (await context.cookies(nginx.url)).find((c) => c.name === '__Host-microseg'),
      undefined,
    );
    const replayed = await insecureFetch(`${nginx.url}/_echo`, { headers: { cookie: `__Host-microseg=${session.value}`, accept: 'application/json' } });
    assert.equal(replayed.status, 401, 'the ended session still opened the app');
    await context.close();
  });

  test('without a session: a navigation is sent to the IdP with its login cookie, an API call gets 401, a public page is served', async () => {
    const navigation = await insecureFetch(`${nginx.url}/docs?x=1`, { headers: { accept: 'text/html' }, redirect: 'manual' });
    assert.equal(navigation.status, 302);
    const location = new URL(navigation.headers.get('location') ?? '');
    assert.equal(location.origin, cluster.idpUrl);
    assert.equal(location.searchParams.get('redirect_uri'), `${nginx.url}/aporeto/oidc/callback`);
    assert.match(navigation.headers.getSetCookie().join('\n'), /^__Host-microseg-login=[^;]+; Path=\/; Secure; HttpOnly; SameSite=Lax/);

    const call = await insecureFetch(`${nginx.url}/docs`, { headers: { accept: 'application/json' }, redirect: 'manual' });
    assert.equal(call.status, 401);
    assert.equal(call.headers.get('location'), null);

    const open = await insecureFetch(`${nginx.url}/public/hello`, { headers: { 'x-user-email': 'mallory@example.com' } });
    assert.equal(open.status, 200);
    assert.match(await open.text(), /Hello from the public part/);
  });

  test('the original path and query survive the login round trip through nginx', async () => {
    const { body } = await loginWithHttp(nginx.url, 'alice@example.com', 'alice', '/_echo/deep?x=1&y=two');
    assert.equal((JSON.parse(body) as { path: string }).path, '/_echo/deep?x=1&y=two');
  });

  test('bob signs in through nginx and is refused with 403', async () => {
    const { response } = await loginWithHttp(nginx.url, 'bob@example.com', 'bob');
    assert.equal(response.status, 403);
  });

  test('decisions are flows with the address nginx saw, and the incoming network policy applies to it', async () => {
    const fromClient = fetchFrom(CLIENT_IP);
    assert.equal((await fromClient(`${nginx.url}/public/hello?from=client`)).status, 200);
    type Flow = { action: string; URI: string; user: string; dropReason: string; serviceID: string; source: { ip: string } };
    let flows: Flow[] = [];
    await waitFor('the flows of alice, bob and the client at 127.0.0.3', async () => {
      const res = await fetch(`${cluster.flowlogUrl}/api/v1/flows?namespace=${NS}&limit=500`, { headers: { authorization: `Bearer ${cluster.adminToken}` } });
      flows = ((await res.json()) as { flows: Flow[] }).flows;
      return (
        flows.some((f) => f.action === 'Accept' && f.URI === 'GET /public/hello' && f.source.ip === CLIENT_IP) &&
        flows.some((f) => f.action === 'Accept' && f.user === 'alice@example.com' && f.URI === 'GET /_echo') &&
        flows.some((f) => f.action === 'Reject' && f.user === 'bob@example.com' && f.URI === 'GET /' && f.dropReason === 'api')
      );
    });

    const network = await api('POST', '/externalnetworks', {
      name: 'blocked-client',
      entries: [BLOCKED_IP],
      servicePorts: ['any'],
      associatedTags: ['ext:name=blocked'],
    });
    assert.equal(network.status, 201, JSON.stringify(network.body));
    const policy = await api('POST', '/networkaccesspolicies', {
      name: 'block-client',
      action: 'Reject',
      applyPolicyMode: 'IncomingTraffic',
      subject: [['ext:name=blocked']],
      object: [['$identity=processingunit', 'type=private-app']],
    });
    assert.equal(policy.status, 201, JSON.stringify(policy.body));
    const fromBlocked = fetchFrom(BLOCKED_IP);
    await waitFor('the Reject policy to apply to the client nginx saw', async () => (await fromBlocked(`${nginx.url}/public/hello`)).status === 403, 2_000);
    assert.equal((await fromClient(`${nginx.url}/public/hello`)).status, 200, 'another client (and nginx itself) is not blocked');
  });
});
