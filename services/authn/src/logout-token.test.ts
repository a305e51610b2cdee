// Unit (fake IdP, fake Redis): a back-channel logout token (OIDC Back-Channel Logout 1.0 §2.6) is acted on
// only when it is this IdP's, for this client, signed with a key of its JWKS by an accepted algorithm, fresh,
// carries the logout event, no nonce, a sub or a sid — and only once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { JWTPayload } from 'jose';
import { redisKeys } from '@microseg/contracts';
import { verifyLogoutToken } from './logout-token.ts';
import { CLIENT_ID, FakeIdp, ISSUER, sign, signingKey } from './testing/fake-idp.ts';

const EVENT = 'http://schemas.openid.net/event/backchannel-logout';
const key = await signingKey();

/** Redis as far as SET … EX … NX goes. */
function fakeRedis() {
  const keys = new Map<string, { value: string; ttl: number }>();
  const redis = {
    async set(name: string, value: string, ex: string, ttl: number, nx: string) {
      assert.deepEqual([ex, nx], ['EX', 'NX']);
      if (keys.has(name)) return null;
      keys.set(name, { value, ttl });
      return 'OK';
    },
  };
  return { redis: redis as unknown as Redis, keys };
}

const now = () => Math.floor(Date.now() / 1000);
const logoutClaims = (): JWTPayload => ({
  iss: ISSUER,
  aud: CLIENT_ID,
  iat: now(),
  exp: now() + 120,
  jti: randomUUID(),
  sub: 'alice',
  sid: 'sid-1',
  events: { [EVENT]: {} },
});

function setup(metadata = {}) {
  const idp = new FakeIdp([key], metadata);
  const { redis, keys } = fakeRedis();
  const oidc = idp.client();
  return { verify: (token: string) => verifyLogoutToken(redis, oidc, token), keys };
}

test('a valid logout token gives its iss, sub and sid, and its jti is marked for twice the token lifetime', async () => {
  const { verify, keys } = setup();
  const claims = logoutClaims();
  assert.deepEqual(await verify(await sign(key, claims, { typ: 'logout+jwt' })), { iss: ISSUER, sub: 'alice', sid: 'sid-1' });
  assert.deepEqual([...keys], [[redisKeys.logoutTokenSeen(String(claims.jti)), { value: '1', ttl: 240 }]]);
});

test('a sub alone or a sid alone is enough', async () => {
  const { verify } = setup();
  const { sid: _sid, ...subOnly } = logoutClaims();
  assert.deepEqual(await verify(await sign(key, subOnly)), { iss: ISSUER, sub: 'alice', sid: undefined });
  const { sub: _sub, ...sidOnly } = logoutClaims();
  assert.deepEqual(await verify(await sign(key, sidOnly)), { iss: ISSUER, sub: undefined, sid: 'sid-1' });
});

test('the same token twice: the second is refused (each token acts once)', async () => {
  const { verify } = setup();
  const token = await sign(key, logoutClaims());
  await verify(token);
  await assert.rejects(verify(token), { message: 'this logout token was used already' });
});

const hs256 = (claims: JWTPayload, secret: string) => {
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const input = `${b64({ alg: 'HS256', kid: key.kid })}.${b64(claims)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
};
const unsigned = (claims: JWTPayload) => `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.`;

const NOT_ALLOWED = /"alg" \(Algorithm\) Header Parameter value not allowed/;

const refusals: Array<{ name: string; token: () => Promise<string> | string; error: RegExp }> = [
  { name: 'another issuer', token: () => sign(key, { ...logoutClaims(), iss: 'https://evil.example.com' }), error: /"iss" claim/ },
  { name: 'another audience', token: () => sign(key, { ...logoutClaims(), aud: 'other-client' }), error: /"aud" claim/ },
  { name: 'expired', token: () => sign(key, { ...logoutClaims(), exp: now() - 60 }), error: /"exp" claim/ },
  { name: 'issued more than two minutes ago', token: () => sign(key, { ...logoutClaims(), iat: now() - 600, exp: now() + 60 }), error: /"iat" claim/ },
  { name: 'issued in the future', token: () => sign(key, { ...logoutClaims(), iat: now() + 600 }), error: /"iat" claim/ },
  { name: 'no events claim', token: () => sign(key, { ...logoutClaims(), events: undefined }), error: /missing required "events" claim/ },
  {
    name: 'events without the logout event',
    token: () => sign(key, { ...logoutClaims(), events: { 'http://schemas.openid.net/event/other': {} } }),
    error: /the events claim lacks the back-channel logout event$/,
  },
  {
    name: 'a logout event that is not an object',
    token: () => sign(key, { ...logoutClaims(), events: { [EVENT]: 'yes' } }),
    error: /lacks the back-channel logout event/,
  },
  { name: 'an events claim that is a string', token: () => sign(key, { ...logoutClaims(), events: EVENT }), error: /lacks the back-channel logout event/ },
  { name: 'a nonce (an ID token)', token: () => sign(key, { ...logoutClaims(), nonce: 'n-0S6_WzA2Mj' }), error: /a logout token must not carry a nonce$/ },
  {
    name: 'neither sub nor sid',
    token: () => sign(key, { ...logoutClaims(), sub: undefined, sid: undefined }),
    error: /a logout token names a sub, a sid or both$/,
  },
  { name: 'no jti', token: () => sign(key, { ...logoutClaims(), jti: undefined }), error: /missing required "jti" claim/ },
  { name: 'no iat', token: () => sign(key, { ...logoutClaims(), iat: undefined }), error: /"iat" claim/ },
  { name: 'signed by a key not in the JWKS', token: async () => sign(await signingKey(key.kid), logoutClaims()), error: /signature verification failed/ },
  { name: 'alg none', token: () => unsigned(logoutClaims()), error: NOT_ALLOWED },
  { name: 'HS256 keyed with the client secret', token: () => hs256(logoutClaims(), 'client-secret'), error: NOT_ALLOWED },
];

for (const { name, token, error } of refusals) {
  test(`refused: ${name}, and its jti not marked`, async () => {
    const { verify, keys } = setup();
    await assert.rejects(verify(await token()), error);
    assert.equal(keys.size, 0, 'a refused token burns no jti');
  });
}

test('refused: an algorithm the IdP does not announce, and `none` even when it does', async () => {
  const es = setup({ id_token_signing_alg_values_supported: ['ES256'] });
  await assert.rejects(es.verify(await sign(key, logoutClaims())), NOT_ALLOWED);
  const withNone = setup({ id_token_signing_alg_values_supported: ['none', 'RS256'] });
  await assert.rejects(withNone.verify(unsigned(logoutClaims())), NOT_ALLOWED);
  assert.deepEqual(await withNone.verify(await sign(key, { ...logoutClaims(), sid: undefined })), { iss: ISSUER, sub: 'alice', sid: undefined });
});

test('an HS256 token keyed with the client secret is refused even when the IdP announces HS256', async () => {
  const { verify, keys } = setup({ id_token_signing_alg_values_supported: ['RS256', 'HS256'] });
  // Refused by our list of accepted algorithms (asymmetric only), before jose would look for an HMAC key.
  await assert.rejects(verify(hs256(logoutClaims(), 'client-secret')), NOT_ALLOWED);
  assert.equal(keys.size, 0);
});

test('a long jti is cut to 200 characters in the Redis key', async () => {
  const { verify, keys } = setup();
  const jti = 'j'.repeat(1000);
  await verify(await sign(key, { ...logoutClaims(), jti }));
  assert.deepEqual([...keys.keys()], [redisKeys.logoutTokenSeen('j'.repeat(200))]);
});
