// Bearer verification against a fake provider (its JWKS served by a fake fetch) and a fake revocation
// store: which tokens are access tokens of this IdP for this client, and which are something else.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, KeyObject, randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, type JWTPayload } from 'jose';
import { verifyBearer, type BearerDeps } from './bearer.ts';
import type { OidcClient } from './oidc-clients.ts';

const ISSUER = 'https://idp.example.com';
const CLIENT_ID = 'private-app';
const NAMESPACE = '/acme/team-b';
const MAX_LIFETIME = 3_600;
const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const OTHER_TENANT = '0b6e7c0c-1111-2222-3333-444455556666';
const TEMPLATE = 'https://login.microsoftonline.com/{tenantid}/v2.0';

const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
const publicJwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
const publicPem = KeyObject.from(publicKey).export({ type: 'spki', format: 'pem' }).toString();

interface Provider {
  issuer?: string;
  profile?: string;
  providerUrl?: string;
  allowedTenants?: string[];
  revokedAtMs?: number;
}

function depsFor(provider: Provider = {}): BearerDeps {
  const oidc = {
    settings: {
      serviceId: `svc-${randomUUID()}`,
      clientId: CLIENT_ID,
      namespace: NAMESPACE,
      providerUrl: provider.providerUrl ?? ISSUER,
      providerProfile: provider.profile ?? '',
      acceptBearerTokens: true,
      allowedTenants: provider.allowedTenants ?? [],
    },
    config: {
      serverMetadata: () => ({ issuer: provider.issuer ?? ISSUER, jwks_uri: `${ISSUER}/jwks`, id_token_signing_alg_values_supported: ['RS256', 'HS256'] }),
    },
    fetch: async () => new Response(JSON.stringify({ keys: [publicJwk] }), { headers: { 'content-type': 'application/json' } }),
  } as unknown as OidcClient;
  return {
    clients: { get: async () => oidc },
    revocations: { revokedAtMs: async (names: readonly string[]) => (names.includes('alice') ? (provider.revokedAtMs ?? 0) : 0) },
    maxLifetimeSeconds: MAX_LIFETIME,
  };
}

const now = () => Math.floor(Date.now() / 1000);
const LOADED_AT = Date.now();
const accessClaims = (): JWTPayload => ({
  iss: ISSUER,
  aud: CLIENT_ID,
  sub: 'alice',
  email: 'alice@example.com',
  iat: now(),
  exp: now() + 300,
  client_id: CLIENT_ID,
  scope: 'openid email',
  jti: randomUUID(),
});

async function signed(claims: JWTPayload, header: Record<string, unknown> = { typ: 'at+jwt' }): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: 'k1', ...header }).sign(privateKey);
}

const b64 = (text: string) => Buffer.from(text).toString('base64url');
function hs256(claims: JWTPayload, secret: string): string {
  const input = `${b64(JSON.stringify({ alg: 'HS256', typ: 'JWT', kid: 'k1' }))}.${b64(JSON.stringify(claims))}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

async function valid(token: string | Promise<string>, provider?: Provider): Promise<boolean> {
  const reply = await verifyBearer(depsFor(provider), { serviceId: 'svc', token: await token } as never);
  return reply.valid === true;
}

const cases: Array<{ name: string; token: () => Promise<string> | string; provider?: Provider; accepted: boolean }> = [
  { name: 'an RFC 9068 access token (typ at+jwt)', token: () => signed(accessClaims()), accepted: true },
  { name: 'typ application/at+jwt', token: () => signed(accessClaims(), { typ: 'application/at+jwt' }), accepted: true },
  { name: 'typ JWT (Azure AD, Keycloak)', token: () => signed(accessClaims(), { typ: 'JWT' }), accepted: true },
  { name: 'typ At+JWT (case-insensitive)', token: () => signed(accessClaims(), { typ: 'At+JWT' }), accepted: true },
  { name: 'no typ (Okta)', token: () => signed(accessClaims(), {}), accepted: true },
  { name: 'an ID token (nonce)', token: () => signed({ ...accessClaims(), nonce: 'n-0S6_WzA2Mj' }, { typ: 'JWT' }), accepted: false },
  {
    name: 'an ID token without nonce but with at_hash',
    token: () => signed({ ...accessClaims(), at_hash: 'HK6E_P6Dh8Y93mRNtsDB1Q' }, { typ: 'JWT' }),
    accepted: false,
  },
  { name: 'an ID token with c_hash', token: () => signed({ ...accessClaims(), c_hash: 'LDktKdoQak3Pk0cnXxCltA' }, {}), accepted: false },
  {
    name: "a Keycloak access token (payload typ Bearer) with the login's nonce, with the keycloak profile",
    token: () => signed({ ...accessClaims(), typ: 'Bearer', nonce: 'n-1' }, { typ: 'JWT' }),
    provider: { profile: 'keycloak' },
    accepted: true,
  },
  {
    name: 'a token with payload typ Bearer and a nonce, without the keycloak profile',
    token: () => signed({ ...accessClaims(), typ: 'Bearer', nonce: 'n-1' }, { typ: 'JWT' }),
    accepted: false,
  },
  {
    name: 'a Keycloak ID token (payload typ ID), even without a nonce',
    token: () => signed({ ...accessClaims(), typ: 'ID' }, { typ: 'JWT' }),
    provider: { profile: 'keycloak' },
    accepted: false,
  },
  {
    name: 'a logout token (events)',
    token: () => signed({ ...accessClaims(), events: { 'http://schemas.openid.net/event/backchannel-logout': {} } }, { typ: 'logout+jwt' }),
    accepted: false,
  },
  {
    name: 'a logout token typed JWT (events)',
    token: () => signed({ ...accessClaims(), events: { 'http://schemas.openid.net/event/backchannel-logout': {} } }, { typ: 'JWT' }),
    accepted: false,
  },
  { name: 'typ logout+jwt alone', token: () => signed(accessClaims(), { typ: 'logout+jwt' }), accepted: false },
  { name: 'typ secevent+jwt', token: () => signed(accessClaims(), { typ: 'secevent+jwt' }), accepted: false },
  { name: 'typ id_token+jwt', token: () => signed(accessClaims(), { typ: 'id_token+jwt' }), accepted: false },
  { name: 'HS256 keyed with the client secret (although announced)', token: () => hs256(accessClaims(), 'the-client-secret'), accepted: false },
  { name: "HS256 keyed with the provider's public key (algorithm confusion)", token: () => hs256(accessClaims(), publicPem), accepted: false },
  { name: 'alg none', token: () => `${b64(JSON.stringify({ alg: 'none', typ: 'at+jwt' }))}.${b64(JSON.stringify(accessClaims()))}.`, accepted: false },
  { name: 'another audience', token: () => signed({ ...accessClaims(), aud: 'another-app' }), accepted: false },
  { name: 'another issuer', token: () => signed({ ...accessClaims(), iss: 'https://attacker.example' }), accepted: false },
  { name: 'no iat', token: () => signed({ ...accessClaims(), iat: undefined }), accepted: false },
  { name: 'iat an hour in the future', token: () => signed({ ...accessClaims(), iat: now() + 3_600, exp: now() + 3_900 }), accepted: false },
  { name: 'a lifetime past AUTHN_BEARER_MAX_LIFETIME_SECONDS', token: () => signed({ ...accessClaims(), exp: now() + MAX_LIFETIME + 60 }), accepted: false },
  { name: 'expired', token: () => signed({ ...accessClaims(), iat: now() - 600, exp: now() - 300 }), accepted: false },
  {
    name: 'email twice in the payload',
    token: () =>
      signed(accessClaims()).then((t) => {
        const [h, , s] = t.split('.');
        return `${h}.${b64(JSON.stringify(accessClaims()).replace(/}$/, ',"email":"mallory@example.com"}'))}.${s}`;
      }),
    accepted: false,
  },
  {
    name: 'a user revoked after the token was issued',
    token: () => signed({ ...accessClaims(), iat: now() - 10 }),
    provider: { revokedAtMs: Date.now() - 5_000 },
    accepted: false,
  },
  // Issued in the very second of the revocation, however long after loading this file the case runs.
  {
    name: "a token of the revocation's own second",
    token: () => signed({ ...accessClaims(), iat: Math.floor(LOADED_AT / 1000) }),
    provider: { revokedAtMs: LOADED_AT },
    accepted: false,
  },
  { name: 'a token issued after the user was revoked', token: () => signed(accessClaims()), provider: { revokedAtMs: Date.now() - 5_000 }, accepted: true },
  { name: 'OIDCAllowedTenants: a listed tid', token: () => signed({ ...accessClaims(), tid: TENANT }), provider: { allowedTenants: [TENANT] }, accepted: true },
  {
    name: 'OIDCAllowedTenants: another tid',
    token: () => signed({ ...accessClaims(), tid: OTHER_TENANT }),
    provider: { allowedTenants: [TENANT] },
    accepted: false,
  },
  { name: 'OIDCAllowedTenants: no tid', token: () => signed(accessClaims()), provider: { allowedTenants: [TENANT] }, accepted: false },
  {
    name: 'Azure multi-tenant: the issuer of a listed tenant',
    token: () => signed({ ...accessClaims(), iss: TEMPLATE.replace('{tenantid}', TENANT), tid: TENANT }, { typ: 'JWT' }),
    provider: { issuer: TEMPLATE, providerUrl: 'https://login.microsoftonline.com/common/v2.0', allowedTenants: [TENANT] },
    accepted: true,
  },
  {
    name: 'Azure multi-tenant: a tenant not listed',
    token: () => signed({ ...accessClaims(), iss: TEMPLATE.replace('{tenantid}', OTHER_TENANT), tid: OTHER_TENANT }, { typ: 'JWT' }),
    provider: { issuer: TEMPLATE, providerUrl: 'https://login.microsoftonline.com/common/v2.0', allowedTenants: [TENANT] },
    accepted: false,
  },
  {
    name: 'Azure multi-tenant: iss of one tenant, tid of another (listed)',
    token: () => signed({ ...accessClaims(), iss: TEMPLATE.replace('{tenantid}', OTHER_TENANT), tid: TENANT }, { typ: 'JWT' }),
    provider: { issuer: TEMPLATE, providerUrl: 'https://login.microsoftonline.com/common/v2.0', allowedTenants: [TENANT] },
    accepted: false,
  },
  {
    name: 'Azure multi-tenant without OIDCAllowedTenants: no tenant is accepted',
    token: () => signed({ ...accessClaims(), iss: TEMPLATE.replace('{tenantid}', TENANT), tid: TENANT }, { typ: 'JWT' }),
    provider: { issuer: TEMPLATE, providerUrl: 'https://login.microsoftonline.com/organizations/v2.0' },
    accepted: false,
  },
];

for (const { name, token, provider, accepted } of cases) {
  test(`bearer: ${name} is ${accepted ? 'accepted' : 'refused'}`, async () => {
    assert.equal(await valid(token(), provider), accepted);
  });
}

test('bearer: an accepted token gives the claims as tags and the email as subject', async () => {
  const reply = await verifyBearer(depsFor(), { serviceId: 'svc', token: await signed(accessClaims()) } as never);
  assert.equal(reply.valid, true);
  assert.equal(reply.subject, 'alice@example.com');
  assert.ok(reply.tags?.includes('email=alice@example.com'));
});

test('bearer: a service that does not accept bearer tokens refuses even a good one', async () => {
  const deps = depsFor();
  const oidc = await deps.clients.get('svc');
  (oidc.settings as { acceptBearerTokens: boolean }).acceptBearerTokens = false;
  assert.equal((await verifyBearer(deps, { serviceId: 'svc', token: await signed(accessClaims()) } as never)).valid, false);
});

test('bearer: the revocation store failing refuses the token (fail closed)', async () => {
  const deps = {
    ...depsFor(),
    revocations: {
      revokedAtMs: async () => {
        throw new Error('redis away');
      },
    },
  };
  assert.equal((await verifyBearer(deps, { serviceId: 'svc', token: await signed(accessClaims()) } as never)).valid, false);
});
