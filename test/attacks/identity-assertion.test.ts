// Attacks on the signed identity assertion (SPEC §8.4): a client sending its own X-Microseg-Jwt-Assertion
// through the gateway; an attacker who reaches the application directly (past the gateway) with a forged one —
// another key, another key under the published kid, alg none, HS256 keyed with the public key, a key carried
// in the token itself; a token minted for one service replayed to another; an expired one. The application is
// the demo application, which verifies with jose against the key set the gateway publishes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, createPublicKey, generateKeyPairSync, sign } from 'node:crypto';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { Agent, request } from 'undici';
import { assertionVerifier, startDemoApp, type DemoApp, type EchoResponse } from '@microseg/demo';
import { loginWithHttp, startCluster, type Cluster, policyApi } from '@microseg/testkit';

const NS = '/acme/team-b/dev/private-app';
const AUD = `${NS}/private-app`;
const HEADER = 'x-microseg-jwt-assertion';
let cluster: Cluster;
let trusting: Agent;
let caFile: string;
let cookie: string;

before(async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'microseg-attacks-assertion-'));
  // The shortest lifetime there is, so that the expiry case waits seconds, not a minute.
  cluster = await startCluster({ dataDir, isolated: true, env: { POLICY_ASSERTION_TTL_SECONDS: '10' } });
  caFile = join(dataDir, 'gateway', 'certs', 'localhost.crt');
  trusting = new Agent({ connect: { ca: await readFile(caFile, 'utf8') } });
  const alice = await loginWithHttp(cluster.gatewayUrl, 'alice@example.com', 'alice');
  assert.equal(alice.response.status, 200);
  cookie = alice.browser.cookie('__Host-microseg')!;
  // A public echo, to see what an anonymous request brings the application.
  const spec = await api('POST', '/httpresourcespecs', {
    name: 'public-echo',
    associatedTags: ['app=private-app'],
    endpoints: [{ URI: '/_echo/public', methods: ['GET'], public: true }],
  });
  assert.equal(spec.status, 201, JSON.stringify(spec.body));
});

after(async () => {
  await cluster?.stop();
  await trusting?.close();
});

const api = policyApi(() => cluster, NS);

/** Through the gateway: `headers` as raw name/value pairs (several spellings, duplicates). */
async function viaGateway(path: string, headers: string[], withSession = true): Promise<EchoResponse> {
  const res = await request(`${cluster.gatewayUrl}${path}`, {
    headers: ['accept', 'application/json', ...(withSession ? ['cookie', `__Host-microseg=${cookie}`] : []), ...headers],
    dispatcher: trusting,
  });
  assert.equal(res.statusCode, 200);
  return (await res.body.json()) as EchoResponse;
}

/** Straight to the application, past the gateway, with an assertion of the attacker's making. */
async function straightToApp(token: string, app: { url: string } = { url: cluster.appUrl }): Promise<EchoResponse['assertion']> {
  const res = await fetch(`${app.url}/_echo`, { headers: { [HEADER]: token } });
  return ((await res.json()) as EchoResponse).assertion;
}

/** A fresh assertion the gateway made for alice at the demo service. */
async function realToken(): Promise<string> {
  const token = (await viaGateway('/_echo', [])).headers[HEADER];
  assert.equal(typeof token, 'string');
  return token as string;
}

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
/** alice's claims, as the gateway would write them, fresh. */
function claims(extra: Record<string, unknown> = {}) {
  const now = Math.floor(Date.now() / 1000);
  return {
    iss: 'microseg',
    aud: AUD,
    sub: 'alice',
    email: 'alice@example.com',
    tags: ['email=alice@example.com'],
    iat: now,
    exp: now + 10,
    jti: 'forged',
    ...extra,
  };
}

function es256(header: Record<string, unknown>, payload: unknown, key: ReturnType<typeof generateKeyPairSync>['privateKey']): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
}

async function publishedKey(): Promise<Record<string, string>> {
  const res = await request(`${cluster.gatewayUrl}/.well-known/microseg/jwks.json`, { dispatcher: trusting });
  const { keys } = (await res.body.json()) as { keys: Array<Record<string, string>> };
  return keys[0]!;
}

describe('through the gateway', () => {
  test("a client-sent assertion, in any spelling and twice, never reaches the application: alice gets the gateway's own, an anonymous request none", async () => {
    const forged = `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims({ email: 'mallory@example.com' }))}.`;
    const spellings = [HEADER, forged, 'X-Microseg-Jwt-Assertion', forged, 'x_microseg_jwt_assertion', forged, 'X-MICROSEG-JWT-ASSERTION', forged];
    const seen = await viaGateway('/_echo', spellings);
    const received = Object.entries(seen.headers).filter(([name]) => name.replaceAll('_', '-') === HEADER);
    assert.equal(received.length, 1, "one copy, the gateway's");
    assert.notEqual(received[0]![1], forged);
    assert.equal(decodeJwt(received[0]![1] as string).email, 'alice@example.com');
    assert.equal(seen.assertion?.present && seen.assertion.verified, true);

    const anonymous = await viaGateway('/_echo/public', spellings, false);
    assert.deepEqual(
      Object.keys(anonymous.headers).filter((name) => /microseg/i.test(name)),
      [],
    );
    assert.deepEqual(anonymous.assertion, { present: false });
  });

  test('the key set holds public keys only, and cannot be written', async () => {
    const key = await publishedKey();
    assert.deepEqual(Object.keys(key).sort(), ['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
    const posted = await request(`${cluster.gatewayUrl}/.well-known/microseg/jwks.json`, { method: 'POST', body: '{"keys":[]}', dispatcher: trusting });
    assert.equal(posted.statusCode, 400);
    await posted.body.dump();
    assert.deepEqual(await publishedKey(), key);
  });
});

describe('straight to the application, past the gateway: forged assertions are refused', () => {
  const attacker = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const cases: Array<{ name: string; token: () => Promise<string>; error: RegExp }> = [
    {
      name: "signed by the attacker's key, under its own kid",
      token: async () => es256({ alg: 'ES256', typ: 'JWT', kid: 'attacker' }, claims(), attacker.privateKey),
      error: /JWKSNoMatchingKey/,
    },
    {
      name: "signed by the attacker's key, under the published key's kid",
      token: async () => es256({ alg: 'ES256', typ: 'JWT', kid: (await publishedKey()).kid }, claims(), attacker.privateKey),
      error: /JWSSignatureVerificationFailed/,
    },
    {
      name: "carrying the attacker's own key (jwk) and key set (jku) in its header",
      token: async () =>
        es256(
          { alg: 'ES256', typ: 'JWT', kid: 'attacker', jwk: attacker.publicKey.export({ format: 'jwk' }), jku: 'https://evil.example/jwks.json' },
          claims(),
          attacker.privateKey,
        ),
      error: /JWKSNoMatchingKey/,
    },
    {
      name: 'alg none, no signature',
      token: async () => `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims())}.`,
      error: /JOSEAlgNotAllowed/,
    },
    {
      name: 'a real assertion re-signed with alg none (its signature dropped)',
      token: async () => {
        const [, payload] = (await realToken()).split('.');
        return `${b64({ alg: 'none', typ: 'JWT' })}.${payload}.`;
      },
      error: /JOSEAlgNotAllowed/,
    },
    {
      name: 'HS256 keyed with the published public key (PEM, as the classic confusion does)',
      token: async () => {
        const jwk = await publishedKey();
        const pem = createPublicKey({ key: jwk, format: 'jwk' }).export({ type: 'spki', format: 'pem' }).toString();
        const input = `${b64({ alg: 'HS256', typ: 'JWT', kid: jwk.kid })}.${b64(claims())}`;
        return `${input}.${createHmac('sha256', pem).update(input).digest('base64url')}`;
      },
      error: /JOSEAlgNotAllowed/,
    },
    {
      name: 'HS256 keyed with the published JWK as JSON',
      token: async () => {
        const jwk = await publishedKey();
        const input = `${b64({ alg: 'HS256', typ: 'JWT', kid: jwk.kid })}.${b64(claims())}`;
        return `${input}.${createHmac('sha256', JSON.stringify(jwk)).update(input).digest('base64url')}`;
      },
      error: /JOSEAlgNotAllowed/,
    },
    {
      name: "a real assertion with alice's email changed (the signature kept)",
      token: async () => {
        const [header, , signature] = (await realToken()).split('.');
        return `${header}.${b64(claims({ email: 'mallory@example.com' }))}.${signature}`;
      },
      error: /JWSSignatureVerificationFailed/,
    },
  ];
  for (const { name, token, error } of cases) {
    test(`a token ${name}`, async () => {
      const result = await straightToApp(await token());
      assert.ok(result?.present && !result.verified, JSON.stringify(result));
      assert.match(result.error, error);
    });
  }

  test('control: a real assertion verifies at the application it was made for (it is a bearer proof for its short life)', async () => {
    const result = await straightToApp(await realToken());
    assert.ok(result?.present && result.verified, JSON.stringify(result));
  });
});

describe('replay and expiry', () => {
  let serviceB: DemoApp;

  before(async () => {
    // Another service's application: the same gateway keys and issuer, its own audience.
    serviceB = await startDemoApp({
      port: 0,
      assertion: {
        jwksUrl: `${cluster.gatewayUrl}/.well-known/microseg/jwks.json`,
        issuer: 'microseg',
        audiences: ['/acme/team-c/walkthrough/nginx'],
        caFile,
      },
    });
  });
  after(() => serviceB?.close());

  test("an assertion for one service replayed to another service's application is refused by aud", async () => {
    const token = await realToken();
    assert.equal(decodeJwt(token).aud, AUD);
    const result = await straightToApp(token, serviceB);
    assert.ok(result?.present && !result.verified, JSON.stringify(result));
    assert.match(result.error, /JWTClaimValidationFailed: unexpected "aud" claim value/);
    // The same check with the library alone, for an application that is not the demo's.
    const verifyAsB = assertionVerifier({
      jwksUrl: `${cluster.gatewayUrl}/.well-known/microseg/jwks.json`,
      issuer: 'microseg',
      audiences: ['/acme/other/app'],
      caFile,
    });
    const alone = await verifyAsB(token);
    assert.ok(alone.present && !alone.verified);
  });

  test('an expired assertion is refused (the gateway had signed it; its lifetime is over)', async () => {
    const token = await realToken();
    const { exp } = decodeJwt(token);
    assert.ok(decodeProtectedHeader(token).kid);
    // Accepted while it lives …
    const fresh = await straightToApp(token);
    assert.ok(fresh?.present && fresh.verified);
    // … and refused once it has expired: waiting for its end is the point of this case.
    await new Promise((r) => setTimeout(r, Math.max(0, exp! * 1000 - Date.now()) + 1_100));
    const result = await straightToApp(token);
    assert.ok(result?.present && !result.verified, JSON.stringify(result));
    assert.match(result.error, /JWTExpired/);
  });
});
