import { test } from 'node:test';
import assert from 'node:assert/strict';
import { authorizationParameters, expectedIssuer, isTenantTemplate, issuerForTenant, profileFor, tagsFromClaims, tenantProblem } from './providers.ts';

test('the profile is chosen from the issuer unless the service names one', () => {
  const table: Array<[string, string, string]> = [
    ['https://accounts.google.com', 'auto', 'google'],
    ['https://login.microsoftonline.com/0b6e7c0c-1111-2222-3333-444455556666/v2.0', 'auto', 'azure'],
    ['https://login.microsoftonline.com/common/v2.0', 'auto', 'azure'],
    ['https://acme.okta.com/oauth2/default', 'auto', 'okta'],
    ['https://acme.oktapreview.com/oauth2/default', 'auto', 'okta'],
    ['https://sso.example.com/realms/acme', 'auto', 'keycloak'],
    ['https://sso.example.com/auth/realms/acme/', 'auto', 'keycloak'],
    ['https://idp.example.com', 'auto', 'generic'],
    ['http://localhost:9400', 'auto', 'generic'],
    ['https://idp.example.com', 'keycloak', 'keycloak'],
    ['https://accounts.google.com', 'generic', 'generic'],
    ['not a url', 'auto', 'generic'],
  ];
  for (const [url, configured, expected] of table) assert.equal(profileFor(url, configured), expected, `${url} (${configured})`);
});

test('authorization parameters per provider', () => {
  assert.deepEqual(authorizationParameters('generic', ['openid', 'email']), { scope: 'openid email' });
  assert.deepEqual(authorizationParameters('generic', ['openid', 'email', 'offline_access']), { scope: 'openid email offline_access', prompt: 'consent' });
  // Google takes no offline_access scope: access_type=offline and prompt=consent instead.
  assert.deepEqual(authorizationParameters('google', ['openid', 'email', 'offline_access']), {
    scope: 'openid email',
    access_type: 'offline',
    prompt: 'consent',
  });
  assert.deepEqual(authorizationParameters('google', ['openid', 'email']), { scope: 'openid email' });
  for (const profile of ['okta', 'azure', 'keycloak'] as const) {
    assert.deepEqual(authorizationParameters(profile, ['openid', 'offline_access']), { scope: 'openid offline_access' }, profile);
  }
});

test('Keycloak roles nested under realm_access and resource_access become tags', () => {
  const claims = {
    sub: 'u1',
    email: 'alice@example.com',
    realm_access: { roles: ['admin', 'offline_access', 7] },
    resource_access: { 'private-app': { roles: ['editor'] }, 'bad client!': { roles: ['x'] } },
  };
  const tags = tagsFromClaims('keycloak', claims);
  assert.ok(tags.includes('realm_access.roles=admin'));
  assert.ok(tags.includes('realm_access.roles=offline_access'));
  assert.ok(tags.includes('resource_access.private-app.roles=editor'));
  assert.ok(!tags.some((t) => t.includes('bad client')), 'odd client ids are skipped');
  assert.ok(!tags.some((t) => t.endsWith('=7')), 'numbers are ignored');
  assert.ok(tags.includes('email=alice@example.com'));
  assert.ok(!tagsFromClaims('google', claims).includes('realm_access.roles=admin'), 'only for Keycloak-like providers');
  // The generic nested form, for every provider (SPEC §4.4).
  for (const profile of ['keycloak', 'google', 'generic'] as const) {
    const nested = tagsFromClaims(profile, claims);
    for (const tag of ['realm_access:roles=admin', 'realm_access:roles=offline_access', 'resource_access:private-app:roles=editor']) {
      assert.ok(nested.includes(tag), `${profile}: ${tag} in ${nested.join(', ')}`);
    }
  }
});

test('an Azure AD groups overage is flagged rather than silently missing', () => {
  const claims = {
    sub: 'u1',
    _claim_names: { groups: 'src1' },
    _claim_sources: { src1: { endpoint: 'https://graph.microsoft.com/v1.0/users/u1/getMemberObjects' } },
  };
  assert.ok(tagsFromClaims('azure', claims).includes('groups.overage=true'));
  assert.ok(!tagsFromClaims('azure', { sub: 'u1', groups: ['a'] }).includes('groups.overage=true'));
});

test('the Azure AD multi-tenant issuer template resolves with the token tenant only', () => {
  const template = 'https://login.microsoftonline.com/{tenantid}/v2.0';
  assert.equal(isTenantTemplate(template), true);
  assert.equal(isTenantTemplate('https://login.microsoftonline.com/abc/v2.0'), false);
  assert.equal(
    issuerForTenant(template, '0b6e7c0c-1111-2222-3333-444455556666'),
    'https://login.microsoftonline.com/0b6e7c0c-1111-2222-3333-444455556666/v2.0',
  );
  assert.equal(issuerForTenant(template, '../evil'), undefined);
  assert.equal(issuerForTenant(template, undefined), undefined);
});

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const tenantCases: Array<{ name: string; allowed: string[]; provider: string; claims: Record<string, unknown>; expected: RegExp | undefined }> = [
  {
    name: 'no list, a single-tenant provider: no check',
    allowed: [],
    provider: `https://login.microsoftonline.com/${TENANT}/v2.0`,
    claims: {},
    expected: undefined,
  },
  { name: 'no list, another provider: no check', allowed: [], provider: 'https://idp.example.com', claims: { tid: 'anything' }, expected: undefined },
  {
    name: 'no list, /common: nobody',
    allowed: [],
    provider: 'https://login.microsoftonline.com/common/v2.0',
    claims: { tid: TENANT },
    expected: /lists no OIDCAllowedTenants/,
  },
  {
    name: 'no list, /organizations: nobody',
    allowed: [],
    provider: 'https://login.microsoftonline.com/organizations/v2.0',
    claims: { tid: TENANT },
    expected: /lists no OIDCAllowedTenants/,
  },
  {
    name: 'no list, /consumers: nobody',
    allowed: [],
    provider: 'https://login.microsoftonline.com/consumers/v2.0',
    claims: { tid: '9188040d-6c67-4c5b-b112-36a304b66dad' },
    expected: /lists no OIDCAllowedTenants/,
  },
  { name: 'listed tid', allowed: [TENANT], provider: 'https://login.microsoftonline.com/common/v2.0', claims: { tid: TENANT }, expected: undefined },
  {
    name: 'listed tid in another case',
    allowed: [TENANT.toUpperCase()],
    provider: 'https://login.microsoftonline.com/common/v2.0',
    claims: { tid: TENANT },
    expected: undefined,
  },
  {
    name: 'another tid',
    allowed: [TENANT],
    provider: 'https://login.microsoftonline.com/common/v2.0',
    claims: { tid: '0b6e7c0c-1111-2222-3333-444455556666' },
    expected: /not in OIDCAllowedTenants/,
  },
  { name: 'no tid', allowed: [TENANT], provider: 'https://login.microsoftonline.com/common/v2.0', claims: {}, expected: /names no tenant/ },
  { name: 'a tid that is not a string', allowed: [TENANT], provider: 'https://idp.example.com', claims: { tid: [TENANT] }, expected: /names no tenant/ },
];

for (const { name, allowed, provider, claims, expected } of tenantCases) {
  test(`tenantProblem: ${name}`, () => {
    const problem = tenantProblem(allowed, provider, claims);
    if (expected) assert.match(problem ?? '(accepted)', expected);
    else assert.equal(problem, undefined);
  });
}

test("expectedIssuer: the template with the token's tid, or the discovered issuer as it is", () => {
  const template = 'https://login.microsoftonline.com/{tenantid}/v2.0';
  assert.equal(expectedIssuer(template, { tid: TENANT }), `https://login.microsoftonline.com/${TENANT}/v2.0`);
  assert.equal(expectedIssuer(template, { tid: '../x' }), undefined);
  assert.equal(expectedIssuer('https://idp.example.com', { tid: TENANT }), 'https://idp.example.com');
});
