// Attacks on forward-auth (docs/forward-auth.md, SPEC §3.9): Debian's nginx with deploy/forward-auth/nginx.conf
// in front of a recorder that keeps every byte it receives, the gateway deciding. Who may ask the forward-auth
// port, what a client can make nginx ask, and what the application receives — usually nothing. Requests that
// fetch would normalise go out as raw bytes over TLS. test/attacks/README.md lists each case and its source.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpsRequest } from 'node:https';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, fetch as undiciFetch } from 'undici';
import {
  freePort,
  insecureFetch,
  isListening,
  loginWithHttp,
  startCluster,
  startForwardAuthNginx,
  waitFor,
  type Cluster,
  type RunningNginx,
} from '@microseg/testkit';
import { api, exposeRecorder, headerValues, http1, marker, rawRequest, Recorder, type Recorded } from './gateway-kit.ts';

let cluster: Cluster;
let recorder: Recorder;
let nginx: RunningNginx & { url: string };
let nginxPort: number;
let forwardAuthPort: number;
/** alice's session ticket, from a login through nginx. */
let alice: string;

const SESSION = '__Host-microseg';

before(async () => {
  const recorderPort = await freePort();
  nginxPort = await freePort();
  forwardAuthPort = await freePort();
  cluster = await startCluster({
    dataDir: await mkdtemp(join(tmpdir(), 'microseg-attacks-fa-')),
    isolated: true,
    gatewayPorts: { application: [recorderPort] },
    // Only nginx's address (127.0.0.1) may ask; the attacker below asks from 127.0.0.2.
    env: { GATEWAY_FORWARD_AUTH_PORT: String(forwardAuthPort), GATEWAY_FORWARD_AUTH_TRUSTED_PROXIES: '127.0.0.1/32' },
    idpEnv: { DEMO_WALKTHROUGH_REDIRECT_URI: `https://localhost:${nginxPort}/aporeto/oidc/callback` },
  });
  recorder = new Recorder();
  await recorder.start(recorderPort);
  // The recorder's service (gateway-kit: /public/* public, /* for alice), served through nginx.
  await exposeRecorder(cluster, recorder);
  const patched = await api(cluster, 'PATCH', '/services/recorded', { forwardAuth: true, OIDCCallbackURL: `https://localhost:${nginxPort}` });
  assert.equal(patched.status, 200, JSON.stringify(patched.body));
  await waitFor('the gateway to serve the service', () => isListening('127.0.0.1', cluster.ports.walkthrough));
  nginx = await startForwardAuthNginx({ port: nginxPort, forwardAuthPort, servicePort: cluster.ports.walkthrough, appPort: recorderPort });
  await waitFor('nginx to be let through', async () => (await insecureFetch(`${nginx.url}/public/ready`)).status === 200, 10_000, 50);
  const login = await loginWithHttp(nginx.url, 'alice@example.com', 'alice');
  assert.equal(login.response.status, 200, login.body);
  alice = login.browser.cookie(SESSION)!;
  assert.ok(alice);
});

after(async () => {
  await nginx?.stop();
  await recorder?.stop();
  await cluster?.stop();
});

/** Raw bytes to nginx: request line, Host, Accept JSON, then `headers`. */
const toNginx = (target: string, headers: string[] = [], method = 'GET') =>
  rawRequest(nginxPort, http1(`${method} ${target} HTTP/1.1`, [`Host: localhost:${nginxPort}`, 'Accept: application/json', ...headers]));

function nothingArrived(m: string): void {
  assert.ok(!recorder.sawBytes(m), `the application received ${m}`);
}

function arrivedOnce(m: string): Recorded {
  const found = recorder.withTarget(m);
  assert.equal(found.length, 1, `expected one request with ${m} at the application, got ${found.length}`);
  return found[0]!;
}

/** A forward-auth request straight to the gateway's port, from `localAddress`. */
function askGateway(
  localAddress: string,
  path: string,
  headers: Record<string, string>,
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port: forwardAuthPort, path, localAddress, rejectUnauthorized: false, agent: false, headers }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('who may ask the forward-auth port', () => {
  const forged = (m: string) => ({
    'x-original-method': 'GET',
    'x-original-uri': `/secret?m=${m}`,
    'x-forwarded-host': 'localhost',
    'x-forwarded-for': '127.0.0.1',
    cookie: `${SESSION}=${alice}`,
    accept: 'application/json',
  });

  test("a peer outside GATEWAY_FORWARD_AUTH_TRUSTED_PROXIES, with forged X-Forwarded-Host/X-Original-URI and alice's valid ticket: 403, nothing learned", async () => {
    for (const path of ['/nginx', '/traefik', '/envoy/secret']) {
      const m = marker('untrusted');
      const res = await askGateway('127.0.0.2', path, { ...forged(m), 'x-forwarded-method': 'GET', 'x-forwarded-uri': `/secret?m=${m}`, host: 'localhost' });
      assert.equal(res.status, 403, path);
      assert.equal((JSON.parse(res.body) as { code: string }).code, 'GATEWAY_FORWARD_AUTH_UNTRUSTED');
      assert.equal(res.headers['x-user-email'], undefined, 'the identity of the ticket was told to an untrusted peer');
      nothingArrived(m);
    }
  });

  test('the same question from the trusted address is answered (control)', async () => {
    const res = await askGateway('127.0.0.1', '/nginx', forged(marker('trusted')));
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-user-email'], 'alice@example.com');
  });
});

describe('what a client can make nginx ask', () => {
  test('a positive control: a public path reaches the application once, with no identity', async () => {
    const m = marker('control');
    const res = await toNginx(`/public/x?m=${m}`);
    assert.equal(res.status, 200);
    assert.deepEqual(headerValues(arrivedOnce(m), 'X-User-Email'), []);
  });

  test('X-Original-URI, X-Original-Method, X-Forwarded-Host and -Uri sent by the client: replaced by nginx, the real request decided', async () => {
    const m = marker('forged');
    const res = await toNginx(`/secret?m=${m}`, [
      `X-Original-URI: /public/x?m=${m}`,
      'X-Original-Method: GET',
      'X-Forwarded-Host: other.example',
      `X-Forwarded-Uri: /public/x?m=${m}`,
      'X-Forwarded-Method: GET',
    ]);
    assert.equal(res.status, 401, 'the forged headers changed the decision');
    nothingArrived(m);
  });

  test('another Host through nginx (no forward-auth service there): refused, nothing forwarded', async () => {
    const m = marker('host');
    const res = await rawRequest(nginxPort, http1(`GET /public/x?m=${m} HTTP/1.1`, ['Host: other.example', 'Accept: application/json']));
    assert.equal(res.status, 500, "the gateway's 404 (no forward-auth service at that host) is an error for nginx");
    nothingArrived(m);
  });

  test('X-Forwarded-For sent by a blocked client does not lift an incoming Reject: the address nginx saw is decided on', async () => {
    const network = await api(cluster, 'POST', '/externalnetworks', {
      name: 'blocked-client',
      entries: ['127.0.0.4'],
      servicePorts: ['any'],
      associatedTags: ['ext:name=blocked'],
    });
    assert.equal(network.status, 201, JSON.stringify(network.body));
    const policy = await api(cluster, 'POST', '/networkaccesspolicies', {
      name: 'block-client',
      action: 'Reject',
      applyPolicyMode: 'IncomingTraffic',
      subject: [['ext:name=blocked']],
      object: [['$identity=processingunit', 'type=walkthrough-app']],
    });
    assert.equal(policy.status, 201, JSON.stringify(policy.body));
    const agent = new Agent({ localAddress: '127.0.0.4', connect: { rejectUnauthorized: false } });
    const fromBlocked = (m: string) =>
      undiciFetch(`${nginx.url}/public/x?m=${m}`, {
        dispatcher: agent,
        headers: { 'x-forwarded-for': '198.51.100.1', 'x-real-ip': '198.51.100.1', forwarded: 'for=198.51.100.1' },
      });
    await waitFor('the Reject policy to apply', async () => (await fromBlocked(marker('wait'))).status === 403, 3_000);
    const m = marker('xff');
    assert.equal((await fromBlocked(m)).status, 403);
    nothingArrived(m);
    await api(cluster, 'DELETE', '/networkaccesspolicies/block-client');
    await agent.close();
  });
});

describe('paths: the ingress forwards what the client sent, so only paths already in normal form are allowed', () => {
  // The gateway refuses each (400, which nginx is given as 403: auth_request acts on 2xx, 401 and 403 only); nginx
  // refuses a raw NUL itself (400).
  const refused = [
    '/public/../secret',
    '/public/%2e%2e/secret',
    '/public/%2E%2E/secret',
    '/public/x/..//secret',
    '//secret',
    '/public//x',
    '/public/..%2Fsecret',
    '/public%2Fx',
    '/public/..;/secret',
    '/public;jsessionid=1/x',
    '/public/x%3Bjsessionid=1',
    '/public/%c0%ae%c0%ae/secret',
    '/public/%FF',
    '/public/%EF%BC%8E%EF%BC%8E%EF%BC%8Fsecret',
    '/public/x%00',
    '/public/%5c..%5csecret',
    '/public/%7Ex',
    '//evil.example/',
  ];
  for (const path of refused) {
    test(`${path}: refused, nothing reaches the application`, async () => {
      const m = marker('path');
      const res = await toNginx(`${path}${path.includes('?') ? '&' : '?'}m=${m}`);
      assert.equal(res.status, path.includes('%00') ? 400 : 403);
      nothingArrived(m);
    });
  }

  test('/PUBLIC/x: matching is case-sensitive, so it needs a user (401), nothing forwarded', async () => {
    const m = marker('case');
    assert.equal((await toNginx(`/PUBLIC/x?m=${m}`)).status, 401);
    nothingArrived(m);
  });

  test('double encoding /public/%252e%252e/secret is a normal path under /public: forwarded as sent', async () => {
    const m = marker('double');
    assert.equal((await toNginx(`/public/%252e%252e/secret?m=${m}`)).status, 200);
    assert.equal(arrivedOnce(m).url, `/public/%252e%252e/secret?m=${m}`);
  });
});

describe('identity headers and cookies: what the application receives', () => {
  test("alice with X-User-Email in four spellings and twice: the application gets alice's one X-User-Email; X_User_Email is dropped by nginx", async () => {
    const m = marker('spoof');
    const res = await toNginx(`/anything?m=${m}`, [
      `Cookie: ${SESSION}=${alice}`,
      'X-User-Email: mallory@example.com',
      'x-user-email: mallory@example.com',
      'X-USER-EMAIL: mallory@example.com',
      'X_User_Email: mallory@example.com',
      'x_user_email: mallory@example.com',
    ]);
    assert.equal(res.status, 200);
    const got = arrivedOnce(m);
    assert.deepEqual(headerValues(got, 'X-User-Email'), ['alice@example.com']);
    assert.ok(!got.rawHeaders.join('\n').includes('mallory'));
  });

  test('anonymous on a public path with X-User-Email: no X-User-Email at all', async () => {
    const m = marker('anon');
    assert.equal((await toNginx(`/public/x?m=${m}`, ['X-User-Email: mallory@example.com', 'X_User_Email: mallory@example.com'])).status, 200);
    assert.deepEqual(headerValues(arrivedOnce(m), 'X-User-Email'), []);
  });

  test("microseg's cookies never reach the application; the application's own do", async () => {
    const m = marker('cookie');
    assert.equal((await toNginx(`/anything?m=${m}`, [`Cookie: theme=dark; ${SESSION}=${alice}; __Host-microseg-login=x; app=1`])).status, 200);
    assert.deepEqual(headerValues(arrivedOnce(m), 'Cookie'), ['theme=dark; app=1']);
    const anonymous = marker('cookie-anon');
    assert.equal((await toNginx(`/public/x?m=${anonymous}`, [`Cookie: ${SESSION}=forged`])).status, 200);
    assert.deepEqual(headerValues(arrivedOnce(anonymous), 'Cookie'), []);
  });

  test('a forged ticket is no session: a navigation goes to sign in, an API call gets 401', async () => {
    const m = marker('forged-ticket');
    assert.equal((await toNginx(`/anything?m=${m}`, [`Cookie: ${SESSION}=forged.ticket`])).status, 401);
    nothingArrived(m);
  });
});
