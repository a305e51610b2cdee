// Refresh across replicas (SPEC §6) and bearer tokens for API clients (JWT access
// tokens; ID and logout tokens refused; a revoked user's tokens refused), against
// the demo IdP issuing 5-second tokens and rotating refresh tokens.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT, decodeJwt, decodeProtectedHeader, generateKeyPair } from 'jose';
import { formFieldsOf, insecureFetch, loginWithHttp, startCluster, TestBrowser, waitFor, type Cluster, type Replica } from '@microseg/testkit';

const NS = '/acme/team-b/dev/private-app';
const TOKEN_SECONDS = 5;
const TRAFFIC_MS = 60_000;
const CLIENTS = 20;
let cluster: Cluster;
let secondAuthn: Replica;
/** Where the demo IdP sends private-app's logout tokens in this file (so that a test can present one as a bearer token). */
let logoutReceiver: Server;
const logoutTokens: string[] = [];

before(async () => {
  logoutReceiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const token = new URLSearchParams(body).get('logout_token');
      if (token) logoutTokens.push(token);
      res.end();
    });
  });
  const logoutPort = await new Promise<number>((resolve) =>
    logoutReceiver.listen(0, '127.0.0.1', () => resolve((logoutReceiver.address() as { port: number }).port)),
  );
  cluster = await startCluster({
    dataDir: await mkdtemp(join(tmpdir(), 'microseg-refresh-')),
    isolated: true,
    idpEnv: {
      DEMO_ID_TOKEN_TTL_SECONDS: String(TOKEN_SECONDS),
      DEMO_ACCESS_TOKEN_TTL_SECONDS: String(TOKEN_SECONDS),
      DEMO_ROTATE_REFRESH_TOKENS: 'true',
      DEMO_BACKCHANNEL_LOGOUT_URI: `http://127.0.0.1:${logoutPort}/backchannel-logout`,
    },
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
  logoutReceiver?.closeAllConnections();
  logoutReceiver?.close();
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
        const res = await insecureFetch(`${cluster.gatewayUrl}/_echo`, {
          headers: { cookie: `__Host-microseg=${cookie}`, accept: 'application/json' },
          redirect: 'manual',
        });
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
  assert.equal(
    replicas.reduce((sum, r) => sum + r.refreshFailures!, 0),
    0,
    'and none was refused',
  );
  for (const [i, r] of replicas.entries()) assert.ok(r.lookups! > 0, `replica ${i + 1} served lookups`);
});

/** Alice's tokens for a client, straight from the demo IdP (code flow with PKCE), as an API client gets them; with `resource`, a JWT access token for that application. */
async function tokensFor(clientId: string, clientSecret: string, redirectUri: string, resource?: string): Promise<{ id_token: string; access_token: string }> {
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
    ...(resource ? { resource } : {}),
  }).toString();
  const page = await browser.navigate(authorize);
  const form = formFieldsOf(page.body!);
  const done = await browser.navigate(
    new URL(form.action!, page.response!.url),
    {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...form.fields, login: 'alice@example.com', password: 'alice' }),
    },
    redirectUri,
  );
  const code = done.stoppedAt!.searchParams.get('code')!;
  const token = await fetch(`${cluster.idpUrl}/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: verifier }),
  });
  assert.equal(token.status, 200, await token.clone().text());
  return (await token.json()) as { id_token: string; access_token: string };
}

const privateAppTokens = () => tokensFor('private-app', cluster.clientSecret, `${cluster.gatewayUrl}/aporeto/oidc/callback`, cluster.gatewayUrl);

const withBearer = (token: string) =>
  insecureFetch(`${cluster.gatewayUrl}/_echo`, { headers: { authorization: `Bearer ${token}`, accept: 'application/json' }, redirect: 'manual' });

/** HS256 over these claims, keyed with `secret` (what the client itself could mint with its secret). */
function hs256(header: Record<string, unknown>, claims: Record<string, unknown>, secret: string): string {
  const input = `${Buffer.from(JSON.stringify({ ...header, alg: 'HS256' })).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

test('an API client with a JWT access token of the service IdP gets in; an ID token, a logout token, HS256, wrong audience, expired or unknown key do not', async () => {
  const { access_token: accessToken, id_token: idToken } = await privateAppTokens();
  assert.equal(decodeProtectedHeader(accessToken).typ, 'at+jwt');
  const ok = await withBearer(accessToken);
  assert.equal(ok.status, 200);
  assert.equal(((await ok.json()) as { headers: Record<string, string> }).headers['x-user-email'], 'alice@example.com');

  const asIdToken = await withBearer(idToken);
  assert.equal(asIdToken.status, 401, 'an ID token (same issuer, same audience, valid signature) is not an access token');
  assert.match(asIdToken.headers.get('www-authenticate') ?? '', /invalid_token/);

  const claims = decodeJwt(accessToken);
  assert.equal(
    (await withBearer(hs256(decodeProtectedHeader(accessToken), claims, cluster.clientSecret))).status,
    401,
    'HS256 keyed with the client secret is refused',
  );

  // A real logout token of the IdP, for this client: alice signs out everywhere and the IdP sends one.
  const from = logoutTokens.length;
  const ended = await fetch(`${cluster.idpUrl}/_demo/backchannel-logout`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'alice@example.com' }),
  });
  assert.ok(ended.ok, `the IdP answered ${ended.status}`);
  await waitFor('a logout token', async () => logoutTokens.length > from, 5_000, 20);
  const logoutToken = logoutTokens[from]!;
  assert.equal(decodeJwt(logoutToken).aud, 'private-app');
  assert.equal((await withBearer(logoutToken)).status, 401, 'a logout token is not an access token');

  const { access_token: otherClient } = await tokensFor(
    'walkthrough-app',
    'walkthrough-secret',
    `https://localhost:${cluster.ports.walkthrough}/aporeto/oidc/callback`,
    `https://localhost:${cluster.ports.walkthrough}`,
  );
  const wrongAudience = await withBearer(otherClient);
  assert.equal(wrongAudience.status, 401, 'a token issued to another client (aud) is refused');
  assert.match(wrongAudience.headers.get('www-authenticate') ?? '', /invalid_token/);

  const { privateKey } = await generateKeyPair('RS256');
  const unknownKey = await new SignJWT({ ...claims, exp: Math.floor(Date.now() / 1000) + 300 })
    .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: 'not-a-key-of-the-idp' })
    .sign(privateKey);
  assert.equal((await withBearer(unknownKey)).status, 401, 'a token signed by an unknown key is refused');

  await waitFor('the access token to expire', async () => Date.now() > claims.exp! * 1000 + 6_000, (TOKEN_SECONDS + 10) * 1000, 250);
  assert.equal((await withBearer(accessToken)).status, 401, 'an expired token is refused');
});

test('revoking a user ends her bearer tokens at the gateway within a second; a token issued afterwards works', async () => {
  const { access_token: before } = await privateAppTokens();
  assert.equal((await withBearer(before)).status, 200, 'accepted (and now cached by the gateway)');

  const revokedAt = Date.now();
  const revoked = await fetch(`${cluster.policyUrl}/sessions?user=alice@example.com&recursive=true`, {
    method: 'DELETE',
    headers: { authorization: `Bearer ${cluster.adminToken}`, 'x-namespace': '/' },
  });
  assert.equal(revoked.status, 200, await revoked.text());
  await waitFor('the revoked token to be refused', async () => (await withBearer(before)).status === 401, 1_000, 20);
  const tookMs = Date.now() - revokedAt;
  console.log(`bearer revocation reached the gateway in ${tookMs} ms`);
  assert.ok(tookMs < 1_000, `took ${tookMs} ms`);

  // `iat` counts whole seconds: a token from the revocation's own second is refused too, so ask for one after it.
  await waitFor('the next second', async () => Math.floor(Date.now() / 1000) > Math.floor(revokedAt / 1000), 2_000, 20);
  const { access_token: after } = await privateAppTokens();
  assert.equal((await withBearer(after)).status, 200, 'a token issued after the revocation is accepted');
  assert.equal((await withBearer(before)).status, 401, 'and the revoked one stays refused');
});
