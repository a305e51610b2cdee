// The signed identity assertion end to end (SPEC §8.4, §8.5): alice's requests reach the application with an
// ES256 JWT that verifies against the key set published on the service's host — checked here with jose and by
// the demo application itself — through either of two gateway replicas; a key rotation keeps every request
// verifying throughout; an immediate rotation withdraws the old key; and a service with passAccessToken hands
// the application alice's access token, which the IdP accepts.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalJWKSet, createRemoteJWKSet, customFetch, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { Agent, fetch as undiciFetch, request } from 'undici';
import { loginWithHttp, startCluster, waitFor, type Cluster, type Replica, policyApi } from '@microseg/testkit';

const NS = '/acme/team-b/dev/private-app';
const AUD = `${NS}/private-app`;
const JWKS_PATH = '/.well-known/microseg/jwks.json';
let cluster: Cluster;
let secondGateway: Replica;
let dataDir: string;
let trusting: Agent;
let cookie: string;

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'microseg-identity-'));
  cluster = await startCluster({
    dataDir,
    isolated: true,
    // A short prepublication, and a demo application that fetches the key set more often than that: what an
    // operator sets up with the defaults (an hour, and jose's ten minutes), in seconds.
    env: { POLICY_ASSERTION_KEY_PREPUBLISH_SECONDS: '3' },
    appEnv: { DEMO_APP_JWKS_CACHE_SECONDS: '1' },
  });
  secondGateway = await cluster.startReplica('gateway', 2);
  // The gateway's own certificate for localhost, trusted as the only anchor (no TLS check is turned off), and
  // asked for by name when a replica is reached by its address.
  trusting = new Agent({ connect: { ca: await readFile(join(dataDir, 'gateway', 'certs', 'localhost.crt'), 'utf8'), servername: 'localhost' } });
  const alice = await loginWithHttp(cluster.gatewayUrl, 'alice@example.com', 'alice');
  assert.equal(alice.response.status, 200);
  cookie = alice.browser.cookie('__Host-microseg')!;
  assert.ok(cookie);
});

after(async () => {
  await cluster?.stop();
  await trusting?.close();
});

const gateways = () => [`https://localhost:${cluster.ports.gateway}`, secondGateway.gatewayUrl!];

interface Echo {
  headers: Record<string, string>;
  assertion?: { present: boolean; verified?: boolean; error?: string; kid?: string; claims?: Record<string, unknown> };
}

/** GET /_echo through one gateway (by address) as alice, with extra headers. */
async function echo(origin = gateways()[0]!, headers: Record<string, string> = {}): Promise<Echo> {
  const res = await request(`${origin}/_echo`, {
    headers: { host: `localhost:${cluster.ports.gateway}`, accept: 'application/json', cookie: `__Host-microseg=${cookie}`, ...headers },
    dispatcher: trusting,
  });
  assert.equal(res.statusCode, 200);
  return (await res.body.json()) as Echo;
}

/** The key set as one gateway publishes it. */
async function jwksOf(origin: string): Promise<JSONWebKeySet> {
  const res = await request(`${origin}${JWKS_PATH}`, {
    headers: { host: `localhost:${cluster.ports.gateway}` },
    dispatcher: trusting,
  });
  assert.equal(res.statusCode, 200);
  assert.equal(res.headers['content-type'], 'application/jwk-set+json');
  return (await res.body.json()) as JSONWebKeySet;
}

/** A verifier as an application would make it: the remote key set over TLS, fetched again after `cacheMaxAge`. */
function remoteVerifier(cacheMaxAge = 600_000) {
  const keys = createRemoteJWKSet(new URL(`${cluster.gatewayUrl}${JWKS_PATH}`), {
    cacheMaxAge,
    [customFetch]: (url, options) =>
      undiciFetch(url, {
        method: 'GET',
        headers: Object.fromEntries(options.headers.entries()),
        signal: options.signal,
        dispatcher: trusting,
      }) as unknown as Promise<Response>,
  });
  return (token: string) => jwtVerify(token, keys, { algorithms: ['ES256'], issuer: 'microseg', audience: AUD, requiredClaims: ['sub', 'iat', 'exp', 'jti'] });
}

const api = policyApi(() => cluster, NS);

test("alice's request reaches the app with an assertion that verifies against the published key set, and the app says so", async () => {
  const verify = remoteVerifier();
  const seen = await echo();
  const token = seen.headers['x-microseg-jwt-assertion']!;
  assert.ok(token, 'the application received an assertion');
  const { payload, protectedHeader } = await verify(token);
  assert.equal(protectedHeader.alg, 'ES256');
  assert.equal(protectedHeader.typ, 'JWT');
  assert.deepEqual(Object.keys(protectedHeader).sort(), ['alg', 'kid', 'typ']);
  assert.equal(payload.iss, 'microseg');
  assert.equal(payload.aud, AUD);
  assert.equal(payload.sub, 'alice');
  assert.equal(payload.email, 'alice@example.com');
  assert.ok((payload.tags as string[]).includes('email=alice@example.com'));
  assert.equal(payload.exp! - payload.iat!, 60);
  assert.match(String(payload.jti), /^[A-Za-z0-9_-]{22}$/);
  // The demo application verified it too (its own jose, the same key set, its audiences).
  assert.equal(seen.assertion?.verified, true, JSON.stringify(seen.assertion));
  assert.equal(seen.assertion?.claims?.email, 'alice@example.com');
  const page = await request(`${cluster.gatewayUrl}/`, {
    headers: { cookie: `__Host-microseg=${cookie}`, accept: 'text/html' },
    dispatcher: trusting,
  });
  assert.match(await page.body.text(), new RegExp(`Verified assertion for alice@example\\.com, aud ${AUD}, signed by key ${protectedHeader.kid}`));

  // Both gateways publish the same keys and sign with the same one; each keeps its assertion for a while.
  const [one, two] = await Promise.all(gateways().map(jwksOf));
  assert.deepEqual(one, two);
  const again = await echo();
  assert.equal(again.headers['x-microseg-jwt-assertion'], token, 'reused within its lifetime');
  const viaSecond = (await echo(gateways()[1])).headers['x-microseg-jwt-assertion']!;
  assert.equal(decodeProtectedHeader(viaSecond).kid, protectedHeader.kid);
  await verify(viaSecond);
});

test('a rotation keeps every request verifying throughout, on both gateways and at the application; then an immediate rotation withdraws the old key', async () => {
  const verify = remoteVerifier(1_000);
  const before = decodeProtectedHeader((await echo()).headers['x-microseg-jwt-assertion']!).kid!;
  const rotated = await api('POST', '/assertionkeys/rotate', {});
  assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
  const next = rotated.body.keys.find((k: { state: string }) => k.state === 'next').kid as string;
  // Published by both gateways before it signs.
  await waitFor(
    'both gateways to publish the next key',
    async () => (await Promise.all(gateways().map(jwksOf))).every((s) => s.keys.some((k) => k.kid === next)),
    5_000,
  );

  const kids = new Set<string>();
  const failures: string[] = [];
  const deadline = Date.now() + 7_000;
  let requests = 0;
  while (Date.now() < deadline) {
    for (const origin of gateways()) {
      requests++;
      const seen = await echo(origin);
      const token = seen.headers['x-microseg-jwt-assertion']!;
      const kid = decodeProtectedHeader(token).kid!;
      kids.add(kid);
      await verify(token).catch((err: Error) => failures.push(`${origin} ${kid}: ${err.message}`));
      if (!seen.assertion?.verified) failures.push(`the application refused ${kid} via ${origin}: ${seen.assertion?.error}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.deepEqual(failures, [], `${failures.length} of ${requests * 2} verifications failed`);
  assert.deepEqual([...kids].sort(), [before, next].sort(), 'both keys signed during the test, and nothing else');
  assert.equal(decodeProtectedHeader((await echo()).headers['x-microseg-jwt-assertion']!).kid, next, 'the new key signs now');
  const listed = await api('GET', '/assertionkeys');
  assert.deepEqual(
    listed.body.keys.map((k: { kid: string; state: string }) => [k.kid, k.state]),
    [
      [before, 'previous'],
      [next, 'signing'],
    ],
  );

  // An immediate rotation (a key that must go now): the old key leaves every key set at once.
  const oldToken = (await echo()).headers['x-microseg-jwt-assertion']!;
  const immediate = await api('POST', '/assertionkeys/rotate', { immediate: true });
  assert.equal(immediate.status, 200);
  const fresh = immediate.body.keys.find((k: { state: string }) => k.state === 'signing').kid as string;
  await waitFor(
    'both gateways to drop the withdrawn keys',
    async () => (await Promise.all(gateways().map(jwksOf))).every((s) => s.keys.length === 1 && s.keys[0]!.kid === fresh),
    5_000,
  );
  const now = await jwksOf(gateways()[0]!);
  await assert.rejects(jwtVerify(oldToken, createLocalJWKSet(now), { algorithms: ['ES256'], issuer: 'microseg', audience: AUD }), /no applicable key/i);
  const after = await echo();
  assert.equal(decodeProtectedHeader(after.headers['x-microseg-jwt-assertion']!).kid, fresh);
  // An application that fetched the key set moments ago meets an unknown kid and may fetch again only after
  // jose's cooldown: immediate means immediate, for the applications too. A fresh fetch verifies.
  await remoteVerifier()(after.headers['x-microseg-jwt-assertion']!);
});

test("passAccessToken: the application gets alice's access token as Authorization (the IdP accepts it), never the client's own", async () => {
  const patched = await api('PATCH', '/services/private-app', { passAccessToken: true });
  assert.equal(patched.status, 200, JSON.stringify(patched.body));
  assert.equal(patched.body.passAccessToken, true);
  await waitFor('the gateway to pass the token', async () => /^Bearer /.test((await echo()).headers.authorization ?? ''), 5_000);
  const seen = await echo(undefined, { authorization: 'Bearer forged-by-the-client' });
  const token = seen.headers.authorization!.slice('Bearer '.length);
  assert.notEqual(token, 'forged-by-the-client');
  const discovery = (await (await fetch(`${cluster.idpUrl}/.well-known/openid-configuration`)).json()) as { userinfo_endpoint: string };
  const userinfo = await fetch(discovery.userinfo_endpoint, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(userinfo.status, 200);
  assert.equal(((await userinfo.json()) as { email: string }).email, 'alice@example.com');

  // Off again: the client's Authorization is the application's business, as before.
  assert.equal((await api('PATCH', '/services/private-app', { passAccessToken: false })).status, 200);
  await waitFor(
    'the gateway to stop passing the token',
    async () => (await echo(undefined, { authorization: 'Basic eDp5' })).headers.authorization === 'Basic eDp5',
    5_000,
  );
});
