// The login under attack (SPEC §4, §10): a hostile OpenID Provider forges
// what a real attacker could — tokens, discovery documents, authorization
// responses, token responses, key sets — and each case asserts what the
// gateway answered, that no session was created and that the application
// behind it received nothing. test/attacks/README.md gives each case's source.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { insecureFetch, TestBrowser, waitFor, type HostileScenario } from '@microseg/testkit';
import {
  api,
  assertLoggedIn,
  assertRefused,
  attempt,
  countSessions,
  IDP_TIMEOUT_MS,
  SERVICE,
  startFixture,
  startRecordingUpstream,
  useTenant,
  type Fixture,
  type Refusal,
} from './oidc-kit.ts';

let f: Fixture;

before(async () => {
  f = await startFixture();
});

after(async () => {
  await f?.close();
});

/** Set the scenario, then give authn a provider it has never seen (fresh discovery and keys). */
async function fresh(tenant: string, scenario: HostileScenario): Promise<string> {
  f.idp.setScenario(scenario);
  return useTenant(f, tenant);
}

/** Refused at the callback with 401 AUTHN_TOKEN_INVALID for `reason`. */
const invalidToken = (reason: RegExp): Refusal => ({ status: 401, code: 'AUTHN_TOKEN_INVALID', reason });
/** The IdP could not be used (too slow, too large, broken): 502 AUTHN_DISCOVERY_FAILED. */
const idpFailed = (reason: RegExp, at: 'callback' | 'start' = 'callback'): Refusal => ({ at, status: 502, code: 'AUTHN_DISCOVERY_FAILED', reason });

/** A code the IdP issues directly for these authorization parameters (what an attacker obtains for itself). */
async function codeFor(issuer: string, params: Record<string, string>): Promise<string> {
  const url = new URL(`${issuer}/auth`);
  for (const [name, value] of Object.entries({ response_type: 'code', scope: 'openid email', state: 'attacker-state', ...params }))
    url.searchParams.set(name, value);
  const res = await fetch(url, { redirect: 'manual' });
  const code = new URL(res.headers.get('location') ?? 'http://x.invalid').searchParams.get('code');
  assert.ok(code, `the IdP issued no code: ${res.status}`);
  return code;
}

function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

const withCode = (code: string) => (callback: URL) => {
  callback.searchParams.set('code', code);
  return callback;
};

describe('the authorization code flow', () => {
  test('positive control: a correct provider logs alice in with state, nonce, PKCE S256 and client_secret_basic', async () => {
    await fresh('flow-positive', {});
    const from = f.idp.requests.length;
    await assertLoggedIn(f, () => attempt(f));
    const [auth] = f.idp.requestsTo('auth', from);
    assert.ok(auth);
    assert.equal(auth.query.get('response_type'), 'code');
    assert.equal(auth.query.get('client_id'), f.client.clientId);
    assert.equal(auth.query.get('redirect_uri'), f.redirectUri);
    assert.deepEqual(auth.query.get('scope')?.split(' ').sort(), ['email', 'openid']);
    assert.ok((auth.query.get('state') ?? '').length >= 22, 'state carries at least 128 bits');
    assert.ok((auth.query.get('nonce') ?? '').length >= 22, 'nonce carries at least 128 bits');
    assert.equal(auth.query.get('code_challenge_method'), 'S256');
    assert.match(auth.query.get('code_challenge') ?? '', /^[A-Za-z0-9_-]{43}$/);
    const [token] = f.idp.requestsTo('token', from);
    assert.ok(token);
    assert.match(String(token.headers.authorization), /^Basic /);
    const form = new URLSearchParams(token.body);
    assert.equal(form.get('grant_type'), 'authorization_code');
    assert.equal(form.get('redirect_uri'), f.redirectUri);
    assert.match(form.get('code_verifier') ?? '', /^[A-Za-z0-9_-]{43,128}$/);
    assert.equal(form.get('client_secret'), null, 'the secret travels in the Authorization header only');
  });

  test('PKCE downgrade: a discovery document without code_challenge_methods_supported still gets PKCE S256', async () => {
    await fresh('flow-no-pkce-announced', { discovery: { code_challenge_methods_supported: null } });
    const from = f.idp.requests.length;
    await assertLoggedIn(f, () => attempt(f));
    assert.equal(f.idp.requestsTo('auth', from)[0]?.query.get('code_challenge_method'), 'S256');
    assert.ok(new URLSearchParams(f.idp.requestsTo('token', from)[0]?.body).get('code_verifier'));
  });

  test('state replay: the same callback twice in the same browser is refused the second time, before any token request', async () => {
    await fresh('flow-replay', {});
    const first = await assertLoggedIn(f, () => attempt(f));
    const from = f.idp.requests.length;
    await assertRefused(f, async () => ({ ...first, final: undefined, startedAt: Date.now(), callback: await answer(first.browser, first.callbackUrl!) }), {
      status: 400,
      code: 'AUTHN_STATE_INVALID',
      reason: /unknown, expired or already used state/,
    });
    assert.equal(f.idp.requestsTo('token', from).length, 0, 'the code was not redeemed again');
  });

  test('login CSRF: a callback completed in another browser is refused and the code is never redeemed', async () => {
    await fresh('flow-other-browser', {});
    const from = f.idp.requests.length;
    await assertRefused(f, () => attempt(f, { callbackBrowser: new TestBrowser(insecureFetch) }), {
      status: 400,
      code: 'AUTHN_STATE_BINDING',
      reason: /started in another browser/,
    });
    assert.equal(f.idp.requestsTo('token', from).length, 0);
  });

  test('a state that was never issued is refused', async () => {
    await fresh('flow-forged-state', {});
    const from = f.idp.requests.length;
    await assertRefused(
      f,
      () =>
        attempt(f, {
          tamper: (cb) => {
            cb.searchParams.set('state', randomBytes(32).toString('base64url'));
            return cb;
          },
        }),
      { status: 400, code: 'AUTHN_STATE_INVALID', reason: /unknown, expired or already used state/ },
    );
    assert.equal(f.idp.requestsTo('token', from).length, 0);
  });

  test('a callback without state is refused', async () => {
    await fresh('flow-no-state', { authorization: { state: null } });
    await assertRefused(f, () => attempt(f), { status: 400, code: 'AUTHN_STATE_INVALID', reason: /unknown, expired or already used state/ });
  });

  test('a callback with the code twice is refused', async () => {
    await fresh('flow-two-codes', {});
    const from = f.idp.requests.length;
    await assertRefused(
      f,
      () =>
        attempt(f, {
          tamper: (cb) => {
            cb.searchParams.append('code', 'second-code');
            return cb;
          },
        }),
      invalidToken(/only once|multiple/i),
    );
    assert.equal(f.idp.requestsTo('token', from).length, 0);
  });

  test('an error response (access_denied) is refused and its description is not echoed', async () => {
    await fresh('flow-error', { authorization: { error: 'access_denied', error_description: '<script>alert(document.cookie)</script>' } });
    const result = await assertRefused(f, () => attempt(f), { status: 401, code: 'AUTHN_IDP_ERROR', reason: /answered access_denied/ });
    assert.doesNotMatch(result.callback!.body, /<script>|alert\(/);
  });

  test('an authorization response without a code is refused', async () => {
    await fresh('flow-no-code', { authorization: { code: null } });
    const from = f.idp.requests.length;
    await assertRefused(f, () => attempt(f), invalidToken(/code/));
    assert.equal(f.idp.requestsTo('token', from).length, 0);
  });

  test('mix-up: an authorization response whose iss names another issuer is refused before the code is sent anywhere', async () => {
    await fresh('flow-mixup-iss', { authorization: { iss: 'https://honest-idp.example.com' } });
    const from = f.idp.requests.length;
    await assertRefused(f, () => attempt(f), invalidToken(/iss/));
    assert.equal(f.idp.requestsTo('token', from).length, 0);
  });

  test('mix-up: an authorization response without iss from a provider that announces it is refused', async () => {
    await fresh('flow-mixup-no-iss', { authorization: { iss: null } });
    const from = f.idp.requests.length;
    await assertRefused(f, () => attempt(f), invalidToken(/iss/));
    assert.equal(f.idp.requestsTo('token', from).length, 0);
  });

  test('code injection: a code issued to another client is refused by the token endpoint, and the login with it', async () => {
    const issuer = await fresh('flow-code-other-client', {});
    const stolen = await codeFor(issuer, {
      client_id: f.otherClient.clientId,
      redirect_uri: f.redirectUri,
      nonce: 'attacker-nonce',
      ...challengeOf(pkcePair()),
    });
    const from = f.idp.requests.length;
    await assertRefused(f, () => attempt(f, { tamper: withCode(stolen) }), invalidToken(/invalid_grant/));
    const [token] = f.idp.requestsTo('token', from);
    assert.equal(new URLSearchParams(token?.body).get('code'), stolen, "the injected code was tried with microseg's own client authentication");
  });

  test("code injection: a code bound to the attacker's PKCE challenge is refused (the victim's verifier does not match)", async () => {
    const issuer = await fresh('flow-code-attacker-pkce', {});
    const stolen = await codeFor(issuer, { client_id: f.client.clientId, redirect_uri: f.redirectUri, nonce: 'attacker-nonce', ...challengeOf(pkcePair()) });
    await assertRefused(f, () => attempt(f, { tamper: withCode(stolen) }), invalidToken(/invalid_grant/));
  });

  test('code injection at a provider that ignores PKCE: the nonce of the other authorization request gives it away', async () => {
    const issuer = await fresh('flow-code-lax-pkce', { lax: { pkce: true } });
    const stolen = await codeFor(issuer, { client_id: f.client.clientId, redirect_uri: f.redirectUri, nonce: 'attacker-nonce', ...challengeOf(pkcePair()) });
    await assertRefused(f, () => attempt(f, { tamper: withCode(stolen) }), invalidToken(/nonce/));
  });
});

function challengeOf(pair: { challenge: string }): Record<string, string> {
  return { code_challenge: pair.challenge, code_challenge_method: 'S256' };
}

async function answer(browser: TestBrowser, url: URL) {
  const res = await browser.request(url, { headers: { accept: 'text/html' } });
  return { status: res.status, location: res.headers.get('location'), setCookie: res.headers.getSetCookie(), body: await res.text() };
}

describe('the token endpoint misbehaves', () => {
  test('it answers an OAuth error (invalid_grant)', async () => {
    await fresh('token-error', { answers: { token: { status: 400, body: JSON.stringify({ error: 'invalid_grant', error_description: 'nope' }) } } });
    await assertRefused(f, () => attempt(f), invalidToken(/invalid_grant/));
  });

  test('it answers HTML with 200', async () => {
    await fresh('token-html', { answers: { token: { status: 200, headers: { 'content-type': 'text/html' }, body: '<!doctype html><h1>Welcome</h1>' } } });
    await assertRefused(f, () => attempt(f), invalidToken(/JSON|content-type/i));
  });

  test('it answers 500 with HTML', async () => {
    await fresh('token-500', { answers: { token: { status: 500, headers: { 'content-type': 'text/html' }, body: '<h1>Internal Server Error</h1>' } } });
    await assertRefused(f, () => attempt(f), invalidToken(/500|status code/i));
  });

  test('it answers a valid token response padded beyond 1 MiB', async () => {
    await fresh('token-huge', { tokenResponse: { padding: 'x'.repeat(1_200_000) } });
    await assertRefused(f, () => attempt(f), idpFailed(/larger than 1048576 bytes/));
  });

  test('it streams an endless body without Content-Length', async () => {
    await fresh('token-huge-chunked', { answers: { token: { status: 200, body: `{"padding":"${'y'.repeat(3_000_000)}"}`, chunkBytes: 64 * 1024 } } });
    await assertRefused(f, () => attempt(f), idpFailed(/larger than 1048576 bytes/));
  });

  test(`it answers after the IdP timeout (${IDP_TIMEOUT_MS} ms), and the login gives up in time`, async () => {
    await fresh('token-slow', { delayMs: { token: 6_000 } });
    const started = Date.now();
    await assertRefused(f, () => attempt(f), idpFailed(/did not answer in time/));
    assert.ok(Date.now() - started < IDP_TIMEOUT_MS + 2_500, `the login took ${Date.now() - started} ms`);
  });

  test('it drips its answer a few bytes at a time', async () => {
    await fresh('token-drip', {
      answers: {
        token: { status: 200, body: JSON.stringify({ access_token: 'a', token_type: 'Bearer', id_token: 'x.y.z' }), chunkBytes: 4, chunkIntervalMs: 400 },
      },
    });
    const started = Date.now();
    await assertRefused(f, () => attempt(f), idpFailed(/did not answer in time/));
    assert.ok(Date.now() - started < IDP_TIMEOUT_MS + 2_500, `the login took ${Date.now() - started} ms`);
  });

  test('it answers without an ID token', async () => {
    await fresh('token-no-id-token', { tokenResponse: { id_token: null } });
    await assertRefused(f, () => attempt(f), invalidToken(/id_token/));
  });

  test('it answers without token_type', async () => {
    await fresh('token-no-token-type', { tokenResponse: { token_type: null } });
    await assertRefused(f, () => attempt(f), invalidToken(/token_type/));
  });

  test('it redirects the code exchange to an internal address: the redirect is not followed', async () => {
    const collector = await startRecordingUpstream();
    try {
      await fresh('token-redirect-internal', { answers: { token: { status: 307, headers: { location: `${collector.url}/steal` } } } });
      await assertRefused(f, () => attempt(f), idpFailed(/redirect \(HTTP 307\); authn follows no redirect/));
      assert.equal(collector.requests.length, 0, 'the internal address received nothing');
    } finally {
      await collector.close();
    }
  });
});

/** An external network and policy that let the service's processing unit reach `port` on this machine. */
async function allowLocalPort(name: string, port: number): Promise<() => Promise<void>> {
  const network = (await api(f, 'POST', '/externalnetworks', {
    name,
    entries: ['localhost', '127.0.0.1', '::1'],
    servicePorts: [`tcp/${port}`],
    associatedTags: [`ext:name=${name}`],
  })) as { ID: string };
  const policy = (await api(f, 'POST', '/networkaccesspolicies', {
    name: `allow-app-to-${name}`,
    action: 'Allow',
    applyPolicyMode: 'OutgoingTraffic',
    subject: [['$identity=processingunit', 'type=walkthrough-app']],
    object: [[`ext:name=${name}`]],
  })) as { ID: string };
  return async () => {
    await api(f, 'DELETE', `/networkaccesspolicies/${policy.ID}`);
    await api(f, 'DELETE', `/externalnetworks/${network.ID}`);
  };
}

/** Refused when discovery is checked: no login starts, 403 AUTHN_IDP_ADDRESS_REFUSED and an event naming why. */
const endpointRefused = (reason: RegExp): Refusal => ({ at: 'start', status: 403, code: 'AUTHN_IDP_ADDRESS_REFUSED', reason });

describe("the provider's endpoints are not an SSRF tool", () => {
  for (const endpoint of ['token_endpoint', 'jwks_uri'] as const) {
    test(`discovery puts the ${endpoint} on another port of this machine, even one network policy allows: no login starts and that port receives nothing`, async () => {
      const collector = await startRecordingUpstream();
      const disallow = await allowLocalPort(`collector-${endpoint.replace('_', '-')}`, collector.port);
      try {
        const from = f.idp.requests.length;
        await fresh(`ssrf-port-${endpoint}`, { discovery: { [endpoint]: `http://localhost:${collector.port}/${endpoint}` } });
        await assertRefused(
          f,
          () => attempt(f),
          endpointRefused(new RegExp(`${endpoint} authn does not call: http://localhost:${collector.port}/${endpoint} is not on the provider's own origin`)),
        );
        assert.equal(collector.requests.length, 0, 'the other port received nothing');
        assert.equal(f.idp.requestsTo('auth', from).length, 0, 'no authorization request was made');
      } finally {
        await disallow();
        await collector.close();
      }
    });
  }

  test('discovery puts the token endpoint at the cloud metadata address: refused before any request', async () => {
    await fresh('ssrf-metadata-token', { discovery: { token_endpoint: 'http://169.254.169.254/latest/meta-data/iam/security-credentials/' } });
    await assertRefused(f, () => attempt(f), endpointRefused(/token_endpoint authn does not call: http:\/\/169\.254\.169\.254\/latest\/meta-data/));
  });

  test('discovery puts the JWKS at the cloud metadata address (https, like a real host would): refused before any request', async () => {
    await fresh('ssrf-metadata-jwks', { discovery: { jwks_uri: 'https://169.254.169.254/latest/meta-data/' } });
    await assertRefused(
      f,
      () => attempt(f),
      endpointRefused(/jwks_uri authn does not call: https:\/\/169\.254\.169\.254\/latest\/meta-data\/ is not on the provider's own origin/),
    );
  });

  test('the provider URL itself names the metadata address: refused before any request', async () => {
    const from = f.idp.requests.length;
    await api(f, 'PATCH', `/services/${SERVICE}`, { OIDCProviderURL: 'https://169.254.169.254/latest', OIDCClientSecret: f.client.clientSecret });
    try {
      await waitFor(
        'the new provider URL to reach authn',
        async () => {
          const res = await new TestBrowser(insecureFetch).request(`${f.appUrl}/`, { headers: { accept: 'text/html' } });
          return /AUTHN_IDP_ADDRESS_REFUSED/.test(await res.text());
        },
        10_000,
        100,
      );
      await assertRefused(f, () => attempt(f), endpointRefused(/authn does not connect to 169\.254\.169\.254: 169\.254\.169\.254 is a link-local address/));
      assert.equal(f.idp.requests.length, from, 'nothing reached the hostile IdP either');
    } finally {
      await useTenant(f, 'ssrf-after-metadata');
    }
  });
});

describe('OIDCAllowedTenants: only the listed tenants sign in', () => {
  const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
  const OTHER = '0b6e7c0c-1111-2222-3333-444455556666';
  const cases: Array<[string, Record<string, unknown>, RegExp | undefined]> = [
    ['a token of another tenant is refused', { tid: OTHER }, /tenant "0b6e7c0c-1111-2222-3333-444455556666" is not in OIDCAllowedTenants/],
    ['a token that names no tenant is refused', {}, /names no tenant \(tid\)/],
    ['a token of a listed tenant is accepted', { tid: TENANT }, undefined],
  ];
  for (const [name, claims, reason] of cases) {
    test(name, async () => {
      await api(f, 'PATCH', `/services/${SERVICE}`, { OIDCAllowedTenants: [TENANT] });
      try {
        await fresh(`tenants-${Object.keys(claims).length ? String(claims.tid).slice(0, 8) : 'none'}`, { idToken: { claims } });
        if (reason) await assertRefused(f, () => attempt(f), invalidToken(reason));
        else await assertLoggedIn(f, () => attempt(f));
      } finally {
        await api(f, 'PATCH', `/services/${SERVICE}`, { OIDCAllowedTenants: [] });
      }
    });
  }
});

describe('the discovery document', () => {
  test('its issuer differs from the provider URL: no login starts', async () => {
    await fresh('discovery-issuer-mismatch', { discovery: { issuer: 'https://honest-idp.example.com' } });
    const from = f.idp.requests.length;
    await assertRefused(f, () => attempt(f), idpFailed(/issuer/, 'start'));
    assert.equal(f.idp.requestsTo('auth', from).length, 0);
  });

  test('it is HTML', async () => {
    await fresh('discovery-html', { answers: { discovery: { status: 200, headers: { 'content-type': 'text/html' }, body: '<html>maintenance</html>' } } });
    await assertRefused(f, () => attempt(f), idpFailed(/Discovery/, 'start'));
  });

  test('it is larger than 1 MiB', async () => {
    await fresh('discovery-huge', { discovery: { padding: 'z'.repeat(1_200_000) } });
    await assertRefused(f, () => attempt(f), idpFailed(/larger than 1048576 bytes/, 'start'));
  });

  test('it comes too slowly', async () => {
    await fresh('discovery-slow', { delayMs: { discovery: 6_000 } });
    await assertRefused(f, () => attempt(f), idpFailed(/did not answer in time/, 'start'));
  });
});

/** ID token cases: [name, tenant, scenario, expected reason]; each is refused at the callback with 401. */
const forgedTokens: Array<[string, string, HostileScenario | (() => HostileScenario), RegExp]> = [
  ['alg none when the provider announces RS256 only', 'idt-none', { idToken: { signWith: 'none' } }, /alg/],
  [
    'alg none even when the provider announces it',
    'idt-none-announced',
    { discovery: { id_token_signing_alg_values_supported: ['none', 'RS256'] }, idToken: { signWith: 'none' } },
    /algorithm microseg does not accept/,
  ],
  [
    'HS256 keyed with the client secret (announced)',
    'idt-hs256-secret',
    { discovery: { id_token_signing_alg_values_supported: ['RS256', 'HS256'] }, idToken: { signWith: 'client-secret' } },
    /algorithm microseg does not accept/,
  ],
  ['HS256 keyed with the client secret (not announced)', 'idt-hs256-secret-unannounced', { idToken: { signWith: 'client-secret' } }, /alg/],
  [
    "HS256 keyed with the provider's RSA public key (alg confusion)",
    'idt-hs256-public-key',
    { discovery: { id_token_signing_alg_values_supported: ['RS256', 'HS256'] }, idToken: { signWith: 'public-key-as-secret' } },
    /algorithm microseg does not accept/,
  ],
  ['RS256 with a corrupted signature', 'idt-bad-sig', { idToken: { signWith: 'corrupt' } }, /invalid signature/],
  [
    "signed by the attacker's key under the provider's kid",
    'idt-attacker-key-idp-kid',
    () => ({ idToken: { signWith: 'attacker', header: { kid: f.idp.currentKid } } }),
    /invalid signature/,
  ],
  ['an unknown kid', 'idt-unknown-kid', { idToken: { header: { kid: 'no-such-key' } } }, /names no key/],
  ['no kid while the JWKS has several keys', 'idt-kid-absent-multiple', { jwks: 'all', idToken: { header: { kid: null } } }, /several keys/],
  [
    "an embedded jwk header with the attacker's key",
    'idt-embedded-jwk',
    () => ({ idToken: { signWith: 'attacker', header: { jwk: f.idp.attacker.publicJwk } } }),
    /names no key/,
  ],
  [
    "an embedded jwk header with the attacker's key under the provider's kid",
    'idt-embedded-jwk-idp-kid',
    () => ({ idToken: { signWith: 'attacker', header: { jwk: f.idp.attacker.publicJwk, kid: f.idp.currentKid } } }),
    /invalid signature/,
  ],
  [
    "a jku header pointing at the attacker's JWKS",
    'idt-jku',
    () => ({ idToken: { signWith: 'attacker', header: { jku: f.idp.attacker.jwksUrl } } }),
    /names no key/,
  ],
  [
    'an x5u header pointing at the attacker',
    'idt-x5u',
    () => ({ idToken: { signWith: 'attacker', header: { x5u: `${f.idp.attacker.jwksUrl}.pem` } } }),
    /names no key/,
  ],
  [
    'a crit header naming an unknown extension',
    'idt-crit',
    { idToken: { header: { crit: ['urn:example:ignore-me'], 'urn:example:ignore-me': true } } },
    /crit/,
  ],
  [
    'alg twice in the header (the first says none, JSON.parse keeps the last)',
    'idt-dup-header',
    { idToken: { headerText: (h) => `{"alg":"none",${JSON.stringify(h).slice(1)}` } },
    /header has the member "alg" twice/,
  ],
  ['another issuer', 'idt-iss', { idToken: { claims: { iss: 'https://honest-idp.example.com' } } }, /iss/],
  ['another audience', 'idt-aud', { idToken: { claims: { aud: 'another-app' } } }, /aud/],
  [
    'an audience array with an extra untrusted audience and no azp',
    'idt-aud-extra-no-azp',
    () => ({ idToken: { claims: { aud: [f.client.clientId, 'another-app'] } } }),
    /additional untrusted audiences|aud/,
  ],
  [
    'an audience array whose azp is another client',
    'idt-azp-other',
    () => ({ idToken: { claims: { aud: [f.client.clientId, 'another-app'], azp: 'another-app' } } }),
    /azp/,
  ],
  ['another nonce', 'idt-nonce', { idToken: { claims: { nonce: 'attacker-nonce' } } }, /nonce/],
  ['no nonce', 'idt-no-nonce', { idToken: { claims: { nonce: null } } }, /nonce/],
  ['expired', 'idt-exp', { idToken: { claims: { exp: Math.floor(Date.now() / 1000) - 600, iat: Math.floor(Date.now() / 1000) - 1200 } } }, /exp/],
  ['no exp', 'idt-no-exp', { idToken: { claims: { exp: null } } }, /exp/],
  ['no iat', 'idt-no-iat', { idToken: { claims: { iat: null } } }, /iat/],
  [
    'iat a day in the future',
    'idt-iat-future',
    () => ({ idToken: { claims: { iat: Math.floor(Date.now() / 1000) + 86_400, exp: Math.floor(Date.now() / 1000) + 90_000 } } }),
    /issued in the future/,
  ],
  ['nbf in the future', 'idt-nbf', () => ({ idToken: { claims: { nbf: Math.floor(Date.now() / 1000) + 3_600 } } }), /nbf/],
  ['no sub', 'idt-no-sub', { idToken: { claims: { sub: null } } }, /sub/],
  ['a sub that is not a string', 'idt-sub-number', { idToken: { claims: { sub: 12345 } } }, /sub/],
  [
    'email twice in the payload (the first checked by the IdP, the last read by JSON.parse)',
    'idt-dup-email',
    { idToken: { claims: { email: 'mallory@example.com' }, payloadText: (claims) => JSON.stringify(claims).replace(/}$/, ',"email":"alice@example.com"}') } },
    /member "email" twice/,
  ],
];

describe('forged or invalid ID tokens are refused', () => {
  for (const [name, tenant, scenario, reason] of forgedTokens) {
    test(name, async () => {
      await fresh(tenant, typeof scenario === 'function' ? scenario() : scenario);
      const from = f.idp.requests.length;
      await assertRefused(f, () => attempt(f), invalidToken(reason));
      assert.equal(f.idp.requestsTo('attacker_jwks', from).length, 0, "the attacker's key set was never fetched");
      assert.ok(f.idp.requestsTo('jwks', from).length <= 2, `the JWKS was fetched ${f.idp.requestsTo('jwks', from).length} times`);
    });
  }

  test('no kid with a single key in the JWKS is accepted (the key is unambiguous)', async () => {
    await fresh('idt-kid-absent-single', { idToken: { header: { kid: null } } });
    await assertLoggedIn(f, () => attempt(f));
  });

  test('an audience array with azp naming this client is accepted', async () => {
    await fresh('idt-azp-self', { idToken: { claims: { aud: [f.client.clientId, 'another-app'], azp: f.client.clientId } } });
    await assertLoggedIn(f, () => attempt(f));
  });
});

describe('the JWKS', () => {
  test('answers HTML', async () => {
    await fresh('jwks-html', { answers: { jwks: { status: 200, headers: { 'content-type': 'text/html' }, body: '<html>login</html>' } } });
    await assertRefused(f, () => attempt(f), invalidToken(/Failed to parse the JSON Web Key Set/));
  });

  test('is empty', async () => {
    await fresh('jwks-empty', { jwks: 'empty' });
    await assertRefused(f, () => attempt(f), invalidToken(/names no key/));
  });

  test("publishes only the attacker's key, and the token is signed with the provider's", async () => {
    await fresh('jwks-attacker', { jwks: 'attacker', idToken: { header: { kid: 'x' } } });
    await assertRefused(f, () => attempt(f), invalidToken(/names no key/));
  });

  test('is larger than 1 MiB', async () => {
    await fresh('jwks-huge', { answers: { jwks: { status: 200, body: JSON.stringify({ keys: [], padding: 'k'.repeat(1_200_000) }) } } });
    await assertRefused(f, () => attempt(f), invalidToken(/could not be checked: the provider's answer is larger than 1048576 bytes/));
  });

  test('answers too slowly', async () => {
    await fresh('jwks-slow', { delayMs: { jwks: 6_000 } });
    const started = Date.now();
    await assertRefused(f, () => attempt(f), invalidToken(/could not be checked: the provider did not answer in time/));
    assert.ok(Date.now() - started < IDP_TIMEOUT_MS + 2_500, `the login took ${Date.now() - started} ms`);
  });

  test('key rotation: the provider signs with a new key; the next login fetches the JWKS once and succeeds', async () => {
    await fresh('jwks-rotation', {});
    await assertLoggedIn(f, () => attempt(f));
    await f.idp.rotateKeys();
    const from = f.idp.requests.length;
    await assertLoggedIn(f, () => attempt(f));
    assert.equal(f.idp.requestsTo('jwks', from).length, 1, 'the new key was fetched once');
    const again = f.idp.requests.length;
    await assertLoggedIn(f, () => attempt(f));
    assert.equal(f.idp.requestsTo('jwks', again).length, 0, 'and then came from the cache');
  });

  test('key rotation: once the new key set is known, a token signed with the retired key is refused', async () => {
    await fresh('jwks-retired', {});
    await assertLoggedIn(f, () => attempt(f));
    await f.idp.rotateKeys();
    // The first login after the rotation teaches authn the new key set (the old key is no longer in it).
    await assertLoggedIn(f, () => attempt(f));
    f.idp.setScenario({ idToken: { signWith: 'retired' } });
    const from = f.idp.requests.length;
    await assertRefused(f, () => attempt(f), invalidToken(/names no key/));
    assert.ok(f.idp.requestsTo('jwks', from).length <= 1, 'at most one refetch');
  });
});

/** authn's /metrics. */
async function authnMetrics(): Promise<string> {
  return (await fetch(`http://127.0.0.1:${f.cluster.ports.authn}/metrics`)).text();
}

/** The values one label takes among a metric's series. */
function labelValues(text: string, metric: string, label: string): Set<string> {
  const values = new Set<string>();
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${metric}{`)) continue;
    const match = new RegExp(`${label}="([^"]*)"`).exec(line);
    if (match) values.add(match[1]!);
  }
  return values;
}

const sumOf = (text: string, metric: string) =>
  text
    .split('\n')
    .filter((l) => l.startsWith(`${metric}{`))
    .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);

test('metric labels take no value from the IdP: many random `error` answers (authorization and refresh) create no new series', async () => {
  const randoms: string[] = [];
  const random = () => {
    const value = `attacker_${randomBytes(6).toString('hex')}`;
    randoms.push(value);
    return value;
  };
  // The authorization response names an error of the attacker's choosing.
  for (let i = 0; i < 3; i++) {
    await fresh(`labels-authorization-${i}`, { authorization: { error: random() } });
    await assertRefused(f, () => attempt(f), { status: 401, code: 'AUTHN_IDP_ERROR' });
  }
  // The token endpoint refuses refreshes with an error of the attacker's choosing.
  for (let i = 0; i < 3; i++) {
    await fresh(`labels-refresh-${i}`, { tokenResponse: { refresh_token: `hostile-refresh-${i}`, expires_in: 2 } });
    const login = await assertLoggedIn(f, () => attempt(f));
    const before = sumOf(await authnMetrics(), 'microseg_authn_refreshes_total');
    f.idp.setScenario({ answers: { token: { status: 400, body: JSON.stringify({ error: random(), error_description: 'no' }) } } });
    await waitFor(
      'authn to try a refresh and be refused',
      async () => {
        const res = await login.browser.request(`${f.appUrl}${login.path}`, { headers: { accept: 'application/json' } });
        await res.body?.cancel();
        return sumOf(await authnMetrics(), 'microseg_authn_refreshes_total') > before;
      },
      10_000,
      100,
    );
  }
  const text = await authnMetrics();
  for (const value of randoms) assert.ok(!text.includes(value), `${value} appears in /metrics`);
  const refreshResults = labelValues(text, 'microseg_authn_refreshes_total', 'result');
  assert.ok(refreshResults.has('other_idp_error'), `the refusals were counted: ${[...refreshResults].join(', ')}`);
  for (const value of refreshResults)
    assert.match(
      value,
      /^(success|error|other_idp_error|invalid_request|invalid_client|invalid_grant|unauthorized_client|unsupported_grant_type|invalid_scope|invalid_target|temporarily_unavailable|server_error)$/,
    );
  for (const value of labelValues(text, 'microseg_authn_logins_total', 'result')) assert.match(value, /^(success|[A-Z_]+)$/);
});

test('after all attacks, a correct provider still logs alice in and every session belongs to a successful login', async () => {
  await fresh('final-positive', {});
  await assertLoggedIn(f, () => attempt(f));
  // The upstream saw exactly one request per successful login (assertLoggedIn), and no more sessions exist than those logins.
  const successes = f.upstream.requests.length;
  const sessions = await countSessions(f);
  assert.ok(successes > 0 && sessions <= successes, `${sessions} sessions, ${successes} upstream requests`);
});
