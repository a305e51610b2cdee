// Integration: each provider profile (providers.ts) against the demo IdP behaving like that provider
// (oidc-provider in this process), with a real openid-client Configuration found by discovery, and
// alice signing in through the IdP's login page as login.ts would send her: the authorization
// parameters and the tags come from the profile.
//
// Not covered here: Azure AD's multi-tenant issuer template (`{tenantid}` in the discovery document's
// issuer). openid-client accepts such a document only from https://login.microsoftonline.com (its
// handleEntraId), so it cannot be discovered from localhost; isTenantTemplate / issuerForTenant are
// checked below against a real token's `tid` only.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { DEMO_AZURE_TENANT_ID, startDemoIdp, type DemoIdp, type DemoIdpBehaviour } from '@microseg/demo';
import { TestBrowser, formFieldsOf } from '@microseg/testkit/test-browser';
import { authorizationParameters, isTenantTemplate, issuerForTenant, profileFor, tagsFromClaims, type ProviderProfile } from './providers.ts';

const CLIENT_ID = 'profiles-app';
const CLIENT_SECRET = 'profiles-app-secret';
const REDIRECT_URI = 'https://profiles-app.example.test/aporeto/oidc/callback';

type Tokens = client.TokenEndpointResponse & client.TokenEndpointResponseHelpers;

type Provider = { idp: DemoIdp; config: client.Configuration };

/** The demo IdP behaving like `behaveLike`, and the Configuration authn would discover from its issuer. */
async function provider(behaveLike: DemoIdpBehaviour): Promise<Provider> {
  const idp = await startDemoIdp({
    port: 0,
    behaveLike,
    clients: [{ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUris: [REDIRECT_URI] }],
  });
  try {
    const config = await client.discovery(new URL(idp.issuer), CLIENT_ID, undefined, client.ClientSecretBasic(CLIENT_SECRET), {
      execute: [client.allowInsecureRequests],
    });
    return { idp, config };
  } catch (error) {
    await idp.close();
    throw error;
  }
}

async function withProvider(behaveLike: DemoIdpBehaviour, run: (p: Provider) => Promise<void>): Promise<void> {
  const p = await provider(behaveLike);
  try {
    await run(p);
  } finally {
    await p.idp.close();
  }
}

type Login = {
  /** The authorization request as sent. */
  url: URL;
  /** Where the IdP sent the browser back to the client. */
  callback: URL;
  /** The code exchange with the checks login.ts asks openid-client for. */
  exchange(): Promise<Tokens>;
};

/** Login start as login.ts builds it, in a new browser; the user signs in if the IdP shows its login page. */
async function signIn(config: client.Configuration, profile: ProviderProfile, scopes: string[], user = 'alice'): Promise<Login> {
  const state = client.randomState();
  const nonce = client.randomNonce();
  const codeVerifier = client.randomPKCECodeVerifier();
  const url = client.buildAuthorizationUrl(config, {
    ...authorizationParameters(profile, scopes),
    redirect_uri: REDIRECT_URI,
    response_type: 'code',
    state,
    nonce,
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
  });
  const browser = new TestBrowser();
  const page = await browser.navigate(url, {}, REDIRECT_URI);
  let callback = page.stoppedAt;
  if (!callback) {
    const { action } = formFieldsOf(page.body ?? '');
    assert.ok(action, `expected the IdP's login page, got ${page.response?.status}`);
    const signedIn = await browser.navigate(
      new URL(action, url),
      {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ login: `${user}@example.com`, password: user }).toString(),
      },
      REDIRECT_URI,
    );
    callback = signedIn.stoppedAt;
    assert.ok(callback, `expected a redirect to the client, got ${signedIn.response?.status}`);
  }
  const back = callback;
  return {
    url,
    callback: back,
    exchange: () =>
      client.authorizationCodeGrant(config, back, {
        pkceCodeVerifier: codeVerifier,
        expectedState: state,
        expectedNonce: nonce,
        idTokenExpected: true,
      }),
  };
}

function idClaims(tokens: Tokens): Record<string, unknown> & { iss: string; sub: string } {
  const claims = tokens.claims();
  assert.ok(claims && tokens.id_token, 'an ID token');
  return claims;
}

function scopesOf(url: URL): string[] {
  return (url.searchParams.get('scope') ?? '').split(' ');
}

describe('provider profiles against the demo IdP behaving like each provider', () => {
  test('standard (generic profile): offline_access with prompt=consent yields a refresh token', async () => {
    await withProvider('standard', async ({ idp, config }) => {
      const profile = profileFor(idp.issuer, 'auto');
      assert.equal(profile, 'generic');
      const login = await signIn(config, profile, ['openid', 'email', 'offline_access']);
      assert.deepEqual(scopesOf(login.url), ['openid', 'email', 'offline_access']);
      assert.equal(login.url.searchParams.get('prompt'), 'consent');
      const tokens = await login.exchange();
      assert.equal(idClaims(tokens).sub, 'alice');
      assert.ok(tokens.refresh_token, 'a refresh token');
      const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
      assert.equal(idClaims(refreshed).sub, 'alice');
    });
  });

  test('google: access_type=offline and prompt=consent instead of offline_access, and a refresh token; the generic profile gets invalid_scope', async () => {
    await withProvider('google', async ({ idp, config }) => {
      const profile = profileFor(idp.issuer, 'google');
      assert.equal(profile, 'google');
      const scopes = ['openid', 'email', 'offline_access'];
      const login = await signIn(config, profile, scopes);
      assert.deepEqual(scopesOf(login.url), ['openid', 'email'], 'no offline_access scope');
      assert.equal(login.url.searchParams.get('access_type'), 'offline');
      assert.equal(login.url.searchParams.get('prompt'), 'consent');
      const tokens = await login.exchange();
      assert.equal(idClaims(tokens).email, 'alice@example.com');
      assert.ok(tokens.refresh_token, 'a refresh token');
      const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
      assert.equal(idClaims(refreshed).sub, 'alice');

      // Why the profile matters: the same scopes sent the standard way are refused, before any login page.
      const generic = await signIn(config, profileFor(idp.issuer, 'generic'), scopes);
      assert.ok(scopesOf(generic.url).includes('offline_access'));
      assert.equal(generic.callback.searchParams.get('error'), 'invalid_scope');
      assert.equal(generic.callback.searchParams.get('code'), null);
      await assert.rejects(generic.exchange(), (error: unknown) => {
        assert.ok(error instanceof client.AuthorizationResponseError);
        assert.equal(error.error, 'invalid_scope');
        return true;
      });
    });
  });

  test('keycloak: realm and client roles nested in the ID token become tags, at login and after a refresh', async () => {
    await withProvider('keycloak', async ({ idp, config }) => {
      const profile = profileFor(idp.issuer, 'keycloak');
      assert.equal(profile, 'keycloak');
      assert.equal(profileFor(idp.issuer, 'auto'), 'keycloak', 'the /realms/<name> issuer is recognised as well');
      const login = await signIn(config, profile, ['openid', 'email', 'profile', 'offline_access']);
      assert.equal(login.url.searchParams.get('prompt'), null, 'Keycloak needs no prompt=consent for offline_access');
      const tokens = await login.exchange();
      const tags = tagsFromClaims(profile, idClaims(tokens));
      for (const tag of [
        'realm_access.roles=admin',
        'realm_access.roles=user',
        `resource_access.${CLIENT_ID}.roles=editor`,
        // The generic nested form (SPEC §4.4) of the same claims.
        'realm_access:roles=admin',
        `resource_access:${CLIENT_ID}:roles=editor`,
        'email=alice@example.com',
      ]) {
        assert.ok(tags.includes(tag), `${tag} in ${tags.join(', ')}`);
      }
      assert.ok(tokens.refresh_token, 'a refresh token for offline_access');
      const refreshed = tagsFromClaims(profile, idClaims(await client.refreshTokenGrant(config, tokens.refresh_token)));
      assert.ok(refreshed.includes('realm_access.roles=admin') && refreshed.includes(`resource_access.${CLIENT_ID}.roles=editor`), 'roles after a refresh');

      const bob = tagsFromClaims(profile, idClaims(await (await signIn(config, profile, ['openid', 'email'], 'bob')).exchange()));
      assert.ok(bob.includes('realm_access.roles=user'));
      assert.ok(!bob.some((tag) => tag === 'realm_access.roles=admin' || tag.startsWith('resource_access.')), bob.join(', '));
    });
  });

  test('azure: a groups overage becomes groups.overage=true and no groups tag; the token names its tenant', async () => {
    await withProvider('azure', async ({ idp, config }) => {
      const profile = profileFor(idp.issuer, 'azure');
      assert.equal(profile, 'azure');
      const login = await signIn(config, profile, ['openid', 'email', 'profile', 'offline_access']);
      const tokens = await login.exchange();
      const claims = idClaims(tokens);
      const tags = tagsFromClaims(profile, claims);
      assert.ok(tags.includes('groups.overage=true'), tags.join(', '));
      assert.ok(!tags.some((tag) => tag.startsWith('groups=')), 'no groups tag');
      assert.ok(tokens.refresh_token, 'a refresh token for offline_access without prompt=consent');

      // The tenant template resolves to the token's own issuer with its tid (the template itself
      // cannot be discovered on localhost: see the note at the top).
      assert.equal(claims['tid'], DEMO_AZURE_TENANT_ID);
      const template = idp.issuer.replace(DEMO_AZURE_TENANT_ID, '{tenantid}');
      assert.ok(isTenantTemplate(template));
      assert.equal(issuerForTenant(template, claims['tid']), claims.iss);

      const bob = tagsFromClaims(profile, idClaims(await (await signIn(config, profile, ['openid', 'profile'], 'bob')).exchange()));
      assert.ok(bob.includes('groups=engineering'));
      assert.ok(!bob.includes('groups.overage=true'));
    });
  });

  test('okta: discovery at the /oauth2/default issuer, whose ID tokens name it', async () => {
    await withProvider('okta', async ({ idp, config }) => {
      assert.match(idp.issuer, /^http:\/\/localhost:\d+\/oauth2\/default$/);
      assert.equal(config.serverMetadata().issuer, idp.issuer);
      assert.ok(config.serverMetadata().authorization_endpoint?.startsWith(`${idp.issuer}/`));
      const profile = profileFor(idp.issuer, 'okta');
      assert.equal(profile, 'okta');
      const login = await signIn(config, profile, ['openid', 'email', 'offline_access']);
      const tokens = await login.exchange();
      const claims = idClaims(tokens);
      assert.equal(claims.iss, idp.issuer);
      assert.ok(tagsFromClaims(profile, claims).includes('email=alice@example.com'));
      assert.ok(tokens.refresh_token, 'a refresh token for offline_access without prompt=consent');
      assert.equal(idClaims(await client.refreshTokenGrant(config, tokens.refresh_token)).iss, idp.issuer);
    });
  });
});
