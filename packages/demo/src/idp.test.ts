import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startDemoIdp, type DemoIdp } from './idp.ts';
import { formFieldsOf, TestBrowser } from '@microseg/testkit/test-browser';

const CLIENT_ID = 'test-app';
const CLIENT_SECRET = 'test-secret-with-:-and-%';
const REDIRECT_URI = 'https://app.example.test/oidc/callback';
const POST_LOGOUT_REDIRECT_URI = 'https://app.example.test/signed-out';

type Discovery = {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  end_session_endpoint: string;
  jwks_uri: string;
  code_challenge_methods_supported: string[];
  scopes_supported: string[];
  claims_supported: string[];
  token_endpoint_auth_methods_supported: string[];
  response_types_supported: string[];
  grant_types_supported: string[];
};

type TokenResponse = {
  access_token: string;
  id_token: string;
  refresh_token?: string;
  token_type: string;
  scope: string;
};

type IdTokenClaims = {
  iss: string;
  aud: string;
  sub: string;
  nonce: string;
  email: string;
  email_verified: boolean;
  name: string;
  groups: string[];
};

function base64url(bytes: Buffer): string {
  return bytes.toString('base64url');
}

function decodeJwtPart<T>(jwt: string, index: 0 | 1): T {
  const part = jwt.split('.')[index];
  assert.ok(part, 'JWT has the expected parts');
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as T;
}

/** RFC 6749 §2.3.1: id and secret are form-urlencoded before base64. */
function basicAuthorization(clientId: string, clientSecret: string): string {
  const encode = (value: string) => new URLSearchParams({ v: value }).toString().slice(2);
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(clientSecret)}`).toString('base64')}`;
}

function newAuthorizationRequest(discovery: Discovery, extra: Record<string, string> = {}) {
  const codeVerifier = base64url(randomBytes(32));
  const state = base64url(randomBytes(16));
  const nonce = base64url(randomBytes(16));
  const url = new URL(discovery.authorization_endpoint);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: CLIENT_ID,
    redirect_uri: REDIRECT_URI,
    scope: 'openid email profile offline_access',
    state,
    nonce,
    code_challenge: base64url(createHash('sha256').update(codeVerifier).digest()),
    code_challenge_method: 'S256',
    ...extra,
  }).toString();
  return { url, codeVerifier, state, nonce };
}

async function openLoginPage(browser: TestBrowser, authorizationUrl: URL): Promise<{ html: string; action: URL }> {
  const page = await browser.navigate(authorizationUrl, {}, REDIRECT_URI);
  assert.equal(page.stoppedAt, undefined, 'the first visit must show a login page, not return to the client');
  assert.equal(page.response?.status, 200);
  const html = page.body ?? '';
  const { action } = formFieldsOf(html);
  assert.ok(action, 'login page has a form action');
  return { html, action: new URL(action, authorizationUrl) };
}

function submitLogin(browser: TestBrowser, action: URL, login: string, password: string) {
  return browser.navigate(
    action,
    {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ login, password }).toString(),
    },
    REDIRECT_URI,
  );
}

async function exchangeCode(discovery: Discovery, code: string, codeVerifier: string): Promise<Response> {
  return fetch(discovery.token_endpoint, {
    method: 'POST',
    headers: {
      authorization: basicAuthorization(CLIENT_ID, CLIENT_SECRET),
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: REDIRECT_URI,
      code_verifier: codeVerifier,
    }).toString(),
  });
}

describe('demo IdP', () => {
  let idp: DemoIdp;
  let discovery: Discovery;

  before(async () => {
    idp = await startDemoIdp({
      port: 0,
      clients: [
        {
          clientId: CLIENT_ID,
          clientSecret: CLIENT_SECRET,
          redirectUris: [REDIRECT_URI],
          postLogoutRedirectUris: [POST_LOGOUT_REDIRECT_URI],
        },
      ],
    });
    const response = await fetch(new URL('/.well-known/openid-configuration', idp.issuer));
    assert.equal(response.status, 200);
    discovery = (await response.json()) as Discovery;
  });

  after(async () => {
    await idp.close();
  });

  it('publishes discovery for the code flow with PKCE S256 and the demo scopes and claims', () => {
    assert.match(idp.issuer, /^http:\/\/localhost:\d+$/);
    assert.equal(discovery.issuer, idp.issuer);
    assert.deepEqual(discovery.code_challenge_methods_supported, ['S256']);
    assert.deepEqual(discovery.response_types_supported, ['code']);
    for (const scope of ['openid', 'email', 'profile', 'offline_access']) assert.ok(discovery.scopes_supported.includes(scope), scope);
    for (const claim of ['sub', 'email', 'email_verified', 'name', 'groups']) assert.ok(discovery.claims_supported.includes(claim), claim);
    for (const method of ['client_secret_basic', 'client_secret_post']) {
      assert.ok(discovery.token_endpoint_auth_methods_supported.includes(method), method);
    }
    assert.ok(discovery.grant_types_supported.includes('refresh_token'));
    assert.ok(discovery.end_session_endpoint);
  });

  it('runs the authorization code flow with PKCE for alice and issues an ID token with her claims', async () => {
    const browser = new TestBrowser();
    // oidc-provider drops offline_access (so issues no refresh token) unless prompt includes consent.
    const request = newAuthorizationRequest(discovery, { prompt: 'consent' });
    const loginPage = await openLoginPage(browser, request.url);
    assert.match(loginPage.html, /name="login"/);
    assert.match(loginPage.html, /name="password"/);
    assert.match(loginPage.html, /<label for="login">/);
    assert.match(loginPage.html, /<button type="submit">Sign in<\/button>/);
    assert.doesNotMatch(loginPage.html, /https?:\/\//, 'the login page loads nothing from elsewhere');

    const result = await submitLogin(browser, loginPage.action, 'alice@example.com', 'alice');
    assert.ok(result.stoppedAt, `expected a redirect to the client, got ${result.response?.status}: ${result.body}`);
    const callback = result.stoppedAt;
    assert.equal(callback.searchParams.get('state'), request.state);
    assert.equal(callback.searchParams.get('iss'), idp.issuer);
    const code = callback.searchParams.get('code');
    assert.ok(code, 'callback carries a code');

    const tokenResponse = await exchangeCode(discovery, code, request.codeVerifier);
    assert.equal(tokenResponse.status, 200, await tokenResponse.clone().text());
    const tokens = (await tokenResponse.json()) as TokenResponse;
    assert.equal(tokens.token_type, 'Bearer');
    assert.ok(tokens.access_token);
    assert.equal(tokens.scope, 'openid email profile offline_access');
    assert.ok(tokens.refresh_token, 'offline_access with prompt=consent yields a refresh token');

    const header = decodeJwtPart<{ alg: string; kid: string }>(tokens.id_token, 0);
    assert.equal(header.alg, 'RS256');
    const claims = decodeJwtPart<IdTokenClaims>(tokens.id_token, 1);
    assert.equal(claims.iss, idp.issuer);
    assert.equal(claims.aud, CLIENT_ID);
    assert.equal(claims.sub, 'alice');
    assert.equal(claims.nonce, request.nonce);
    assert.equal(claims.email, 'alice@example.com');
    assert.equal(claims.email_verified, true);
    assert.equal(claims.name, 'Alice Liddell');
    assert.deepEqual(claims.groups, ['admins', 'engineering']);

    const jwks = (await (await fetch(discovery.jwks_uri)).json()) as { keys: Array<{ kid: string; d?: string }> };
    assert.ok(
      jwks.keys.some((key) => key.kid === header.kid),
      'the signing key is published',
    );
    assert.ok(
      jwks.keys.every((key) => key.d === undefined),
      'no private key material is published',
    );

    // The refresh token works with client_secret_post too.
    const refreshed = await fetch(discovery.token_endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: tokens.refresh_token,
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
      }).toString(),
    });
    assert.equal(refreshed.status, 200, await refreshed.clone().text());
    const refreshedClaims = decodeJwtPart<IdTokenClaims>(((await refreshed.json()) as TokenResponse).id_token, 1);
    assert.deepEqual(refreshedClaims.groups, ['admins', 'engineering']);

    // The code is single-use; replaying it also revokes what it issued (oidc-provider revokes the grant).
    const replay = await exchangeCode(discovery, code, request.codeVerifier);
    assert.equal(replay.status, 400);

    // A second authorization in the same browser needs no new sign-in.
    const again = newAuthorizationRequest(discovery);
    const silent = await browser.navigate(again.url, {}, REDIRECT_URI);
    assert.ok(silent.stoppedAt?.searchParams.get('code'), 'the existing session yields a code directly');
  });

  it('drops offline_access, so issues no refresh token, without prompt=consent', async () => {
    const browser = new TestBrowser();
    const request = newAuthorizationRequest(discovery);
    const loginPage = await openLoginPage(browser, request.url);
    const result = await submitLogin(browser, loginPage.action, 'bob@example.com', 'bob');
    const code = result.stoppedAt?.searchParams.get('code');
    assert.ok(code);
    const tokens = (await (await exchangeCode(discovery, code, request.codeVerifier)).json()) as TokenResponse;
    assert.equal(tokens.scope, 'openid email profile');
    assert.equal(tokens.refresh_token, undefined);
    const claims = decodeJwtPart<IdTokenClaims>(tokens.id_token, 1);
    assert.equal(claims.email, 'bob@example.com');
    assert.deepEqual(claims.groups, ['engineering']);
  });

  it('issues a JWT access token (RFC 9068) with aud = the client id when the client names its application as resource; an opaque one otherwise', async () => {
    const browser = new TestBrowser();
    const resource = new URL(REDIRECT_URI).origin;
    const request = newAuthorizationRequest(discovery, { resource });
    const loginPage = await openLoginPage(browser, request.url);
    const code = (await submitLogin(browser, loginPage.action, 'alice@example.com', 'alice')).stoppedAt?.searchParams.get('code');
    assert.ok(code);
    const response = await exchangeCode(discovery, code, request.codeVerifier);
    assert.equal(response.status, 200, await response.clone().text());
    const tokens = (await response.json()) as TokenResponse;
    const header = decodeJwtPart<{ alg: string; typ: string; kid: string }>(tokens.access_token, 0);
    assert.equal(header.typ, 'at+jwt');
    assert.equal(header.alg, 'RS256');
    const claims = decodeJwtPart<Record<string, unknown>>(tokens.access_token, 1);
    assert.equal(claims.iss, idp.issuer);
    assert.equal(claims.aud, CLIENT_ID);
    assert.equal(claims.client_id, CLIENT_ID);
    assert.equal(claims.sub, 'alice');
    assert.equal(claims.email, 'alice@example.com');
    assert.ok(typeof claims.iat === 'number' && typeof claims.exp === 'number' && typeof claims.jti === 'string');
    assert.equal(claims.nonce, undefined, 'an access token is not an ID token');

    // Another application's origin is not a resource of this client.
    const other = newAuthorizationRequest(discovery, { resource: 'https://elsewhere.example.test' });
    const refused = await browser.navigate(other.url, {}, REDIRECT_URI);
    assert.equal(refused.stoppedAt?.searchParams.get('error'), 'invalid_target');

    // Without a resource: an opaque access token, as before.
    const plain = newAuthorizationRequest(discovery);
    const plainCode = (await browser.navigate(plain.url, {}, REDIRECT_URI)).stoppedAt?.searchParams.get('code');
    assert.ok(plainCode);
    const opaque = (await (await exchangeCode(discovery, plainCode, plain.codeVerifier)).json()) as TokenResponse;
    assert.equal(opaque.access_token.split('.').length, 1);
  });

  it('shows an error and issues no code on a wrong password', async () => {
    const browser = new TestBrowser();
    const request = newAuthorizationRequest(discovery);
    const loginPage = await openLoginPage(browser, request.url);
    const result = await submitLogin(browser, loginPage.action, 'alice@example.com', 'not-alices-password');
    assert.equal(result.stoppedAt, undefined, 'no redirect to the client');
    assert.equal(result.response?.status, 200);
    assert.match(result.body ?? '', /Wrong e-mail or password\./);
    assert.match(result.body ?? '', /value="alice@example.com"/, 'the login is kept');
    assert.doesNotMatch(result.body ?? '', /not-alices-password/, 'the password is not echoed');

    const retry = await submitLogin(browser, loginPage.action, 'bob@example.com', 'bob');
    assert.ok(retry.stoppedAt?.searchParams.get('code'), 'a correct password on the same interaction succeeds');
  });

  it('HTML-escapes what the user typed on the login page', async () => {
    const browser = new TestBrowser();
    const loginPage = await openLoginPage(browser, newAuthorizationRequest(discovery).url);
    const result = await submitLogin(browser, loginPage.action, '"><script>alert(1)</script>', 'x');
    assert.doesNotMatch(result.body ?? '', /<script>/);
    assert.match(result.body ?? '', /&quot;&gt;&lt;script&gt;/);
  });

  it('returns access_denied to the client when the user cancels the sign-in', async () => {
    const browser = new TestBrowser();
    const request = newAuthorizationRequest(discovery);
    const loginPage = await openLoginPage(browser, request.url);
    const cancel = /href="(\/interaction\/[^"]+\/abort)"/.exec(loginPage.html)?.[1];
    assert.ok(cancel, 'login page links to cancel');
    const result = await browser.navigate(new URL(cancel, loginPage.action), {}, REDIRECT_URI);
    assert.equal(result.stoppedAt?.searchParams.get('error'), 'access_denied');
    assert.equal(result.stoppedAt?.searchParams.get('state'), request.state);
    assert.equal(result.stoppedAt?.searchParams.get('code'), null);
  });

  it('rejects an authorization request without PKCE', async () => {
    const request = newAuthorizationRequest(discovery);
    request.url.searchParams.delete('code_challenge');
    request.url.searchParams.delete('code_challenge_method');
    const result = await new TestBrowser().navigate(request.url, {}, REDIRECT_URI);
    assert.equal(result.stoppedAt?.searchParams.get('error'), 'invalid_request');
    assert.equal(result.stoppedAt?.searchParams.get('code'), null);
  });

  it('rejects a code exchange with the wrong code_verifier', async () => {
    const browser = new TestBrowser();
    const request = newAuthorizationRequest(discovery);
    const loginPage = await openLoginPage(browser, request.url);
    const result = await submitLogin(browser, loginPage.action, 'bob@example.com', 'bob');
    const code = result.stoppedAt?.searchParams.get('code');
    assert.ok(code);
    const response = await exchangeCode(discovery, code, base64url(randomBytes(32)));
    assert.equal(response.status, 400);
    assert.equal(((await response.json()) as { error: string }).error, 'invalid_grant');
  });

  it('signs out through RP-initiated logout without loading anything from elsewhere', async () => {
    const browser = new TestBrowser();
    const request = newAuthorizationRequest(discovery);
    const loginPage = await openLoginPage(browser, request.url);
    const result = await submitLogin(browser, loginPage.action, 'bob@example.com', 'bob');
    const code = result.stoppedAt?.searchParams.get('code');
    assert.ok(code);
    const tokens = (await (await exchangeCode(discovery, code, request.codeVerifier)).json()) as TokenResponse;

    const endSession = new URL(discovery.end_session_endpoint);
    endSession.search = new URLSearchParams({
      id_token_hint: tokens.id_token,
      post_logout_redirect_uri: POST_LOGOUT_REDIRECT_URI,
      state: 'bye',
    }).toString();
    const confirmation = await browser.navigate(endSession, {}, POST_LOGOUT_REDIRECT_URI);
    assert.equal(confirmation.response?.status, 200);
    const html = confirmation.body ?? '';
    assert.doesNotMatch(html, /fonts\.googleapis|@import/);
    const form = formFieldsOf(html);
    assert.ok(form.action && form.fields['xsrf']);

    const signedOut = await browser.navigate(
      new URL(form.action, endSession),
      {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ xsrf: form.fields['xsrf'] ?? '', logout: 'yes' }).toString(),
      },
      POST_LOGOUT_REDIRECT_URI,
    );
    assert.equal(signedOut.stoppedAt?.searchParams.get('state'), 'bye');

    // The session is gone: a new authorization asks for the password again.
    const again = await openLoginPage(browser, newAuthorizationRequest(discovery).url);
    assert.match(again.html, /Sign in/);
  });
});
