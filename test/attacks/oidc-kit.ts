// The attack suite's fixture: a cluster, the hostile IdP, a recording upstream
// and one service on the walkthrough's processing unit that trusts that IdP.
// Each attempt is a login driven with plain HTTP; helpers assert what the
// gateway answered, that no session was created and what the upstream got.
//
// Why over 300 lines: the fixture and the assertions every OIDC attack case shares, kept in one file so
// that each case in oidc.test.ts stays a few lines.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { redisKeys } from '@microseg/contracts';
import {
  freePort,
  insecureFetch,
  startCluster,
  startHostileIdp,
  TestBrowser,
  waitFor,
  type Cluster,
  type HostileClient,
  type HostileIdp,
} from '@microseg/testkit';

export const NAMESPACE = '/acme/team-c/walkthrough';
export const SERVICE = 'hostile-idp-app';
/** Bound on every call authn makes to an IdP, low so that the slow cases are quick. */
export const IDP_TIMEOUT_MS = 1_500;

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
}

export interface Upstream {
  url: string;
  port: number;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

/** The protected application: records every request and answers with a JSON echo. */
/** On `port` (one the cluster's gateway file allows), or any free one. */
export async function startRecordingUpstream(port = 0): Promise<Upstream> {
  const requests: RecordedRequest[] = [];
  const server: Server = createServer((req, res) => {
    requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers });
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ upstream: 'reached', path: req.url, user: req.headers['x-user-email'] ?? null }));
  });
  const listening = await new Promise<number>((resolve) => server.listen(port, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
  return {
    url: `http://127.0.0.1:${listening}`,
    port: listening,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface Fixture {
  cluster: Cluster;
  idp: HostileIdp;
  upstream: Upstream;
  redis: Redis;
  client: HostileClient;
  /** Another client registered at the same IdP (code injection). */
  otherClient: HostileClient;
  /** Where users reach the service. */
  appUrl: string;
  redirectUri: string;
  close(): Promise<void>;
}

export async function startFixture(): Promise<Fixture> {
  const upstreamPort = await freePort();
  const cluster = await startCluster({
    dataDir: await mkdtemp(join(tmpdir(), 'microseg-attacks-')),
    isolated: true,
    // Every attempt starts a login from 127.0.0.1: far more than a person would (login-flood.test.ts tests the limit).
    env: { AUTHN_IDP_TIMEOUT_MS: String(IDP_TIMEOUT_MS), AUTHN_LOGIN_STARTS_PER_ADDRESS: '1000000' },
    gatewayPorts: { application: [upstreamPort] },
  });
  const client = { clientId: 'microseg-attacks', clientSecret: randomBytes(24).toString('base64url') };
  const otherClient = { clientId: 'another-app', clientSecret: randomBytes(24).toString('base64url') };
  const idp = await startHostileIdp({ clients: [client, otherClient] });
  const upstream = await startRecordingUpstream(upstreamPort);
  const redis = new Redis(cluster.redisOptions());
  const appUrl = `https://localhost:${cluster.ports.walkthrough}`;
  const fixture: Fixture = {
    cluster,
    idp,
    upstream,
    redis,
    client,
    otherClient,
    appUrl,
    redirectUri: `${appUrl}/aporeto/oidc/callback`,
    async close() {
      redis.disconnect();
      await idp.close();
      await upstream.close();
      await cluster.stop();
    },
  };
  try {
    await createObjects(fixture);
  } catch (err) {
    await fixture.close();
    throw err;
  }
  return fixture;
}

export async function api(fixture: Fixture, method: string, path: string, body?: unknown): Promise<unknown> {
  const res = await fetch(`${fixture.cluster.policyUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${fixture.cluster.adminToken}`,
      'x-namespace': NAMESPACE,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  assert.ok(res.ok, `${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

async function createObjects(fixture: Fixture): Promise<void> {
  const { idp, upstream, cluster, client } = fixture;
  await api(fixture, 'POST', '/externalnetworks', {
    name: 'hostile-idp',
    entries: ['localhost'],
    servicePorts: [`tcp/${idp.port}`],
    associatedTags: ['ext:name=hostile-idp'],
  });
  await api(fixture, 'POST', '/networkaccesspolicies', {
    name: 'allow-app-to-hostile-idp',
    action: 'Allow',
    applyPolicyMode: 'OutgoingTraffic',
    subject: [['$identity=processingunit', 'type=walkthrough-app']],
    object: [['ext:name=hostile-idp']],
  });
  await api(fixture, 'POST', '/httpresourcespecs', {
    name: 'hostile-idp-app',
    endpoints: [{ URI: '/*', methods: ['GET'], public: false, allowedScopes: [['email=alice@example.com']] }],
    associatedTags: ['httpresourcespec:name=hostile-idp-app'],
  });
  await api(fixture, 'POST', '/services', {
    name: SERVICE,
    type: 'HTTP',
    authorizationType: 'OIDC',
    OIDCClientID: client.clientId,
    OIDCClientSecret: client.clientSecret,
    OIDCProviderURL: idp.issuer,
    OIDCCallbackURL: fixture.appUrl,
    OIDCScopes: ['email'],
    hosts: ['localhost'],
    port: upstream.port,
    exposedPort: cluster.ports.walkthrough,
    selectors: [['type=walkthrough-app', '$identity=processingunit']],
    exposedAPIs: [['httpresourcespec:name=hostile-idp-app']],
    claimsToHTTPHeaderMappings: [{ claimName: 'email', targetHTTPHeader: 'X-User-Email' }],
  });
  await waitFor(
    'the gateway to serve the service',
    async () => (await insecureFetch(`${fixture.appUrl}/`, { headers: { accept: 'application/json' } })).status === 401,
    10_000,
    50,
  );
}

/**
 * Point the service at a tenant of the hostile IdP that authn has never
 * discovered (fresh discovery and key set), with the scenario already set.
 * Returns once authn has fetched that tenant's discovery document.
 */
export async function useTenant(fixture: Fixture, tenant: string): Promise<string> {
  const issuer = fixture.idp.issuerFor(tenant);
  const from = fixture.idp.requests.length;
  // A new provider needs the secret again (the policy API never keeps a secret for another IdP).
  await api(fixture, 'PATCH', `/services/${SERVICE}`, { OIDCProviderURL: issuer, OIDCClientSecret: fixture.client.clientSecret });
  await waitFor(
    `authn to discover ${issuer}`,
    async () => {
      const res = await new TestBrowser(insecureFetch).request(`${fixture.appUrl}/`, { headers: { accept: 'text/html' } });
      await res.body?.cancel();
      return fixture.idp.requestsTo('discovery', from).some((r) => r.tenant === tenant);
    },
    10_000,
    50,
  );
  return issuer;
}

export interface Answer {
  status: number;
  location: string | null;
  setCookie: string[];
  body: string;
}

export interface Attempt {
  /** The unique path this attempt asked for (the upstream must never see it when refused). */
  path: string;
  startedAt: number;
  browser: TestBrowser;
  /** The gateway's answer to the first request. */
  start: Answer;
  /** Where the gateway sent the browser, when it did. */
  authorizationUrl?: URL;
  /** The IdP's answer to the authorization request, when it was not a redirect. */
  idp?: Answer;
  /** The callback the browser was sent to (after `tamper`). */
  callbackUrl?: URL;
  callback?: Answer;
  /** The page the callback redirected to, when it did. */
  final?: Answer;
}

const html = { accept: 'text/html' };
let attempts = 0;

async function answerOf(res: Response): Promise<Answer> {
  return { status: res.status, location: res.headers.get('location'), setCookie: res.headers.getSetCookie(), body: await res.text() };
}

export interface AttemptOptions {
  /** Change the callback URL before the browser follows it (another code, state, …). */
  tamper?: (callback: URL) => URL | Promise<URL>;
  browser?: TestBrowser;
  /** Send the callback with this browser instead (another browser). */
  callbackBrowser?: TestBrowser;
}

/** One login as a browser makes it: app → gateway → IdP (approves at once) → callback → the page asked for. */
export async function attempt(fixture: Fixture, options: AttemptOptions = {}): Promise<Attempt> {
  const path = `/attack/${++attempts}-${randomBytes(4).toString('hex')}`;
  const browser = options.browser ?? new TestBrowser(insecureFetch);
  const startedAt = Date.now();
  const start = await answerOf(await browser.request(`${fixture.appUrl}${path}`, { headers: html }));
  const result: Attempt = { path, startedAt, browser, start };
  if (start.status !== 302 || !start.location?.startsWith(fixture.idp.url)) return result;
  result.authorizationUrl = new URL(start.location);
  const idpAnswer = await answerOf(await browser.request(result.authorizationUrl));
  if (idpAnswer.status !== 302 || !idpAnswer.location) {
    result.idp = idpAnswer;
    return result;
  }
  let callbackUrl = new URL(idpAnswer.location);
  if (options.tamper) callbackUrl = await options.tamper(callbackUrl);
  result.callbackUrl = callbackUrl;
  const callbackBrowser = options.callbackBrowser ?? browser;
  result.callback = await answerOf(await callbackBrowser.request(callbackUrl, { headers: html }));
  const next = result.callback.location;
  if (result.callback.status === 302 && next?.startsWith('/')) {
    result.final = await answerOf(await callbackBrowser.request(new URL(next, fixture.appUrl), { headers: html }));
  }
  return result;
}

export async function countSessions(fixture: Fixture): Promise<number> {
  return (await fixture.redis.keys(redisKeys.session('*'))).length;
}

function sessionCookieSet(answer: Answer | undefined): boolean {
  return (answer?.setCookie ?? []).some((c) => /^__Host-microseg=[^;]+/.test(c));
}

export interface LoginEvent {
  time: number;
  title: string;
  content: string;
}

/** The authn events about this service since `from` (newest first). */
export async function loginEvents(fixture: Fixture, from: number): Promise<LoginEvent[]> {
  const res = await fetch(`${fixture.cluster.flowlogUrl}/api/v1/events?namespace=${encodeURIComponent(NAMESPACE)}&category=authn&from=${from}`, {
    headers: { authorization: `Bearer ${fixture.cluster.adminToken}` },
  });
  assert.equal(res.status, 200, await res.clone().text());
  return ((await res.json()) as { events: LoginEvent[] }).events;
}

export interface Refusal {
  /** Where the login stops: the callback (default) or already the start (discovery failures). */
  at?: 'callback' | 'start';
  status: number;
  /** The error code on the gateway's page. */
  code: string;
  /** The reason authn recorded in its "Login failed" (or discovery) event. */
  reason?: RegExp;
}

/**
 * Run `attempt` and assert that it was refused as expected, that no session
 * was created and that the upstream received nothing at all meanwhile.
 */
export async function assertRefused(fixture: Fixture, run: () => Promise<Attempt>, expected: Refusal): Promise<Attempt> {
  const sessionsBefore = await countSessions(fixture);
  const upstreamBefore = fixture.upstream.requests.length;
  const result = await run();
  const at = expected.at ?? 'callback';
  const answer = at === 'start' ? result.start : result.callback;
  assert.ok(
    answer,
    `the login stopped before the ${at}: start ${result.start.status} ${result.start.location ?? ''}; IdP ${result.idp?.status ?? '-'} ${result.idp?.body.slice(0, 200) ?? ''}`,
  );
  assert.equal(answer.status, expected.status, `${at} answered ${answer.status}: ${answer.body.slice(0, 600)}`);
  assert.match(answer.body, new RegExp(`Error code <code>${expected.code}</code>`), answer.body.slice(0, 600));
  assert.ok(!sessionCookieSet(result.callback) && !sessionCookieSet(result.start), 'no session cookie was set');
  assert.equal(result.final, undefined, 'the browser was not sent on to the application');
  assert.equal(await countSessions(fixture), sessionsBefore, 'no session was created');
  assert.equal(
    fixture.upstream.requests.length,
    upstreamBefore,
    `the upstream received nothing: ${JSON.stringify(fixture.upstream.requests.slice(upstreamBefore).map((r) => r.path))}`,
  );
  assert.doesNotMatch(answer.body, /"upstream":"reached"/);
  if (expected.reason) {
    const reason = expected.reason;
    let seen: LoginEvent[] = [];
    await waitFor(
      `an authn event matching ${reason}`,
      async () => {
        seen = await loginEvents(fixture, result.startedAt);
        return seen.some((e) => reason.test(e.content));
      },
      5_000,
      50,
    ).catch((err: Error) => {
      throw new Error(`${err.message}; events: ${JSON.stringify(seen.map((e) => e.content))}`);
    });
  }
  return result;
}

/** Assert that the attempt logged alice in and the upstream saw her, once, with the mapped header. */
export async function assertLoggedIn(fixture: Fixture, run: () => Promise<Attempt>): Promise<Attempt> {
  const sessionsBefore = await countSessions(fixture);
  const result = await run();
  assert.ok(
    result.callback,
    `the login did not reach the callback: start ${result.start.status} ${result.start.body.slice(0, 300)} IdP ${result.idp?.status} ${result.idp?.body.slice(0, 300)}`,
  );
  assert.equal(result.callback.status, 302, result.callback.body.slice(0, 600));
  assert.ok(sessionCookieSet(result.callback), 'the session cookie was set');
  assert.equal(result.callback.location, result.path, 'back to the page first asked for');
  assert.ok(result.final, 'the browser went on to the application');
  assert.equal(result.final.status, 200, result.final.body.slice(0, 600));
  assert.deepEqual(JSON.parse(result.final.body), { upstream: 'reached', path: result.path, user: 'alice@example.com' });
  const seen = fixture.upstream.requests.filter((r) => r.path === result.path);
  assert.equal(seen.length, 1);
  assert.equal(seen[0]!.headers['x-user-email'], 'alice@example.com');
  assert.equal(await countSessions(fixture), sessionsBefore + 1, 'one session was created');
  return result;
}
