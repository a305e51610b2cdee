// The demo IdP imitating Google, Keycloak, Azure AD and Okta (behaveLike), driven with plain fetch
// and the TestBrowser.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { DEMO_AZURE_TENANT_ID, startDemoIdp, type DemoIdp, type DemoIdpBehaviour } from './idp.ts';
import { formFieldsOf, TestBrowser } from '@microseg/testkit/test-browser';

const CLIENT_ID = 'behaviour-app';
const CLIENT_SECRET = 'behaviour-secret';
const REDIRECT_URI = 'https://behaviour-app.example.test/oidc/callback';

type Discovery = {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  jwks_uri: string;
  userinfo_endpoint: string;
  end_session_endpoint: string;
  claims_supported: string[];
};

type TokenResponse = { access_token: string; id_token: string; refresh_token?: string; scope: string };
type Claims = Record<string, unknown> & { iss: string; sub: string; aud: string };

function claimsOf(jwt: string): Claims {
  return JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as Claims;
}

const basic = `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64')}`;

async function start(behaveLike: DemoIdpBehaviour): Promise<{ idp: DemoIdp; discovery: Discovery }> {
  const idp = await startDemoIdp({
    port: 0,
    behaveLike,
    clients: [{ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUris: [REDIRECT_URI] }],
  });
  try {
    const response = await fetch(`${idp.issuer}/.well-known/openid-configuration`);
    assert.equal(response.status, 200, `discovery at ${idp.issuer}`);
    return { idp, discovery: (await response.json()) as Discovery };
  } catch (error) {
    await idp.close();
    throw error;
  }
}

function authorizationUrl(discovery: Discovery, params: Record<string, string>) {
  const codeVerifier = randomBytes(32).toString('base64url');
  const url = new URL(discovery.authorization_endpoint);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: CLIENT_ID,
    redirect_uri: REDIRECT_URI,
    state: randomBytes(8).toString('base64url'),
    nonce: randomBytes(8).toString('base64url'),
    code_challenge: createHash('sha256').update(codeVerifier).digest('base64url'),
    code_challenge_method: 'S256',
    ...params,
  }).toString();
  return { url, codeVerifier };
}

/** The authorization request in a new browser, signed in as `login`, up to the redirect back to the client. */
async function authorize(discovery: Discovery, login: string, params: Record<string, string>): Promise<{ callback: URL; codeVerifier: string }> {
  const browser = new TestBrowser();
  const { url, codeVerifier } = authorizationUrl(discovery, params);
  const page = await browser.navigate(url, {}, REDIRECT_URI);
  if (page.stoppedAt) return { callback: page.stoppedAt, codeVerifier };
  const { action } = formFieldsOf(page.body ?? '');
  assert.ok(action, `expected the login page, got ${page.response?.status}: ${page.body}`);
  const signedIn = await browser.navigate(
    new URL(action, url),
    {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ login, password: login.split('@')[0] ?? '' }).toString(),
    },
    REDIRECT_URI,
  );
  assert.ok(signedIn.stoppedAt, `expected a redirect to the client, got ${signedIn.response?.status}: ${signedIn.body}`);
  return { callback: signedIn.stoppedAt, codeVerifier };
}

async function tokenRequest(discovery: Discovery, body: Record<string, string>): Promise<TokenResponse> {
  const response = await fetch(discovery.token_endpoint, {
    method: 'POST',
    headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(body).toString(),
  });
  assert.equal(response.status, 200, await response.clone().text());
  return (await response.json()) as TokenResponse;
}

/** Signs in and exchanges the code. */
async function signIn(discovery: Discovery, login: string, params: Record<string, string>): Promise<TokenResponse> {
  const { callback, codeVerifier } = await authorize(discovery, login, params);
  const code = callback.searchParams.get('code');
  assert.ok(code, `expected a code, got ${callback.search}`);
  return tokenRequest(discovery, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: codeVerifier });
}

function refresh(discovery: Discovery, refreshToken: string): Promise<TokenResponse> {
  return tokenRequest(discovery, { grant_type: 'refresh_token', refresh_token: refreshToken });
}

describe('demo IdP behaving like Google', () => {
  let idp: DemoIdp;
  let discovery: Discovery;
  before(async () => ({ idp, discovery } = await start('google')));
  after(() => idp.close());

  it('keeps the issuer at the root', () => {
    assert.match(idp.issuer, /^http:\/\/localhost:\d+$/);
    assert.equal(discovery.issuer, idp.issuer);
  });

  it('refuses the offline_access scope with invalid_scope, with or without prompt=consent', async () => {
    for (const extra of [{ prompt: 'consent' }, {}] as Array<Record<string, string>>) {
      const { url } = authorizationUrl(discovery, { scope: 'openid email offline_access', ...extra });
      const result = await new TestBrowser().navigate(url, {}, REDIRECT_URI);
      assert.equal(result.stoppedAt?.searchParams.get('error'), 'invalid_scope', JSON.stringify(extra));
      assert.equal(result.stoppedAt?.searchParams.get('code'), null);
    }
  });

  it('issues a refresh token for access_type=offline with prompt=consent, and only then', async () => {
    const tokens = await signIn(discovery, 'alice@example.com', { scope: 'openid email', access_type: 'offline', prompt: 'consent' });
    assert.ok(tokens.refresh_token, 'access_type=offline and prompt=consent yield a refresh token');
    const refreshed = await refresh(discovery, tokens.refresh_token);
    assert.equal(claimsOf(refreshed.id_token).sub, 'alice');

    const withoutConsent = await signIn(discovery, 'alice@example.com', { scope: 'openid email', access_type: 'offline' });
    assert.equal(withoutConsent.refresh_token, undefined, 'access_type=offline alone');
    const withoutOffline = await signIn(discovery, 'alice@example.com', { scope: 'openid email', prompt: 'consent' });
    assert.equal(withoutOffline.refresh_token, undefined, 'prompt=consent alone');
    const online = await signIn(discovery, 'alice@example.com', { scope: 'openid email', access_type: 'online', prompt: 'consent' });
    assert.equal(online.refresh_token, undefined, 'access_type=online');
  });

  it('refuses an unknown access_type', async () => {
    const { url } = authorizationUrl(discovery, { scope: 'openid', access_type: 'forever' });
    const result = await new TestBrowser().navigate(url, {}, REDIRECT_URI);
    assert.equal(result.stoppedAt?.searchParams.get('error'), 'invalid_request');
  });
});

describe('demo IdP behaving like Keycloak', () => {
  let idp: DemoIdp;
  let discovery: Discovery;
  before(async () => ({ idp, discovery } = await start('keycloak')));
  after(() => idp.close());

  it('has a realm issuer and Keycloak endpoint paths', async () => {
    assert.match(idp.issuer, /^http:\/\/localhost:\d+\/realms\/demo$/);
    assert.equal(discovery.issuer, idp.issuer);
    assert.equal(discovery.authorization_endpoint, `${idp.issuer}/protocol/openid-connect/auth`);
    assert.equal(discovery.token_endpoint, `${idp.issuer}/protocol/openid-connect/token`);
    assert.equal(discovery.jwks_uri, `${idp.issuer}/protocol/openid-connect/certs`);
    for (const claim of ['realm_access', 'resource_access']) assert.ok(discovery.claims_supported.includes(claim), claim);
    const root = await fetch(new URL('/.well-known/openid-configuration', idp.issuer));
    assert.equal(root.status, 404, 'nothing outside the realm');
  });

  it('puts realm and client roles in the ID token, and a refresh token for offline_access without prompt=consent', async () => {
    const tokens = await signIn(discovery, 'alice@example.com', { scope: 'openid email profile offline_access' });
    const claims = claimsOf(tokens.id_token);
    assert.equal(claims.iss, idp.issuer);
    assert.deepEqual(claims['realm_access'], { roles: ['admin', 'user'] });
    assert.deepEqual(claims['resource_access'], { [CLIENT_ID]: { roles: ['editor'] } });
    assert.ok(tokens.refresh_token);
    const refreshed = claimsOf((await refresh(discovery, tokens.refresh_token)).id_token);
    assert.deepEqual(refreshed['realm_access'], { roles: ['admin', 'user'] }, 'roles after a refresh too');

    const bob = claimsOf((await signIn(discovery, 'bob@example.com', { scope: 'openid' })).id_token);
    assert.deepEqual(bob['realm_access'], { roles: ['user'] });
    assert.equal(bob['resource_access'], undefined, 'bob has no client roles');
  });
});

describe('demo IdP behaving like Azure AD', () => {
  let idp: DemoIdp;
  let discovery: Discovery;
  before(async () => ({ idp, discovery } = await start('azure')));
  after(() => idp.close());

  it('has a tenant issuer', () => {
    assert.match(idp.issuer, new RegExp(`^http://localhost:\\d+/${DEMO_AZURE_TENANT_ID}/v2\\.0$`));
    assert.equal(discovery.issuer, idp.issuer);
  });

  it('gives alice (more groups than the limit) a groups overage and bob his groups, both with tid', async () => {
    const tokens = await signIn(discovery, 'alice@example.com', { scope: 'openid email profile offline_access' });
    const alice = claimsOf(tokens.id_token);
    assert.equal(alice.iss, idp.issuer);
    assert.equal(alice['tid'], DEMO_AZURE_TENANT_ID);
    assert.equal(alice['groups'], undefined, 'no groups list');
    assert.deepEqual(alice['_claim_names'], { groups: 'src1' });
    assert.deepEqual(alice['_claim_sources'], { src1: { endpoint: 'https://graph.microsoft.com/v1.0/users/alice/getMemberObjects' } });
    assert.ok(tokens.refresh_token, 'offline_access without prompt=consent');

    const bob = claimsOf((await signIn(discovery, 'bob@example.com', { scope: 'openid profile' })).id_token);
    assert.deepEqual(bob['groups'], ['engineering']);
    assert.equal(bob['_claim_names'], undefined);
    assert.equal(bob['tid'], DEMO_AZURE_TENANT_ID);

    const withoutProfile = claimsOf((await signIn(discovery, 'alice@example.com', { scope: 'openid' })).id_token);
    assert.equal(withoutProfile['_claim_names'], undefined, 'the overage goes where groups would, not further');
  });
});

describe('demo IdP behaving like Okta', () => {
  let idp: DemoIdp;
  let discovery: Discovery;
  before(async () => ({ idp, discovery } = await start('okta')));
  after(() => idp.close());

  it('serves discovery and Okta endpoint paths under the authorization server path', async () => {
    assert.match(idp.issuer, /^http:\/\/localhost:\d+\/oauth2\/default$/);
    assert.equal(discovery.issuer, idp.issuer);
    assert.equal(discovery.authorization_endpoint, `${idp.issuer}/v1/authorize`);
    assert.equal(discovery.token_endpoint, `${idp.issuer}/v1/token`);
    assert.equal(discovery.jwks_uri, `${idp.issuer}/v1/keys`);
    assert.equal(discovery.userinfo_endpoint, `${idp.issuer}/v1/userinfo`);
    assert.equal(discovery.end_session_endpoint, `${idp.issuer}/v1/logout`);
    assert.equal((await fetch(discovery.jwks_uri)).status, 200);
    for (const path of ['/.well-known/openid-configuration', '/oauth2/defaultx/.well-known/openid-configuration']) {
      assert.equal((await fetch(new URL(path, idp.issuer))).status, 404, path);
    }
  });

  it('signs alice in with the path issuer in the callback and the ID token, and refreshes', async () => {
    const { callback, codeVerifier } = await authorize(discovery, 'alice@example.com', { scope: 'openid email offline_access' });
    assert.equal(callback.searchParams.get('iss'), idp.issuer);
    const code = callback.searchParams.get('code');
    assert.ok(code);
    const tokens = await tokenRequest(discovery, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: codeVerifier });
    const claims = claimsOf(tokens.id_token);
    assert.equal(claims.iss, idp.issuer);
    assert.equal(claims['email'], 'alice@example.com');
    assert.ok(tokens.refresh_token, 'offline_access without prompt=consent');
    assert.equal(claimsOf((await refresh(discovery, tokens.refresh_token)).id_token).iss, idp.issuer);
    const userinfo = await fetch(discovery.userinfo_endpoint, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    assert.equal(userinfo.status, 200);
    assert.equal(((await userinfo.json()) as { sub: string }).sub, 'alice');
  });
});

describe('demo IdP behaving like the standard', () => {
  it('keeps offline_access without prompt=consent out, and refuses an unknown behaviour', async () => {
    const { idp, discovery } = await start('standard');
    try {
      const tokens = await signIn(discovery, 'bob@example.com', { scope: 'openid offline_access' });
      assert.equal(tokens.refresh_token, undefined);
      const withConsent = await signIn(discovery, 'bob@example.com', { scope: 'openid offline_access', prompt: 'consent' });
      assert.ok(withConsent.refresh_token);
    } finally {
      await idp.close();
    }
    await assert.rejects(startDemoIdp({ port: 0, clients: [], behaveLike: 'ping' as DemoIdpBehaviour }), /behaveLike must be one of/);
  });
});
