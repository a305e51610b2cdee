// Session lifecycle features of the demo IdP: short token lifetimes, refresh token rotation,
// back-channel logout (admin endpoint and end_session) and the /_demo/stats counters.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it, mock } from 'node:test';
import { generate } from 'selfsigned';
import { formFieldsOf, TestBrowser } from '@microseg/testkit/test-browser';
import { DEFAULT_DEMO_USERS, startDemoIdp, type BackchannelLogoutResult, type DemoIdp, type DemoIdpStats, type DemoUser } from './idp.ts';
import { demoIdpFetch, isLoopbackUrl } from './loopback-fetch.ts';

const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

type Discovery = {
  authorization_endpoint: string;
  token_endpoint: string;
  end_session_endpoint: string;
  backchannel_logout_supported?: boolean;
  backchannel_logout_session_supported?: boolean;
};

type TokenResponse = {
  access_token: string;
  id_token: string;
  refresh_token?: string;
  expires_in: number;
  scope: string;
};

type IdTokenClaims = {
  iss: string;
  aud: string;
  sub: string;
  sid?: string;
  iat: number;
  exp: number;
  email: string;
  name: string;
  groups: string[];
};

type LogoutTokenClaims = {
  iss: string;
  aud: string;
  sub?: string;
  sid?: string;
  iat: number;
  exp: number;
  jti: string;
  nonce?: string;
  events: Record<string, unknown>;
};

const CAROL: DemoUser = {
  sub: 'carol',
  email: 'carol@example.com',
  emailVerified: true,
  password: 'carol',
  name: 'Carol Danvers',
  groups: ['support'],
};

type TestClient = { clientId: string; clientSecret: string; redirectUri: string };

function decodeJwtPart<T>(jwt: string, index: 0 | 1): T {
  const part = jwt.split('.')[index];
  assert.ok(part, 'JWT has the expected parts');
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as T;
}

function basicAuthorization(client: TestClient): string {
  const encode = (value: string) => new URLSearchParams({ v: value }).toString().slice(2);
  return `Basic ${Buffer.from(`${encode(client.clientId)}:${encode(client.clientSecret)}`).toString('base64')}`;
}

function tokenRequest(discovery: Discovery, client: TestClient, params: Record<string, string>): Promise<Response> {
  return fetch(discovery.token_endpoint, {
    method: 'POST',
    headers: { authorization: basicAuthorization(client), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(params).toString(),
  });
}

async function okJson<T>(response: Response): Promise<T> {
  const text = await response.text();
  assert.equal(response.status, 200, text);
  return JSON.parse(text) as T;
}

function refresh(discovery: Discovery, client: TestClient, refreshToken: string): Promise<Response> {
  return tokenRequest(discovery, client, { grant_type: 'refresh_token', refresh_token: refreshToken });
}

/**
 * Authorization code flow with PKCE, `offline_access` and `prompt=consent` (so a refresh token is
 * issued). Signs in on the IdP's login page unless the browser already has an IdP session.
 */
async function signIn(browser: TestBrowser, discovery: Discovery, client: TestClient, login = 'alice@example.com', password = 'alice'): Promise<TokenResponse> {
  const codeVerifier = randomBytes(32).toString('base64url');
  const url = new URL(discovery.authorization_endpoint);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: client.clientId,
    redirect_uri: client.redirectUri,
    scope: 'openid email profile offline_access',
    prompt: 'consent',
    state: randomBytes(8).toString('base64url'),
    nonce: randomBytes(8).toString('base64url'),
    code_challenge: createHash('sha256').update(codeVerifier).digest('base64url'),
    code_challenge_method: 'S256',
  }).toString();
  let result = await browser.navigate(url, {}, client.redirectUri);
  if (!result.stoppedAt) {
    const { action } = formFieldsOf(result.body ?? '');
    assert.ok(action, `expected the login page, got ${result.response?.status}: ${result.body}`);
    result = await browser.navigate(
      new URL(action, url),
      {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ login, password }).toString(),
      },
      client.redirectUri,
    );
  }
  const code = result.stoppedAt?.searchParams.get('code');
  assert.ok(code, `expected a code at the client, got ${result.response?.status}: ${result.body}`);
  return okJson<TokenResponse>(
    await tokenRequest(discovery, client, {
      grant_type: 'authorization_code',
      code,
      redirect_uri: client.redirectUri,
      code_verifier: codeVerifier,
    }),
  );
}

async function stats(idp: DemoIdp): Promise<DemoIdpStats> {
  return okJson<DemoIdpStats>(await fetch(new URL('/_demo/stats', idp.issuer)));
}

async function discover(idp: DemoIdp): Promise<Discovery> {
  return okJson<Discovery>(await fetch(new URL('/.well-known/openid-configuration', idp.issuer)));
}

type ReceivedLogout = { path: string; contentType: string | undefined; form: URLSearchParams };

/** An HTTPS server on localhost with a self-signed certificate that records back-channel logout POSTs. */
class LogoutReceiver {
  readonly received: ReceivedLogout[] = [];
  readonly #waiters: Array<{ count: number; resolve: () => void }> = [];
  #server: HttpsServer | undefined;
  #port = 0;

  async start(): Promise<void> {
    const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
      keyType: 'ec',
      curve: 'P-256',
      extensions: [
        {
          name: 'subjectAltName',
          altNames: [
            { type: 2, value: 'localhost' },
            { type: 7, ip: '127.0.0.1' },
          ],
        },
      ],
    });
    this.#server = createHttpsServer({ cert: pems.cert, key: pems.private }, (request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const path = new URL(request.url ?? '/', 'https://localhost').pathname;
        this.received.push({
          path,
          contentType: request.headers['content-type'],
          form: new URLSearchParams(Buffer.concat(chunks).toString('utf8')),
        });
        // `/fail` plays a relying party that cannot process the logout token.
        response.statusCode = path === '/fail' ? 500 : 200;
        response.setHeader('cache-control', 'no-store');
        response.end();
        for (const waiter of this.#waiters.filter((w) => this.received.length >= w.count)) {
          this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
          waiter.resolve();
        }
      });
    });
    const server = this.#server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.#port = (server.address() as AddressInfo).port;
  }

  url(path: string): string {
    return `https://localhost:${this.#port}${path}`;
  }

  /** Resolves once `count` requests in total have arrived. */
  waitForCount(count: number): Promise<void> {
    if (this.received.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ count, resolve }));
  }

  async close(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }
}

function logoutTokensAt(receiver: LogoutReceiver, from: number): Array<{ path: string; claims: LogoutTokenClaims; header: { typ?: string } }> {
  return receiver.received.slice(from).map((request) => {
    assert.equal(request.contentType, 'application/x-www-form-urlencoded');
    const token = request.form.get('logout_token');
    assert.ok(token, 'the POST carries a logout_token');
    return { path: request.path, claims: decodeJwtPart<LogoutTokenClaims>(token, 1), header: decodeJwtPart<{ typ?: string }>(token, 0) };
  });
}

function assertLogoutToken(claims: LogoutTokenClaims, issuer: string, clientId: string, sid: string | undefined): void {
  assert.equal(claims.iss, issuer);
  assert.equal(claims.aud, clientId);
  assert.ok(sid, 'the ID token carried a sid');
  assert.equal(claims.sid, sid);
  assert.deepEqual(Object.keys(claims.events), [BACKCHANNEL_LOGOUT_EVENT]);
  assert.equal(typeof claims.jti, 'string');
  assert.ok(claims.jti.length > 0);
  assert.equal(typeof claims.iat, 'number');
  assert.equal('nonce' in claims, false, 'a logout token has no nonce');
}

describe('demo IdP session lifecycle', () => {
  const receiver = new LogoutReceiver();
  const appA: TestClient = { clientId: 'app-a', clientSecret: 'secret-a', redirectUri: 'https://app-a.example.test/oidc/callback' };
  const appB: TestClient = { clientId: 'app-b', clientSecret: 'secret-b', redirectUri: 'https://app-b.example.test/oidc/callback' };
  const failing: TestClient = { clientId: 'app-failing', clientSecret: 'secret-f', redirectUri: 'https://app-f.example.test/oidc/callback' };
  const plain: TestClient = { clientId: 'app-plain', clientSecret: 'secret-p', redirectUri: 'https://app-p.example.test/oidc/callback' };
  let idp: DemoIdp;
  let discovery: Discovery;

  before(async () => {
    await receiver.start();
    const registered = (client: TestClient, backchannelLogoutUri?: string) => ({
      clientId: client.clientId,
      clientSecret: client.clientSecret,
      redirectUris: [client.redirectUri],
      postLogoutRedirectUris: [`${new URL(client.redirectUri).origin}/`],
      backchannelLogoutUri,
    });
    idp = await startDemoIdp({
      port: 0,
      clients: [
        registered(appA, receiver.url('/a/backchannel-logout')),
        registered(appB, receiver.url('/b/backchannel-logout')),
        registered(failing, receiver.url('/fail')),
        registered(plain),
      ],
      ttl: { idTokenSeconds: 5, accessTokenSeconds: 5 },
      rotateRefreshTokens: true,
      users: [...DEFAULT_DEMO_USERS, CAROL],
    });
    discovery = await discover(idp);
  });

  after(async () => {
    await idp.close();
    await receiver.close();
  });

  it('announces back-channel logout with sessions in discovery', () => {
    assert.equal(discovery.backchannel_logout_supported, true);
    assert.equal(discovery.backchannel_logout_session_supported, true);
  });

  it('issues 5-second ID and access tokens', async () => {
    const tokens = await signIn(new TestBrowser(), discovery, appA);
    const claims = decodeJwtPart<IdTokenClaims>(tokens.id_token, 1);
    assert.equal(claims.exp - claims.iat, 5);
    assert.equal(tokens.expires_in, 5);
  });

  it('rotates refresh tokens: a new one per refresh, the used one then fails with invalid_grant', async () => {
    const before = await stats(idp);
    const tokens = await signIn(new TestBrowser(), discovery, appA);
    assert.ok(tokens.refresh_token);
    const first = decodeJwtPart<IdTokenClaims>(tokens.id_token, 1);
    assert.ok(first.sid, 'ID tokens of a back-channel logout client carry sid');

    const refreshed = await okJson<TokenResponse>(await refresh(discovery, appA, tokens.refresh_token));
    assert.ok(refreshed.refresh_token);
    assert.notEqual(refreshed.refresh_token, tokens.refresh_token);
    assert.equal(refreshed.expires_in, 5);
    const second = decodeJwtPart<IdTokenClaims>(refreshed.id_token, 1);
    assert.equal(second.sub, first.sub);
    assert.equal(second.sid, first.sid);
    assert.equal(second.email, 'alice@example.com');
    assert.equal(second.name, 'Alice Liddell');
    assert.deepEqual(second.groups, ['admins', 'engineering']);
    assert.equal(second.exp - second.iat, 5);

    // The new refresh token works once more before the old one is replayed.
    const again = await okJson<TokenResponse>(await refresh(discovery, appA, refreshed.refresh_token));
    assert.ok(again.refresh_token);
    assert.notEqual(again.refresh_token, refreshed.refresh_token);
    assert.equal(decodeJwtPart<IdTokenClaims>(again.id_token, 1).sid, first.sid);

    const replay = await refresh(discovery, appA, tokens.refresh_token);
    assert.equal(replay.status, 400);
    assert.equal(((await replay.json()) as { error: string }).error, 'invalid_grant');

    const after = await stats(idp);
    assert.equal(after.authorizationCodeGrants - before.authorizationCodeGrants, 1);
    assert.equal(after.refreshGrants - before.refreshGrants, 2, 'the failed refresh is not counted');
  });

  it('POST /_demo/backchannel-logout sends a logout token to every client of the user and ends the sessions', async () => {
    const before = await stats(idp);
    const from = receiver.received.length;
    const browser = new TestBrowser();
    const tokensA = await signIn(browser, discovery, appA, 'carol@example.com', 'carol');
    const tokensB = await signIn(browser, discovery, appB); // same IdP session, no second sign-in
    const tokensPlain = await signIn(browser, discovery, plain);
    const bobTokens = await signIn(new TestBrowser(), discovery, appA, 'bob@example.com', 'bob');
    const sidA = decodeJwtPart<IdTokenClaims>(tokensA.id_token, 1).sid;
    const sidB = decodeJwtPart<IdTokenClaims>(tokensB.id_token, 1).sid;
    assert.notEqual(sidA, undefined);

    const response = await fetch(new URL('/_demo/backchannel-logout', idp.issuer), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'Carol@Example.com' }),
    });
    const result = await okJson<BackchannelLogoutResult>(response);
    assert.equal(result.sessionsEnded, 1);
    assert.equal(result.backchannelLogoutsSent, 2, 'app-a and app-b; app-plain has no backchannel_logout_uri');
    assert.equal(result.backchannelLogoutFailures, 0);
    await receiver.waitForCount(from + 2);

    const tokens = logoutTokensAt(receiver, from).sort((x, y) => x.path.localeCompare(y.path));
    assert.deepEqual(
      tokens.map((t) => t.path),
      ['/a/backchannel-logout', '/b/backchannel-logout'],
    );
    assertLogoutToken(tokens[0]!.claims, idp.issuer, appA.clientId, sidA);
    assertLogoutToken(tokens[1]!.claims, idp.issuer, appB.clientId, sidB);
    assert.equal(tokens[0]!.claims.sub, 'carol');
    assert.equal(tokens[0]!.header.typ, 'logout+jwt');
    assert.notEqual(tokens[0]!.claims.jti, tokens[1]!.claims.jti);

    const after = await stats(idp);
    assert.equal(after.backchannelLogoutsSent - before.backchannelLogoutsSent, 2);
    assert.equal(after.backchannelLogoutFailures - before.backchannelLogoutFailures, 0);

    // Carol's refresh tokens are revoked everywhere; bob is untouched.
    for (const [client, issued] of [
      [appA, tokensA],
      [appB, tokensB],
      [plain, tokensPlain],
    ] as const) {
      const denied = await refresh(discovery, client, issued.refresh_token ?? '');
      assert.equal(denied.status, 400, client.clientId);
      assert.equal(((await denied.json()) as { error: string }).error, 'invalid_grant');
    }
    await okJson<TokenResponse>(await refresh(discovery, appA, bobTokens.refresh_token ?? ''));

    // The IdP session is gone: the next authorization shows the login page again.
    const url = new URL(discovery.authorization_endpoint);
    url.search = new URLSearchParams({
      response_type: 'code',
      client_id: appA.clientId,
      redirect_uri: appA.redirectUri,
      scope: 'openid',
      code_challenge: createHash('sha256').update('verifier').digest('base64url'),
      code_challenge_method: 'S256',
    }).toString();
    const page = await browser.navigate(url, {}, appA.redirectUri);
    assert.equal(page.stoppedAt, undefined);
    assert.match(page.body ?? '', /name="password"/);
  });

  it('counts a logout token the client refuses as a failure', async () => {
    const before = await stats(idp);
    await signIn(new TestBrowser(), discovery, failing, 'bob@example.com', 'bob');
    const result = await okJson<BackchannelLogoutResult>(
      await fetch(new URL('/_demo/backchannel-logout', idp.issuer), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'bob@example.com' }),
      }),
    );
    // bob's earlier session (app-a, previous test) is ended as well.
    assert.equal(result.sessionsEnded, 2);
    assert.equal(result.backchannelLogoutsSent, 1);
    assert.equal(result.backchannelLogoutFailures, 1);
    const after = await stats(idp);
    assert.equal(after.backchannelLogoutFailures - before.backchannelLogoutFailures, 1);
    assert.equal(after.backchannelLogoutsSent - before.backchannelLogoutsSent, result.backchannelLogoutsSent);
  });

  it('rejects bad admin requests', async () => {
    const endpoint = new URL('/_demo/backchannel-logout', idp.issuer);
    const form = await fetch(endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'email=alice%40example.com',
    });
    assert.equal(form.status, 415);
    const unknown = await fetch(endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'mallory@example.com' }),
    });
    assert.equal(unknown.status, 404);
    const garbage = await fetch(endpoint, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' });
    assert.equal(garbage.status, 400);
    assert.equal((await fetch(new URL('/_demo/nothing', idp.issuer))).status, 404);
  });

  it('sends the logout token when the user signs out at end_session ("Yes, sign me out")', async () => {
    const before = await stats(idp);
    const from = receiver.received.length;
    const browser = new TestBrowser();
    const tokens = await signIn(browser, discovery, appA);
    const sid = decodeJwtPart<IdTokenClaims>(tokens.id_token, 1).sid;

    const postLogout = `${new URL(appA.redirectUri).origin}/`;
    const endSession = new URL(discovery.end_session_endpoint);
    endSession.search = new URLSearchParams({ id_token_hint: tokens.id_token, post_logout_redirect_uri: postLogout }).toString();
    const confirmation = await browser.navigate(endSession, {}, postLogout);
    const form = formFieldsOf(confirmation.body ?? '');
    assert.ok(form.action && form.fields['xsrf']);
    const signedOut = await browser.navigate(
      new URL(form.action, endSession),
      {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ xsrf: form.fields['xsrf'] ?? '', logout: 'yes' }).toString(),
      },
      postLogout,
    );
    assert.ok(signedOut.stoppedAt, 'back at the client after signing out');
    await receiver.waitForCount(from + 1);

    const [delivered] = logoutTokensAt(receiver, from);
    assert.equal(receiver.received.length, from + 1);
    assert.equal(delivered?.path, '/a/backchannel-logout');
    assertLogoutToken(delivered.claims, idp.issuer, appA.clientId, sid);
    const after = await stats(idp);
    assert.equal(after.backchannelLogoutsSent - before.backchannelLogoutsSent, 1);
  });
});

describe('demo IdP defaults', () => {
  it('keeps the refresh token without rotation and one-hour tokens', async () => {
    const client: TestClient = { clientId: 'app', clientSecret: 'secret', redirectUri: 'https://app.example.test/cb' };
    const idp = await startDemoIdp({
      port: 0,
      clients: [{ clientId: client.clientId, clientSecret: client.clientSecret, redirectUris: [client.redirectUri] }],
    });
    try {
      const discovery = await discover(idp);
      const tokens = await signIn(new TestBrowser(), discovery, client);
      const claims = decodeJwtPart<IdTokenClaims>(tokens.id_token, 1);
      assert.equal(claims.exp - claims.iat, 3600);
      assert.equal(claims.sid, undefined, 'no back-channel logout URI, no sid');
      assert.ok(tokens.refresh_token);
      const refreshed = await okJson<TokenResponse>(await refresh(discovery, client, tokens.refresh_token));
      assert.equal(refreshed.refresh_token, tokens.refresh_token);
      await okJson<TokenResponse>(await refresh(discovery, client, tokens.refresh_token));
      assert.deepEqual(await stats(idp), {
        refreshGrants: 2,
        authorizationCodeGrants: 1,
        backchannelLogoutsSent: 0,
        backchannelLogoutFailures: 0,
      });
    } finally {
      await idp.close();
    }
  });

  it('rejects a token lifetime that is not a positive whole number', async () => {
    await assert.rejects(startDemoIdp({ port: 0, clients: [], ttl: { idTokenSeconds: 0 } }), /ttl\.idTokenSeconds must be a positive whole number/);
  });
});

describe('demo IdP outgoing fetch', () => {
  it('treats only localhost, 127.0.0.1 and ::1 as loopback', () => {
    for (const url of ['https://localhost:8443/x', 'https://127.0.0.1/x', 'https://[::1]:9/x', 'http://LOCALHOST/']) {
      assert.equal(isLoopbackUrl(new URL(url)), true, url);
    }
    for (const url of ['https://localhost.example.com/x', 'https://127.0.0.2/x', 'https://example.com/x', 'https://[::2]/']) {
      assert.equal(isLoopbackUrl(new URL(url)), false, url);
    }
  });

  it('hands any other target to the global fetch with the provider options unchanged', async () => {
    const calls: Array<[unknown, RequestInit | undefined]> = [];
    const fetchMock = mock.method(globalThis, 'fetch', async (input: unknown, init?: RequestInit) => {
      calls.push([input, init]);
      return new Response(null, { status: 204 });
    });
    try {
      const init = { method: 'POST', body: 'x', dispatcher: { marker: true } } as RequestInit;
      const response = await demoIdpFetch('https://gateway.example.com/aporeto/oidc/backchannel-logout', init);
      assert.equal(response.status, 204);
      assert.equal(calls.length, 1);
      assert.equal(String(calls[0]?.[0]), 'https://gateway.example.com/aporeto/oidc/backchannel-logout');
      assert.equal(calls[0]?.[1], init, 'same options: the SSRF-guarding, verifying dispatcher is kept');
    } finally {
      fetchMock.mock.restore();
    }
  });
});
