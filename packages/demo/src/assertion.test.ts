// Unit (a key set over TLS here, tokens signed here): the demo application's verifier of microseg's identity
// assertions accepts an ES256 token of a published key for its audience and issuer, shows it on its page and
// in /_echo, and refuses forged ones — another key, alg none, HS256 keyed with the public key, another
// audience or issuer, expired — and a key set served by a certificate it does not trust.
import assert from 'node:assert/strict';
import { createHmac, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { generate } from 'selfsigned';
import { startDemoApp, type EchoResponse } from './app.ts';
import { assertionVerifier, type AssertionCheck } from './assertion.ts';

const ISSUER = 'microseg';
const AUD = '/acme/team-b/dev/private-app/private-app';

function ecKey(kid: string): { kid: string; privateKey: KeyObject; jwk: Record<string, string> } {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = publicKey.export({ format: 'jwk' }) as Record<string, string>;
  return { kid, privateKey, jwk: { ...jwk, kid, alg: 'ES256', use: 'sig' } };
}

const published = ecKey('published');
const stranger = ecKey('stranger');

async function sign(key: ReturnType<typeof ecKey>, claims: Record<string, unknown> = {}, kid = key.kid): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const all: Record<string, unknown> = {
    iss: ISSUER,
    aud: AUD,
    sub: 'alice-sub',
    email: 'alice@example.com',
    tags: ['email=alice@example.com'],
    iat: now,
    exp: now + 60,
    jti: `jti-${Math.random()}`,
    ...claims,
  };
  for (const name of Object.keys(all)) if (all[name] === undefined) delete all[name];
  return new SignJWT(all).setProtectedHeader({ alg: 'ES256', typ: 'JWT', kid }).sign(key.privateKey);
}

const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
const payload = () => {
  const now = Math.floor(Date.now() / 1000);
  return { iss: ISSUER, aud: AUD, sub: 'mallory', email: 'mallory@example.com', iat: now, exp: now + 60, jti: 'x' };
};

describe('identity assertion verifier', () => {
  let server: Server;
  let check: AssertionCheck;
  let fetches = 0;

  before(async () => {
    // A certificate like the gateway's generated one: self-signed, not a CA.
    const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
      keyType: 'ec',
      curve: 'P-256',
      extensions: [
        { name: 'basicConstraints', cA: false },
        { name: 'extKeyUsage', serverAuth: true },
        { name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }] },
      ],
    });
    const dir = await mkdtemp(join(tmpdir(), 'microseg-demo-assertion-'));
    await writeFile(join(dir, 'gateway.crt'), pems.cert);
    server = createServer({ cert: pems.cert, key: pems.private }, (_req, res) => {
      fetches++;
      res.writeHead(200, { 'content-type': 'application/jwk-set+json' });
      res.end(JSON.stringify({ keys: [published.jwk] }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    check = { jwksUrl: `https://localhost:${port}/.well-known/microseg/jwks.json`, issuer: ISSUER, audiences: [AUD], caFile: join(dir, 'gateway.crt') };
  });

  after(() => new Promise<void>((r) => server.close(() => r())));

  it('accepts a token of a published key for its audience and issuer; the same token is verified once', async () => {
    const verify = assertionVerifier(check);
    const token = await sign(published);
    const result = await verify(token);
    assert.ok(result.present && result.verified, JSON.stringify(result));
    assert.equal(result.kid, 'published');
    assert.equal(result.claims.email, 'alice@example.com');
    const before = fetches;
    assert.deepEqual(await verify(token), result);
    assert.equal(fetches, before);
    assert.deepEqual(await verify(undefined), { present: false });
  });

  const forgeries: Array<{ name: string; token: () => Promise<string>; error: RegExp }> = [
    { name: 'signed by a key that is not published', token: () => sign(stranger), error: /JWKSNoMatchingKey/ },
    { name: "another key under the published key's kid", token: () => sign(stranger, {}, 'published'), error: /JWSSignatureVerificationFailed/ },
    { name: 'alg none', token: async () => `${b64({ alg: 'none', typ: 'JWT' })}.${b64(payload())}.`, error: /JOSEAlgNotAllowed|JWSInvalid/ },
    {
      name: 'HS256 keyed with the public key',
      token: async () => {
        const input = `${b64({ alg: 'HS256', typ: 'JWT', kid: 'published' })}.${b64(payload())}`;
        return `${input}.${createHmac('sha256', JSON.stringify(published.jwk)).update(input).digest('base64url')}`;
      },
      error: /JOSEAlgNotAllowed/,
    },
    { name: 'for another service', token: () => sign(published, { aud: '/acme/other' }), error: /JWTClaimValidationFailed.*aud/ },
    { name: 'from another issuer', token: () => sign(published, { iss: 'https://evil.example' }), error: /JWTClaimValidationFailed.*iss/ },
    {
      name: 'expired',
      token: () => sign(published, { iat: Math.floor(Date.now() / 1000) - 120, exp: Math.floor(Date.now() / 1000) - 60 }),
      error: /JWTExpired/,
    },
    { name: 'without a jti', token: () => sign(published, { jti: undefined }), error: /JWTClaimValidationFailed.*jti/ },
  ];
  for (const { name, token, error } of forgeries) {
    it(`refuses a token ${name}`, async () => {
      const result = await assertionVerifier(check)(await token());
      assert.ok(result.present && !result.verified, JSON.stringify(result));
      assert.match(result.error, error);
    });
  }

  it('refuses every token when the key set comes over TLS it does not trust', async () => {
    const result = await assertionVerifier({ ...check, caFile: undefined })(await sign(published));
    assert.ok(result.present && !result.verified);
  });

  it('the demo page and /_echo show the verified assertion, or why it was refused', async () => {
    const app = await startDemoApp({ port: 0, assertion: check });
    try {
      const token = await sign(published);
      const page = await (await fetch(`${app.url}/`, { headers: { 'x-microseg-jwt-assertion': token, 'x-user-email': 'alice@example.com' } })).text();
      assert.match(page, new RegExp(`Verified assertion for alice@example\\.com, aud ${AUD}, signed by key published`));
      const echo = (await (await fetch(`${app.url}/_echo`, { headers: { 'x-microseg-jwt-assertion': await sign(stranger) } })).json()) as EchoResponse;
      assert.ok(echo.assertion?.present && !echo.assertion.verified);
      const none = (await (await fetch(`${app.url}/_echo`)).json()) as EchoResponse;
      assert.deepEqual(none.assertion, { present: false });
      assert.match(await (await fetch(`${app.url}/`)).text(), /No identity assertion came with this request/);
    } finally {
      await app.close();
    }
  });
});
