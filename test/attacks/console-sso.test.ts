// Attacks on the console's single sign-on (SPEC §9.6): identity assertions forged, expired, or made for another
// service, sent straight to flowlog's port; a client's own X-Microseg-Jwt-Assertion through the gateway (a valid
// console assertion, which flowlog would accept sent straight, so that only the stripping can refuse it); and a
// namespace editor granting console access outside the namespace. A valid console assertion is made here with the
// installation's own signing key (read as a gateway reads it, over NATS with the admin identity): the strongest
// token an attacker could hold.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt, SignJWT, UnsecuredJWT, type JWTPayload } from 'jose';
import { Agent, request } from 'undici';
import { Bus } from '@microseg/bus';
import { requests } from '@microseg/contracts';
import { loginWithHttp, startCluster, waitFor, type Cluster } from '@microseg/testkit';

const CONSOLE_AUD = '/microseg-console';
const HEADER = 'x-microseg-jwt-assertion';
const TEAM_B = '/acme/team-b';
const TEAM_C = '/acme/team-c';
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

let cluster: Cluster;
let insecure: Agent;
let signing: { kid: string; key: KeyObject; publicJwk: Record<string, string> };
/** alice's assertion for the demo application, as the gateway forwarded it there. */
let demoAssertion: string;
let bobConsoleCookie: string;

before(async () => {
  cluster = await startCluster({ dataDir: await mkdtemp(join(tmpdir(), 'microseg-attacks-console-sso-')), isolated: true });
  insecure = new Agent({ connect: { rejectUnauthorized: false } });
  const bus = await Bus.connect({ connection: cluster.natsConnection(), identity: 'admin', name: 'console-sso-attacks', logger: quiet });
  try {
    const sync = await bus.request(requests.policyGatewaySync, { gatewayId: 'console-sso-attacks' }, 5_000);
    const now = Date.now();
    const current = sync.assertion!.keys.filter((k) => Number(k.activateAtMs) <= now).at(-1)!;
    signing = { kid: current.kid, key: createPrivateKey(current.privateKeyPem), publicJwk: JSON.parse(current.publicJwk) as Record<string, string> };
  } finally {
    await bus.close(1_000);
  }
  const alice = await loginWithHttp(cluster.gatewayUrl, 'alice@example.com', 'alice');
  const echo = await alice.browser.request(`${cluster.gatewayUrl}/_echo`, { headers: { accept: 'application/json' } });
  demoAssertion = ((await echo.json()) as { headers: Record<string, string> }).headers[HEADER]!;
  assert.equal(decodeJwt(demoAssertion).aud, '/acme/team-b/dev/private-app/private-app');
  const bob = await loginWithHttp(cluster.consoleUrl, 'bob@example.com', 'bob');
  assert.equal(bob.response.status, 200, 'bob reaches the pages (anyone signed in); flowlog decides what he sees');
  bobConsoleCookie = bob.browser.cookie('__Host-microseg')!;
});

after(async () => {
  await cluster?.stop();
  await insecure?.close();
});

const nowS = () => Math.floor(Date.now() / 1000);
const claims = (extra: JWTPayload = {}): JWTPayload => ({
  iss: 'microseg',
  aud: CONSOLE_AUD,
  sub: 'alice',
  email: 'alice@example.com',
  tags: ['sub=alice', 'email=alice@example.com'],
  iat: nowS(),
  exp: nowS() + 60,
  jti: `attack-${Math.random()}`,
  ...extra,
});
const signWith = (payload: JWTPayload, key: KeyObject, header: Record<string, unknown> = {}) =>
  new SignJWT(payload).setProtectedHeader({ alg: 'ES256', typ: 'JWT', kid: signing.kid, ...header }).sign(key);
/** An assertion as the gateway would make it for the console. */
const valid = (extra: JWTPayload = {}) => signWith(claims(extra), signing.key);

/** Straight to flowlog's port, past the gateway. */
async function straight(headers: Record<string, string>, path = '/api/v1/whoami'): Promise<{ status: number; body: any }> {
  const res = await fetch(`${cluster.flowlogUrl}${path}`, { headers });
  return { status: res.status, body: await res.json() };
}

/** Through the gateway to the console: `headers` as raw name/value pairs (several spellings, duplicates). */
async function viaGateway(headers: string[], path = '/api/v1/whoami'): Promise<{ status: number; body: any }> {
  const res = await request(`${cluster.consoleUrl}${path}`, { headers: ['accept', 'application/json', ...headers], dispatcher: insecure });
  return { status: res.statusCode, body: await res.body.json() };
}

describe("straight to flowlog's port", () => {
  test('control: an assertion signed with the installation key for the console is a user (a bearer proof for its life: security model 2b)', async () => {
    const res = await straight({ [HEADER]: await valid() });
    assert.deepEqual([res.status, res.body.name, res.body.via], [200, 'alice@example.com', 'sso']);
  });

  test('forgeries count as no assertion: 401, or the API token beside them decides', async () => {
    const attacker = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const attackerJwk = attacker.publicKey.export({ format: 'jwk' });
    const real = await valid();
    const [h, p] = real.split('.') as [string, string];
    const tampered = `${h}.${Buffer.from(JSON.stringify({ ...decodeJwt(real), email: 'root@example.com', tags: ['email=root@example.com'] })).toString('base64url')}.${real.split('.')[2]}`;
    const hsInput = `${Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT', kid: signing.kid })).toString('base64url')}.${p}`;
    const forged: Array<[string, string]> = [
      ["the attacker's key under the published kid", await signWith(claims(), attacker.privateKey)],
      ["the attacker's key carried in the token (jwk) under its own kid", await signWith(claims(), attacker.privateKey, { kid: 'mine', jwk: attackerJwk })],
      ['a key set URL (jku)', await signWith(claims(), attacker.privateKey, { kid: 'mine', jku: 'https://evil.example/jwks.json' })],
      ['alg none', new UnsecuredJWT(claims()).encode()],
      [
        'HS256 keyed with the published public key',
        `${hsInput}.${createHmac('sha256', JSON.stringify(signing.publicJwk)).update(hsInput).digest('base64url')}`,
      ],
      ['a real assertion with its claims changed', tampered],
      ['expired', await valid({ iat: nowS() - 120, exp: nowS() - 60 })],
      ['another issuer', await valid({ iss: 'https://evil.example' })],
    ];
    for (const [what, token] of forged) {
      const alone = await straight({ [HEADER]: token });
      assert.deepEqual([alone.status, alone.body.code], [401, 'FLOWLOG_UNAUTHENTICATED'], what);
      const withToken = await straight({ [HEADER]: token, authorization: `Bearer ${cluster.adminToken}` });
      assert.equal(withToken.body.via, 'token', `${what}: the token decides`);
    }
  });

  test("an assertion made for another service (the demo application's, alice's) is refused by the console", async () => {
    const res = await straight({ [HEADER]: demoAssertion });
    assert.deepEqual([res.status, res.body.code], [401, 'FLOWLOG_UNAUTHENTICATED']);
    const data = await straight({ [HEADER]: demoAssertion }, '/api/v1/flows?namespace=/&recursive=true');
    assert.equal(data.status, 401);
    assert.equal('flows' in data.body, false);
  });
});

describe('through the gateway', () => {
  test("a client's own assertion — a valid one — is removed in every spelling: without a session, none reaches flowlog", async () => {
    const token = await valid();
    for (const name of ['X-Microseg-Jwt-Assertion', 'x_microseg_jwt_assertion', 'X-MICROSEG-JWT-ASSERTION']) {
      const res = await viaGateway([name, token]);
      assert.deepEqual([res.status, res.body.code], [401, 'FLOWLOG_UNAUTHENTICATED'], name);
    }
    const twice = await viaGateway([HEADER, token, HEADER, token]);
    assert.equal(twice.status, 401);
  });

  test("with bob's session, alice's assertion (the console's, or the demo application's) is replaced by his own: he is bob, without access", async () => {
    for (const token of [await valid(), demoAssertion]) {
      const res = await viaGateway(['cookie', `__Host-microseg=${bobConsoleCookie}`, HEADER, token]);
      assert.deepEqual([res.status, res.body.code], [403, 'FLOWLOG_NO_ACCESS']);
      assert.match(res.body.message, /signed in as bob@example\.com/);
    }
  });
});

describe('console access granted by a namespace editor', () => {
  let editorB: string;
  const policyApi = async (token: string, method: string, path: string, namespace: string, body?: unknown) => {
    const res = await fetch(`${cluster.policyUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'x-namespace': namespace, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: await res.json() };
  };
  const grant = (authorizedNamespace: string) => ({
    name: 'mallory-console',
    subject: [['email=mallory@example.com']],
    authorizedNamespace,
    authorizedIdentities: ['@auth:role=namespace.editor'],
    propagate: true,
  });
  const mallory = () => valid({ sub: 'mallory', email: 'mallory@example.com', tags: ['sub=mallory', 'email=mallory@example.com'] });

  before(async () => {
    const created = await policyApi(cluster.adminToken, 'POST', '/apitokens', TEAM_B, { name: 'team-b-editor', role: 'editor', namespace: TEAM_B });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    editorB = created.body.token;
  });

  test('an editor of /acme/team-b cannot grant /acme/team-c: 422 from team-b, 403 from team-c, by import too; mallory gets nothing', async () => {
    const here = await policyApi(editorB, 'POST', '/apiauthorizationpolicies', TEAM_B, grant(TEAM_C));
    assert.equal(here.status, 422, JSON.stringify(here.body));
    assert.match(here.body.errors[0].message, /must be the policy's own namespace \(\/acme\/team-b\) or one below it/);
    assert.equal((await policyApi(editorB, 'POST', '/apiauthorizationpolicies', TEAM_C, grant(TEAM_C))).status, 403);
    assert.equal((await policyApi(editorB, 'POST', '/apiauthorizationpolicies', TEAM_B, grant('/acme'))).status, 422, 'nor the parent');
    const imported = await policyApi(editorB, 'POST', '/import', TEAM_B, { namespace: TEAM_C, data: { apiauthorizationpolicies: [grant(TEAM_C)] } });
    assert.equal(imported.status, 403, JSON.stringify(imported.body));
    const res = await straight({ [HEADER]: await mallory() });
    assert.deepEqual([res.status, res.body.code], [403, 'FLOWLOG_NO_ACCESS']);
  });

  test('what the editor may grant, team-b, stays team-b: team-c and the parent are 403 for mallory', async () => {
    const created = await policyApi(editorB, 'POST', '/apiauthorizationpolicies', TEAM_B, grant(TEAM_B));
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const token = await mallory();
    // flowlog remembered "no access" for a few seconds (FLOWLOG_TOKEN_CACHE_MS).
    await waitFor('the grant seen', async () => (await straight({ [HEADER]: token })).status === 200, 10_000);
    const who = await straight({ [HEADER]: token });
    assert.deepEqual(who.body.grants, [{ namespace: TEAM_B, role: 'editor', subtree: true }]);
    assert.equal((await straight({ [HEADER]: token }, `/api/v1/flows?namespace=${TEAM_B}/dev&recursive=true`)).status, 200);
    for (const namespace of [TEAM_C, '/acme', '/acme/team-bb'])
      assert.equal((await straight({ [HEADER]: token }, `/api/v1/flows?namespace=${namespace}`)).status, 403, namespace);
  });
});
