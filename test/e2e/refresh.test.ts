// Refresh across replicas (SPEC §6) and bearer tokens for API clients, against
// the demo IdP issuing 5-second tokens and rotating refresh tokens.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT, decodeJwt, generateKeyPair } from 'jose';
import { formFieldsOf, insecureFetch, loginWithHttp, startCluster, TestBrowser, waitFor, type Cluster, type Replica } from '@microseg/testkit';

const NS = '/acme/team-b/dev/private-app';
const TOKEN_SECONDS = 5;
const TRAFFIC_MS = 60_000;
const CLIENTS = 20;
let cluster: Cluster;
let secondAuthn: Replica;

before(async () => {
  cluster = await startCluster({
    dataDir: await mkdtemp(join(tmpdir(), 'microseg-refresh-')),
    isolated: true,
    idpEnv: { DEMO_ID_TOKEN_TTL_SECONDS: String(TOKEN_SECONDS), DEMO_ACCESS_TOKEN_TTL_SECONDS: String(TOKEN_SECONDS), DEMO_ROTATE_REFRESH_TOKENS: 'true' },
  });
  secondAuthn = await cluster.startReplica('authn', 2);
  const patched = await fetch(`${cluster.policyUrl}/services/private-app`, {
    method: 'PATCH',
    headers: { authorization: `Bearer ${cluster.adminToken}`, 'x-namespace': NS, 'content-type': 'application/json' },
    body: JSON.stringify({ OIDCScopes: ['email', 'profile', 'offline_access'], acceptBearerTokens: true }),
  });
  assert.equal(patched.status, 200, await patched.text());
});

after(async () => {
  await cluster?.stop();
});

const stats = async (url: string) => (await (await fetch(url)).json()) as Record<string, number>;

test(`a session stays valid through ${TRAFFIC_MS / 1000} s of traffic from ${CLIENTS} clients over two authn replicas, with one refresh per token lifetime`, async () => {
  const alice = await loginWithHttp(cluster.gatewayUrl, 'alice@example.com', 'alice', '/_echo');
  assert.equal(alice.response.status, 200);
  const cookie = alice.browser.cookie('__Host-microseg')!;
  const before = await stats(`${cluster.idpUrl}/_demo/stats`);

  const statuses = new Map<number, number>();
  let requests = 0;
  const deadline = Date.now() + TRAFFIC_MS;
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (Date.now() < deadline) {
        const res = await insecureFetch(`${cluster.gatewayUrl}/_echo`, { headers: { cookie: `__Host-microseg=${cookie}`, accept: 'application/json' }, redirect: 'manual' });
        await res.arrayBuffer();
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        requests++;
      }
    }),
  );

  const after = await stats(`${cluster.idpUrl}/_demo/stats`);
  const replicas = [await stats(`http://127.0.0.1:${cluster.ports.authn}/stats`), await stats(`${secondAuthn.url}/stats`)];
  const refreshes = after.refreshGrants! - before.refreshGrants!;
  console.log({ requests, statuses: Object.fromEntries(statuses), refreshes, replicas });

  assert.deepEqual([...statuses.keys()], [200], 'no request saw a login redirect or an error');
  // Each token lives 5 s and is renewed when a third of it is left (every ~3.3 s).
  const lifetimes = TRAFFIC_MS / 1000 / TOKEN_SECONDS;
  assert.ok(refreshes >= lifetimes, `${refreshes} refreshes: the session outlived ${lifetimes} token lifetimes only by refreshing`);
  assert.ok(refreshes < 2 * lifetimes, `${refreshes} refreshes: more than one per token`);
  // Exactly one refresh per token: the IdP rotates refresh tokens, so a second refresh of the same
  // token by the other replica would have failed with invalid_grant (and ended the session).
  const byReplicas = replicas.reduce((sum, r) => sum + r.refreshes!, 0);
  assert.equal(byReplicas, refreshes, 'every refresh the replicas made reached the IdP once');
  assert.equal(replicas.reduce((sum, r) => sum + r.refreshFailures!, 0), 0, 'and none was refused');
  for (const [i, r] of replicas.entries()) assert.ok(r.lookups! > 0, `replica ${i + 1} served lookups`);
});

/** Alice's ID token for a client, straight from the demo IdP (code flow with PKCE), for API-client tests. */
async function idTokenFor(clientId: string, clientSecret: string, redirectUri: string): Promise<string> {
  const browser = new TestBrowser();
  const verifier = randomBytes(32).toString('base64url');
  const authorize = new URL(`${cluster.idpUrl}/auth`);
  authorize.search = new URLSearchParams({
    client_id: clientId,
    redirect_uri: redirectUri,
    response_type: 'code',
    scope: 'openid email',
    nonce: randomBytes(16).toString('base64url'),
    state: randomBytes(16).toString('base64url'),
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  }).toString();
  const page = await browser.navigate(authorize);
  const form = formFieldsOf(page.body!);
  const done = await browser.navigate(
    new URL(form.action!, page.response!.url),
    { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ ...form.fields, login: 'alice@example.com', password: 'alice' }) },
    redirectUri,
  );
  const code = done.stoppedAt!.searchParams.get('code')!;
  const token = await fetch(`${cluster.idpUrl}/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: verifier }),
  });
  assert.equal(token.status, 200, await token.clone().text());
  return ((await token.json()) as { id_token: string }).id_token;
}

const withBearer = (token: string) =>
  insecureFetch(`${cluster.gatewayUrl}/_echo`, { headers: { authorization: `Bearer ${token}`, accept: 'application/json' }, redirect: 'manual' });

test('an API client with a bearer JWT of the service IdP gets in; wrong audience, expired or unknown key do not', async () => {
  const token = await idTokenFor('private-app', cluster.clientSecret, `${cluster.gatewayUrl}/aporeto/oidc/callback`);
  const ok = await withBearer(token);
  assert.equal(ok.status, 200);
  assert.equal(((await ok.json()) as { headers: Record<string, string> }).headers['x-user-email'], 'alice@example.com');

  const otherClient = await idTokenFor('walkthrough-app', 'walkthrough-secret', `https://localhost:${cluster.ports.walkthrough}/aporeto/oidc/callback`);
  const wrongAudience = await withBearer(otherClient);
  assert.equal(wrongAudience.status, 401, 'a token issued to another client (aud) is refused');
  assert.match(wrongAudience.headers.get('www-authenticate') ?? '', /invalid_token/);

  const claims = decodeJwt(token);
  const { privateKey } = await generateKeyPair('RS256');
  const unknownKey = await new SignJWT({ ...claims, exp: Math.floor(Date.now() / 1000) + 300 })
    .setProtectedHeader({ alg: 'RS256', kid: 'not-a-key-of-the-idp' })
    .sign(privateKey);
  assert.equal((await withBearer(unknownKey)).status, 401, 'a token signed by an unknown key is refused');

  await waitFor('the ID token to expire', async () => Date.now() > claims.exp! * 1000 + 6_000, (TOKEN_SECONDS + 10) * 1000, 250);
  assert.equal((await withBearer(token)).status, 401, 'an expired token is refused');
});
