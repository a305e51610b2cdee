// The hostile IdP behaves by default (a relying party could certify against
// it) and forges exactly what a scenario asks for.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { startHostileIdp, type HostileIdp } from './hostile-idp.ts';

let idp: HostileIdp;
const client = { clientId: 'rp', clientSecret: 'rp-secret' };
const redirectUri = 'https://rp.example.com/cb';

before(async () => {
  idp = await startHostileIdp({ clients: [client] });
});

after(async () => {
  await idp.close();
});

/** Authorization request → code; returns the redirect's parameters and the PKCE verifier. */
async function authorize(issuer = idp.issuer, extra: Record<string, string> = {}): Promise<{ params: URLSearchParams; verifier: string }> {
  const verifier = randomBytes(32).toString('base64url');
  const url = new URL(`${issuer}/auth`);
  const query = {
    response_type: 'code',
    client_id: client.clientId,
    redirect_uri: redirectUri,
    scope: 'openid email',
    state: 'st',
    nonce: 'n-1',
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    ...extra,
  };
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
  const res = await fetch(url, { redirect: 'manual' });
  assert.equal(res.status, 302);
  const location = new URL(res.headers.get('location')!);
  assert.equal(location.origin + location.pathname, redirectUri);
  return { params: location.searchParams, verifier };
}

async function redeem(issuer: string, code: string, verifier: string, secret = client.clientSecret): Promise<Response> {
  return fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${client.clientId}:${secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: verifier }),
  });
}

async function keySet(issuer: string) {
  return createLocalJWKSet((await (await fetch(`${issuer}/jwks`)).json()) as JSONWebKeySet);
}

test('by default: discovery, a code with state and iss, a token response whose ID token verifies with the JWKS', async () => {
  idp.setScenario({});
  const discovery = (await (await fetch(`${idp.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
  assert.equal(discovery.issuer, idp.issuer);
  assert.equal(discovery.token_endpoint, `${idp.issuer}/token`);
  const { params, verifier } = await authorize();
  assert.equal(params.get('state'), 'st');
  assert.equal(params.get('iss'), idp.issuer);
  const res = await redeem(idp.issuer, params.get('code')!, verifier);
  assert.equal(res.status, 200);
  const body = (await res.json()) as { id_token: string; token_type: string };
  assert.equal(body.token_type, 'Bearer');
  const { payload, protectedHeader } = await jwtVerify(body.id_token, await keySet(idp.issuer), { issuer: idp.issuer, audience: client.clientId });
  assert.equal(protectedHeader.kid, idp.currentKid);
  assert.equal(payload.nonce, 'n-1');
  assert.equal(payload.email, 'alice@example.com');
});

test('the token endpoint checks client authentication, PKCE, single use and the redirect URI', async () => {
  idp.setScenario({});
  const first = await authorize();
  assert.equal((await redeem(idp.issuer, first.params.get('code')!, first.verifier, 'wrong')).status, 401);
  assert.equal(((await (await redeem(idp.issuer, first.params.get('code')!, 'x'.repeat(43))).json()) as { error: string }).error, 'invalid_grant');
  assert.equal((await redeem(idp.issuer, first.params.get('code')!, first.verifier)).status, 200);
  assert.equal((await redeem(idp.issuer, first.params.get('code')!, first.verifier)).status, 400, 'a code works once');
});

test('a tenant is an issuer of its own', async () => {
  idp.setScenario({});
  const issuer = idp.issuerFor('acme');
  const discovery = (await (await fetch(`${issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
  assert.equal(discovery.issuer, issuer);
  const { params, verifier } = await authorize(issuer);
  assert.equal(params.get('iss'), issuer);
  const { id_token } = (await (await redeem(issuer, params.get('code')!, verifier)).json()) as { id_token: string };
  await jwtVerify(id_token, await keySet(issuer), { issuer });
  assert.equal(idp.requestsTo('token').at(-1)?.tenant, 'acme');
});

test('forgeries: alg none, claims, exact payload text, the attacker key with an embedded jwk', async () => {
  idp.setScenario({ idToken: { signWith: 'none', claims: { aud: 'other', nonce: null } } });
  let { params, verifier } = await authorize();
  let token = ((await (await redeem(idp.issuer, params.get('code')!, verifier)).json()) as { id_token: string }).id_token;
  const [header, payload, signature] = token.split('.');
  assert.deepEqual(JSON.parse(Buffer.from(header!, 'base64url').toString()), { alg: 'none', typ: 'JWT' });
  const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as Record<string, unknown>;
  assert.equal(claims.aud, 'other');
  assert.equal('nonce' in claims, false);
  assert.equal(signature, '');

  idp.setScenario({ idToken: { payloadText: () => '{"email":"a","email":"b"}' } });
  ({ params, verifier } = await authorize());
  token = ((await (await redeem(idp.issuer, params.get('code')!, verifier)).json()) as { id_token: string }).id_token;
  assert.equal(Buffer.from(token.split('.')[1]!, 'base64url').toString(), '{"email":"a","email":"b"}');

  idp.setScenario({ idToken: { signWith: 'attacker', header: { jwk: idp.attacker.publicJwk } } });
  ({ params, verifier } = await authorize());
  token = ((await (await redeem(idp.issuer, params.get('code')!, verifier)).json()) as { id_token: string }).id_token;
  assert.deepEqual(decodeProtectedHeader(token).jwk, idp.attacker.publicJwk);
  await assert.rejects(jwtVerify(token, await keySet(idp.issuer)));
  const attackerSet = createLocalJWKSet((await (await fetch(idp.attacker.jwksUrl)).json()) as JSONWebKeySet);
  await jwtVerify(token, attackerSet);
});

test('rotation publishes the new key; raw answers and delays replace an endpoint', async () => {
  idp.setScenario({});
  const before = idp.currentKid;
  const kid = await idp.rotateKeys();
  assert.notEqual(kid, before);
  const { keys } = (await (await fetch(`${idp.issuer}/jwks`)).json()) as { keys: Array<{ kid: string }> };
  assert.deepEqual(
    keys.map((k) => k.kid),
    [kid],
  );

  idp.setScenario({ answers: { jwks: { status: 503, headers: { 'content-type': 'text/html' }, body: '<h1>down</h1>' } }, delayMs: { jwks: 200 } });
  const started = Date.now();
  const res = await fetch(`${idp.issuer}/jwks`);
  assert.equal(res.status, 503);
  assert.equal(await res.text(), '<h1>down</h1>');
  assert.ok(Date.now() - started >= 190);
  assert.equal(idp.requestsTo('jwks').at(-1)?.method, 'GET');
});
