// Attacks on the admin API (the policy service, SPEC §9): tokens in the wrong
// place or form, cross-namespace reads and writes (a service of one namespace
// taking over another's port and host included), mass assignment, oversized
// and ambiguous bodies, brute force (429 past a per-address limit), and an
// audit event for every refusal that never carries the presented token.
// Requests leave from chosen loopback addresses (127.0.0.x), so that each
// group of failures has its own rate-limit bucket.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as natsConnect, type NatsConnection } from '@nats-io/transport-node';
import { natsConnectOptions } from '@microseg/bus';
import { Kvm } from '@nats-io/kv';
import { fromBinary } from '@bufbuild/protobuf';
import { LogEventSchema, type LogEvent } from '@microseg/proto/events';
import { freePort, insecureFetch, loginWithHttp, startCluster, waitFor, type Cluster } from '@microseg/testkit';
import { Recorder } from './gateway-kit.ts';

const TEAM_B = '/acme/team-b/dev/private-app';
const TEAM_C = '/acme/team-c';
const WALKTHROUGH = '/acme/team-c/walkthrough';

let cluster: Cluster;
/** An application port the gateway's file allows, for a service of team-c's that tries to take over team-b's traffic. */
let evilPort: number;
let nats: NatsConnection;
/** Every event the policy service published during the run, as it published it (before flowlog's redaction). */
const events: LogEvent[] = [];
/** Every credential a test presented or was shown: none may appear in an event or a log line. */
const presented = new Set<string>();
let ADMIN: string;
let editorC: string;
let viewerC: string;
let adminC: string;

before(async () => {
  evilPort = await freePort();
  cluster = await startCluster({
    dataDir: await mkdtemp(join(tmpdir(), 'microseg-attacks-admin-')),
    isolated: true,
    gatewayPorts: { application: [evilPort] },
  });
  ADMIN = cluster.adminToken;
  presented.add(ADMIN);
  nats = await natsConnect(natsConnectOptions(cluster.natsConnection('admin')));
  const sub = nats.subscribe('evt.policy.v1.event');
  void (async () => {
    for await (const m of sub) events.push(fromBinary(LogEventSchema, m.data));
  })();
  editorC = await makeToken('team-c-editor', 'editor', TEAM_C);
  viewerC = await makeToken('team-c-viewer', 'viewer', TEAM_C);
  adminC = await makeToken('team-c-admin', 'admin', TEAM_C);
});

after(async () => {
  await nats?.close();
  await cluster?.stop();
});

// --- helpers ---------------------------------------------------------------------------------

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  body: any;
}

interface CallOptions {
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string;
  /** The Authorization header(s) exactly. */
  authorization?: string | string[];
  namespace?: string | string[];
  body?: unknown;
  /** A body sent as is (with `contentType`). */
  raw?: string | Buffer;
  contentType?: string;
  /** Send the body chunked, without Content-Length. */
  chunked?: boolean;
  headers?: Record<string, string | string[]>;
  /** The source address (127.0.0.x); default 127.0.0.1. */
  from?: string;
}

/** One API request from a chosen loopback address. */
function call(method: string, path: string, options: CallOptions = {}): Promise<Reply> {
  const headers: Record<string, string | string[]> = { ...options.headers };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  if (options.authorization !== undefined) headers.authorization = options.authorization;
  if (options.namespace !== undefined) headers['x-namespace'] = options.namespace;
  let body: string | Buffer | undefined = options.raw;
  if (options.body !== undefined) body = JSON.stringify(options.body);
  if (body !== undefined) {
    headers['content-type'] = options.contentType ?? 'application/json';
    if (!options.chunked) headers['content-length'] = String(Buffer.byteLength(body));
  }
  const url = new URL(cluster.policyUrl);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: url.hostname, port: url.port, localAddress: options.from ?? '127.0.0.1', method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown;
        try {
          parsed = text ? JSON.parse(text) : undefined;
        } catch {
          parsed = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body: parsed });
      });
    });
    req.on('error', reject);
    if (body !== undefined && options.chunked) {
      // In pieces, so that the server cannot know the size up front.
      const buffer = Buffer.from(body);
      for (let i = 0; i < buffer.length; i += 64 * 1024) req.write(buffer.subarray(i, i + 64 * 1024));
      req.end();
    } else req.end(body);
  });
}

let nextAddress = 10;
/** A loopback source address no other test uses (its own rate-limit bucket). */
const freshAddress = () => `127.0.0.${nextAddress++}`;

async function makeToken(name: string, role: string, namespace: string): Promise<string> {
  const res = await call('POST', '/apitokens', { token: ADMIN, namespace: '/', body: { name, role, namespace } });
  assert.equal(res.status, 201, res.text);
  presented.add(res.body.token);
  return res.body.token;
}

/** A token of the right shape for `id` with another secret. */
const withWrongSecret = (token: string) => `${token.slice(0, 21)}${'A'.repeat(43)}`;

const serviceBody = (name: string, extra: object = {}) => ({ name, hosts: [`${name}.example.com`], port: 3000, exposedPort: 443, ...extra });

function assertNoCredential(text: string, where: string): void {
  for (const secret of presented) {
    assert.ok(!text.includes(secret), `${where} contains a presented credential`);
    // The secret part alone (after mst_<id>_) is the credential too.
    const part = secret.slice(21);
    if (part.length >= 20) assert.ok(!text.includes(part), `${where} contains the secret part of a credential`);
  }
}

// --- tokens in the wrong place or form -------------------------------------------------------

describe('tokens in the wrong place or form', () => {
  test('a valid token anywhere but the Authorization header is never accepted: 401', async () => {
    const from = freshAddress();
    const places: Array<[string, string, CallOptions]> = [
      ['query ?token=', `/services?token=${ADMIN}`, {}],
      ['query ?access_token=', `/services?access_token=${ADMIN}`, {}],
      ['query ?authorization=', `/services?authorization=${encodeURIComponent(`Bearer ${ADMIN}`)}`, {}],
      ['cookie token=', '/services', { headers: { cookie: `token=${ADMIN}` } }],
      ['cookie Authorization=', '/services', { headers: { cookie: `Authorization=Bearer ${ADMIN}` } }],
      ['X-Api-Key', '/services', { headers: { 'x-api-key': ADMIN } }],
      ['X-Auth-Token', '/services', { headers: { 'x-auth-token': ADMIN } }],
      ['Proxy-Authorization', '/services', { headers: { 'proxy-authorization': `Bearer ${ADMIN}` } }],
    ];
    for (const [what, path, options] of places) {
      const res = await call('GET', path, { ...options, namespace: '/', from });
      assert.equal(res.status, 401, what);
      assert.equal(res.body.code, 'UNAUTHENTICATED', what);
      assertNoCredential(res.text, `the answer to ${what}`);
    }
  });

  test('malformed Authorization headers carrying a valid token are refused: 401', async () => {
    const from = freshAddress();
    const basic = (s: string) => `Basic ${Buffer.from(s).toString('base64')}`;
    const forms = [
      basic(`admin:${ADMIN}`),
      basic(`${ADMIN}:`),
      `Token ${ADMIN}`,
      ADMIN,
      `Bearer${ADMIN}`,
      `Bearer\t${ADMIN}`,
      `Bearer ${ADMIN} extra`,
      `Bearer ${ADMIN},`,
      `Bearer "${ADMIN}"`,
      `Bearer ${ADMIN}x`,
      `Bearer ${ADMIN.slice(0, -1)}`,
      `Bearer ${ADMIN.toUpperCase()}`,
      `Bearer ${Buffer.from(ADMIN).toString('base64')}`,
      `Bearer ${encodeURIComponent(ADMIN).replaceAll('_', '%5F')}`,
      `Bearer ${withWrongSecret(ADMIN)}`,
      `Bearer ${ADMIN.slice(0, 21)}${editorC.slice(21)}`,
      `Bearer mst_0000000000000000_${ADMIN.slice(21)}`,
    ];
    for (const authorization of forms) {
      presented.add(authorization.replace(/^\S+\s+/, ''));
      const res = await call('GET', '/services', { authorization, namespace: '/', from });
      assert.equal(res.status, 401, `Authorization: ${authorization.slice(0, 30)}…`);
      assertNoCredential(res.text, 'a 401 answer');
    }
  });

  test('RFC 9110 forms work only with the right token: the scheme in any case, one or more spaces', async () => {
    const from = freshAddress();
    for (const scheme of ['Bearer ', 'bearer ', 'BEARER ', 'Bearer   ']) {
      assert.equal((await call('GET', '/services', { authorization: `${scheme}${ADMIN}`, namespace: '/', from })).status, 200, JSON.stringify(scheme));
      assert.equal(
        (await call('GET', '/services', { authorization: `${scheme}${withWrongSecret(ADMIN)}`, namespace: '/', from })).status,
        401,
        JSON.stringify(scheme),
      );
    }
  });

  test('two Authorization headers, one of them valid, in either order: 401', async () => {
    const from = freshAddress();
    for (const pair of [
      [`Bearer ${ADMIN}`, 'Bearer garbage'],
      ['Bearer garbage', `Bearer ${ADMIN}`],
      [`Bearer ${ADMIN}`, `Bearer ${ADMIN}`],
    ]) {
      const res = await call('GET', '/services', { authorization: pair, namespace: '/', from });
      assert.equal(res.status, 401, pair.join(' + ').slice(0, 40));
      assert.match(res.body.message, /one Authorization header/);
    }
  });

  test('flowlog does not take a token from the query string or a cookie either', async () => {
    for (const init of [{ path: `/api/v1/events?token=${ADMIN}` }, { path: '/api/v1/events', headers: { cookie: `token=${ADMIN}` } }]) {
      const res = await fetch(`${cluster.flowlogUrl}${init.path}`, { headers: init.headers });
      assert.equal(res.status, 401, init.path);
      assertNoCredential(await res.text(), 'flowlog 401');
    }
  });
});

// --- cross-namespace reads and writes --------------------------------------------------------

describe('cross-namespace reads and writes (a /acme/team-c editor)', () => {
  let teamBService: { ID: string; name: string };

  before(async () => {
    const listed = await call('GET', '/services', { token: ADMIN, namespace: TEAM_B });
    assert.equal(listed.status, 200);
    teamBService = listed.body.find((s: { name: string }) => s.name === 'private-app');
    assert.ok(teamBService);
  });

  test('reads of another namespace: 403; its objects by ID through one of ours: 404', async () => {
    for (const [path, namespace] of [
      ['/services', TEAM_B],
      ['/services?recursive=true', '/acme'],
      ['/services?recursive=true', '/'],
      ['/export?recursive=true', '/acme'],
      [`/services/${teamBService.ID}`, TEAM_B],
      ['/services', '/acme/team-cx'],
      ['/services', '/acme/team'],
    ] as const) {
      const res = await call('GET', path, { token: editorC, namespace });
      assert.equal(res.status, 403, `GET ${path} in ${namespace}`);
      assert.deepEqual(Object.keys(res.body), ['code', 'message'], `GET ${path} in ${namespace} shows nothing`);
    }
    for (const path of [`/services/${teamBService.ID}`, `/httpresourcespecs/private-app-api`]) {
      const res = await call('GET', path, { token: editorC, namespace: TEAM_C });
      assert.equal(res.status, 404, path);
    }
    const recursive = await call('GET', '/services?recursive=true', { token: editorC, namespace: TEAM_C });
    assert.equal(recursive.status, 200);
    assert.ok(!recursive.text.includes('private-app'));
  });

  test('X-Namespace spelt around the subtree (dots, twice, encoded): 400 or 403, never another namespace', async () => {
    for (const namespace of [
      `${TEAM_C}/..`,
      `${TEAM_C}/../team-b`,
      `${TEAM_C}/%2e%2e/team-b`,
      `${TEAM_C}/./../team-b`,
      [TEAM_C, TEAM_B],
      `${TEAM_C}/\u00a0/../team-b`,
    ]) {
      const res = await call('GET', '/services', { token: editorC, namespace });
      assert.ok(res.status === 400 || res.status === 403, `${JSON.stringify(namespace)}: ${res.status}`);
      assert.deepEqual(Object.keys(res.body), ['code', 'message']);
    }
  });

  test('writes into another namespace: 403 (header) or ignored (body); nothing changes there', async () => {
    const before = await call('GET', `/services/${teamBService.ID}`, { token: ADMIN, namespace: TEAM_B });
    assert.equal((await call('POST', '/services', { token: editorC, namespace: TEAM_B, body: serviceBody('intruder') })).status, 403);
    assert.equal((await call('PUT', `/services/${teamBService.ID}`, { token: editorC, namespace: TEAM_B, body: { ...before.body, port: 1 } })).status, 403);
    assert.equal((await call('PATCH', `/services/${teamBService.ID}`, { token: editorC, namespace: TEAM_C, body: { port: 1 } })).status, 404);
    assert.equal((await call('DELETE', `/services/${teamBService.ID}`, { token: editorC, namespace: TEAM_C })).status, 404);
    assert.equal((await call('DELETE', '/services/private-app', { token: editorC, namespace: TEAM_B })).status, 403);
    // A namespace in the body is not where an object goes: the request's namespace is.
    const placed = await call('POST', '/httpresourcespecs', { token: editorC, namespace: TEAM_C, body: { name: 'placed', namespace: TEAM_B, endpoints: [] } });
    assert.equal(placed.status, 201, placed.text);
    assert.equal(placed.body.namespace, TEAM_C);
    assert.equal((await call('GET', '/httpresourcespecs/placed', { token: ADMIN, namespace: TEAM_B })).status, 404);
    // An import naming another namespace: refused whole.
    const imported = await call('POST', '/import', {
      token: editorC,
      namespace: TEAM_C,
      body: {
        data: {
          httpresourcespecs: [
            { name: 'mine-ok', endpoints: [] },
            { name: 'theirs', namespace: TEAM_B, endpoints: [] },
          ],
        },
      },
    });
    assert.equal(imported.status, 403, imported.text);
    assert.equal((await call('GET', '/httpresourcespecs/mine-ok', { token: ADMIN, namespace: TEAM_C })).status, 404, 'all or nothing');
    assert.equal((await call('GET', '/httpresourcespecs/theirs', { token: ADMIN, namespace: TEAM_B })).status, 404);
    const after = await call('GET', `/services/${teamBService.ID}`, { token: ADMIN, namespace: TEAM_B });
    assert.deepEqual(after.body, before.body);
  });

  test('roles: a viewer cannot write, an editor cannot manage tokens, a scoped admin cannot mint tokens above its subtree', async () => {
    assert.equal((await call('POST', '/httpresourcespecs', { token: viewerC, namespace: TEAM_C, body: { name: 'by-viewer', endpoints: [] } })).status, 403);
    assert.equal((await call('GET', '/apitokens', { token: editorC, namespace: TEAM_C })).status, 403);
    assert.equal(
      (await call('POST', '/apitokens', { token: editorC, namespace: TEAM_C, body: { name: 'escalate', role: 'admin', namespace: TEAM_C } })).status,
      403,
    );
    for (const namespace of ['/', '/acme', TEAM_B, '/acme/team-cx']) {
      const res = await call('POST', '/apitokens', { token: adminC, namespace: TEAM_C, body: { name: 'escalate', role: 'admin', namespace } });
      assert.equal(res.status, 403, `token for ${namespace}: ${res.text}`);
    }
    const listed = await call('GET', '/apitokens', { token: adminC, namespace: TEAM_C });
    assert.equal(listed.status, 200);
    assert.ok(
      listed.body.every((t: { namespace: string }) => t.namespace === TEAM_C || t.namespace.startsWith(`${TEAM_C}/`)),
      'only its subtree',
    );
    assert.ok(!listed.text.includes('secretHash'));
    const bootstrapId = ADMIN.slice(4, 20);
    assert.equal((await call('GET', `/apitokens/${bootstrapId}`, { token: adminC, namespace: TEAM_C })).status, 404);
    assert.equal((await call('DELETE', `/apitokens/${bootstrapId}`, { token: adminC, namespace: TEAM_C })).status, 404);
  });

  test("sessions: a team-c editor neither lists nor revokes team-b's; a viewer lists none", async () => {
    const alice = await loginWithHttp(cluster.gatewayUrl, 'alice@example.com', 'alice');
    const ticket = alice.browser.cookie('__Host-microseg')!;
    presented.add(ticket);
    const listed = await call('GET', '/sessions?user=alice@example.com', { token: ADMIN, namespace: TEAM_B });
    assert.equal(listed.status, 200);
    const sessionId = listed.body[0].ID as string;
    assert.equal((await call('GET', '/sessions', { token: editorC, namespace: TEAM_B })).status, 403);
    assert.equal((await call('GET', '/sessions?recursive=true', { token: editorC, namespace: '/acme' })).status, 403);
    assert.equal((await call('GET', '/sessions', { token: viewerC, namespace: TEAM_C })).status, 403);
    const own = await call('GET', '/sessions?recursive=true', { token: editorC, namespace: TEAM_C });
    assert.equal(own.status, 200);
    assert.deepEqual(own.body, []);
    assert.equal((await call('DELETE', `/sessions/${sessionId}`, { token: editorC, namespace: TEAM_C })).status, 404);
    const byUser = await call('DELETE', '/sessions?user=alice@example.com&recursive=true', { token: editorC, namespace: TEAM_C });
    assert.equal(byUser.status, 200);
    assert.deepEqual(byUser.body, []);
    const echo = await insecureFetch(`${cluster.gatewayUrl}/_echo`, { headers: { cookie: `__Host-microseg=${ticket}`, accept: 'application/json' } });
    assert.equal(echo.status, 200, "alice's session survives");
  });

  test("a team-c service on team-b's exposedPort and host does not take over its traffic (the older service keeps it)", async () => {
    const alice = await loginWithHttp(cluster.gatewayUrl, 'alice@example.com', 'alice');
    const ticket = alice.browser.cookie('__Host-microseg')!;
    presented.add(ticket);
    const evil = new Recorder();
    await evil.start(evilPort);
    try {
      const spec = await call('POST', '/httpresourcespecs', {
        token: editorC,
        namespace: WALKTHROUGH,
        body: { name: 'all-open', associatedTags: ['api=all-open'], endpoints: [{ URI: '/*', methods: ['GET', 'POST'], public: true }] },
      });
      assert.equal(spec.status, 201, spec.text);
      const hijack = await call('POST', '/services', {
        token: editorC,
        namespace: WALKTHROUGH,
        body: {
          name: 'hijack',
          hosts: ['localhost'],
          port: evil.port,
          exposedPort: cluster.ports.gateway,
          selectors: [['type=walkthrough-app']],
          exposedAPIs: [['api=all-open']],
        },
      });
      assert.equal(hijack.status, 201, hijack.text);
      // However long it takes the gateways to hear of it: alice's requests keep reaching the demo app, anonymous ones keep being refused.
      const until = Date.now() + 3_000;
      while (Date.now() < until) {
        const echo = await insecureFetch(`${cluster.gatewayUrl}/_echo`, { headers: { cookie: `__Host-microseg=${ticket}`, accept: 'application/json' } });
        assert.equal(echo.status, 200);
        assert.equal(((await echo.json()) as { headers: Record<string, string> }).headers['x-user-email'], 'alice@example.com');
        const anonymous = await insecureFetch(`${cluster.gatewayUrl}/_echo`, { headers: { accept: 'application/json' } });
        assert.equal(anonymous.status, 401);
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(evil.requests.length, 0, 'the hijacking service received traffic');
      assert.ok(!evil.sawBytes(ticket));
      await waitFor(
        'the conflict event',
        async () => events.some((e) => e.title === 'Service not served: port and host taken' && e.namespace === WALKTHROUGH && e.level === 'Error'),
        5_000,
      );
      const event = events.find((e) => e.title === 'Service not served: port and host taken')!;
      assert.ok(!event.content.includes(TEAM_B) && !event.content.includes('private-app'), 'the other namespace is not named');
    } finally {
      await call('DELETE', '/services/hijack', { token: editorC, namespace: WALKTHROUGH });
      await evil.stop();
    }
  });

  test("ports are the operator's: a service cannot forward to another port of the host (the policy API, a health port) nor be exposed on the gateway's admin port or any port its file does not list", async () => {
    const spec = await call('POST', '/httpresourcespecs', {
      token: editorC,
      namespace: WALKTHROUGH,
      body: { name: 'open-ports', associatedTags: ['api=open-ports'], endpoints: [{ URI: '/*', methods: ['GET', 'POST'], public: true }] },
    });
    assert.equal(spec.status, 201, spec.text);
    const body = (name: string, port: number, exposedPort: number) => ({
      name,
      hosts: [`${name}.localhost`],
      port,
      exposedPort,
      selectors: [['type=walkthrough-app']],
      exposedAPIs: [['api=open-ports']],
    });
    const cases: Array<[string, number, number, 'port' | 'exposedPort']> = [
      ['to-policy-api', cluster.ports.policy, cluster.ports.walkthrough, 'port'],
      ['to-authn-health', cluster.ports.authn, cluster.ports.walkthrough, 'port'],
      ['on-admin-port', cluster.ports.app, cluster.ports.gatewayAdmin, 'exposedPort'],
      ['on-unlisted-port', cluster.ports.app, 1, 'exposedPort'],
    ];
    for (const [name, port, exposedPort, attribute] of cases) {
      for (const [method, path] of [
        ['POST', '/services'],
        ['POST', '/import'],
      ] as const) {
        const res = await call(method, path, {
          token: editorC,
          namespace: WALKTHROUGH,
          body: path === '/import' ? { data: { services: [body(name, port, exposedPort)] } } : body(name, port, exposedPort),
        });
        assert.equal(res.status, 422, `${method} ${path} ${name}: ${res.text}`);
        assert.deepEqual(
          res.body.errors.map((e: { attribute: string }) => e.attribute.replace(/^data\.services\[0\]\./, '')),
          [attribute],
        );
        assert.match(res.body.message, /allowed: /, 'the allowed ports are named');
      }
    }
    // An allowed service cannot be moved there by an update either.
    const fine = await call('POST', '/services', {
      token: editorC,
      namespace: WALKTHROUGH,
      body: body('fine-ports', cluster.ports.app, cluster.ports.walkthrough),
    });
    assert.equal(fine.status, 201, fine.text);
    const moved = await call('PATCH', '/services/fine-ports', { token: editorC, namespace: WALKTHROUGH, body: { port: cluster.ports.policy } });
    assert.equal(moved.status, 422, moved.text);
    const listed = await call('GET', '/services', { token: editorC, namespace: WALKTHROUGH });
    const refusedNames = cases.map(([name]) => name);
    assert.deepEqual(
      listed.body.map((s: { name: string }) => s.name).filter((n: string) => refusedNames.includes(n)),
      [],
      'none of the refused services was stored',
    );
    assert.equal(
      (await call('GET', '/services/fine-ports', { token: editorC, namespace: WALKTHROUGH })).body.port,
      cluster.ports.app,
      'the update was not stored',
    );
    await call('DELETE', '/services/fine-ports', { token: editorC, namespace: WALKTHROUGH });
  });
});

// --- mass assignment -------------------------------------------------------------------------

describe('mass assignment', () => {
  const forged = { ID: 'forged-id', createTime: '1970-01-01T00:00:00.000Z', updateTime: '1970-01-01T00:00:00.000Z', kind: 'service', namespace: TEAM_B };

  test('ID, createTime, updateTime, kind and namespace in a POST, PUT or PATCH body keep the server values', async () => {
    const created = await call('POST', '/httpresourcespecs', { token: editorC, namespace: TEAM_C, body: { name: 'assigned', endpoints: [], ...forged } });
    assert.equal(created.status, 201, created.text);
    const stored = created.body;
    assert.notEqual(stored.ID, forged.ID);
    assert.equal(stored.kind, 'httpresourcespec');
    assert.equal(stored.namespace, TEAM_C);
    assert.ok(Date.parse(stored.createTime) > Date.now() - 60_000, stored.createTime);
    for (const method of ['PUT', 'PATCH']) {
      const updated = await call(method, `/httpresourcespecs/${stored.ID}`, {
        token: editorC,
        namespace: TEAM_C,
        body: { name: 'assigned', endpoints: [], description: method, ...forged },
      });
      assert.equal(updated.status, 200, updated.text);
      assert.equal(updated.body.ID, stored.ID);
      assert.equal(updated.body.kind, 'httpresourcespec');
      assert.equal(updated.body.namespace, TEAM_C);
      assert.equal(updated.body.createTime, stored.createTime);
      assert.ok(Date.parse(updated.body.updateTime) >= Date.parse(stored.updateTime));
    }
    assert.equal((await call('GET', '/services/forged-id', { token: ADMIN, namespace: TEAM_B })).status, 404);
    assert.equal((await call('GET', '/services/assigned', { token: ADMIN, namespace: TEAM_B })).status, 404);
  });

  test('an API token body cannot choose its ID, hash, secret or a role that does not exist', async () => {
    const known = 'A'.repeat(43);
    const res = await call('POST', '/apitokens', {
      token: adminC,
      namespace: TEAM_C,
      body: {
        name: 'chosen',
        role: 'viewer',
        namespace: TEAM_C,
        ID: '0123456789abcdef',
        secretHash: '5'.repeat(64),
        token: `mst_0123456789abcdef_${known}`,
        createTime: '1970-01-01T00:00:00.000Z',
      },
    });
    assert.equal(res.status, 201, res.text);
    presented.add(res.body.token);
    assert.notEqual(res.body.ID, '0123456789abcdef');
    assert.notEqual(res.body.token, `mst_0123456789abcdef_${known}`);
    assert.notEqual(res.body.createTime, '1970-01-01T00:00:00.000Z');
    assert.equal(res.body.secretHash, undefined);
    assert.equal((await call('GET', '/services', { token: `mst_0123456789abcdef_${known}`, namespace: TEAM_C, from: freshAddress() })).status, 401);
    assert.equal((await call('GET', '/services', { token: `mst_${res.body.ID}_${known}`, namespace: TEAM_C, from: freshAddress() })).status, 401);
    for (const role of ['superadmin', ['admin'], 'Admin', 'admin ']) {
      const bad = await call('POST', '/apitokens', { token: adminC, namespace: TEAM_C, body: { name: 'role', role, namespace: TEAM_C } });
      assert.equal(bad.status, 422, `${JSON.stringify(role)}: ${bad.text}`);
    }
  });
});

// --- bodies ----------------------------------------------------------------------------------

describe('sealed secrets sent back (a /acme/team-c editor holding a backup of the bucket)', () => {
  /** The stored JSON of a service, as a backup of the objects bucket holds it. */
  async function fromBackup(namespace: string, name: string): Promise<Record<string, string>> {
    const kv = await new Kvm(nats).open('microseg_objects');
    for await (const key of await kv.keys('service.*')) {
      const stored = JSON.parse((await kv.get(key))!.string());
      if (stored.namespace === namespace && stored.name === name) return stored;
    }
    return assert.fail(`no ${name} in ${namespace}`);
  }

  test('a sealed value (enc:…) from any object, with the provider kept or changed, is refused with 422 naming the field; nothing changes', async () => {
    const oidc = { authorizationType: 'OIDC', OIDCProviderURL: 'https://idp.example.com', OIDCClientID: 'target' };
    assert.equal(
      (
        await call('POST', '/services', {
          token: editorC,
          namespace: TEAM_C,
          body: serviceBody('sealed-target', { ...oidc, OIDCClientSecret: 'team-c-secret' }),
        })
      ).status,
      201,
    );
    const own = await fromBackup(TEAM_C, 'sealed-target');
    const theirs = await fromBackup(TEAM_B, 'private-app');
    assert.match(own.OIDCClientSecret!, /^enc:v2:/);
    const attacker = { OIDCProviderURL: 'https://idp.attacker.example', OIDCClientID: 'attacker' };
    const attempts: Array<[method: string, path: string, body: object, attribute: string]> = [
      // The finding: its own sealed secret with the attacker's provider: authn would have sent the plaintext there.
      ['PUT', '/services/sealed-target', serviceBody('sealed-target', { ...oidc, ...attacker, OIDCClientSecret: own.OIDCClientSecret }), 'OIDCClientSecret'],
      ['PATCH', '/services/sealed-target', { ...attacker, OIDCClientSecret: own.OIDCClientSecret }, 'OIDCClientSecret'],
      ['PUT', '/services/sealed-target', serviceBody('sealed-target', { ...oidc, OIDCClientSecret: own.OIDCClientSecret }), 'OIDCClientSecret'],
      // Another namespace's sealed secret in a service of ours.
      ['POST', '/services', serviceBody('stolen', { ...oidc, ...attacker, OIDCClientSecret: theirs.OIDCClientSecret }), 'OIDCClientSecret'],
      [
        'POST',
        '/import',
        { data: { services: [serviceBody('stolen', { ...oidc, ...attacker, OIDCClientSecret: theirs.OIDCClientSecret })] } },
        'data.services[0].OIDCClientSecret',
      ],
      ['POST', '/services', serviceBody('stolen-tls', { TLSCertificate: 'CERT', TLSCertificateKey: own.OIDCClientSecret }), 'TLSCertificateKey'],
      // Other spellings of the prefix are input that looks sealed too.
      ['PATCH', '/services/sealed-target', { ...attacker, OIDCClientSecret: `  ${own.OIDCClientSecret}` }, 'OIDCClientSecret'],
      ['PATCH', '/services/sealed-target', { ...attacker, OIDCClientSecret: 'enc:v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' }, 'OIDCClientSecret'],
    ];
    for (const [method, path, body, attribute] of attempts) {
      const res = await call(method, path, { token: editorC, namespace: TEAM_C, body });
      const what = `${method} ${path} ${attribute}`;
      assert.equal(res.status, 422, `${what}: ${res.text}`);
      assert.equal(res.body.code, 'POLICY_VALIDATION_FAILED', what);
      assert.ok(
        res.body.errors.some(
          (e: { attribute: string; message: string }) => e.attribute === attribute && /looks sealed.*send the secret itself/.test(e.message),
        ),
        `${what}: ${res.text}`,
      );
      assert.ok(!res.text.includes(own.OIDCClientSecret!) && !res.text.includes(theirs.OIDCClientSecret!), `${what}: the answer repeats the sealed value`);
    }
    assert.deepEqual(await fromBackup(TEAM_C, 'sealed-target'), own, 'the service is unchanged: same provider, same secret');
    for (const name of ['stolen', 'stolen-tls']) assert.equal((await call('GET', `/services/${name}`, { token: ADMIN, namespace: TEAM_C })).status, 404, name);
    // Leaving the secret out still keeps it (the stored value is not input); a new provider needs the secret again.
    assert.equal((await call('PATCH', '/services/sealed-target', { token: editorC, namespace: TEAM_C, body: { description: 'edited' } })).status, 200);
    const moved = await call('PATCH', '/services/sealed-target', { token: editorC, namespace: TEAM_C, body: attacker });
    assert.equal(moved.status, 422, moved.text);
    assert.ok(moved.body.errors.some((e: { attribute: string }) => e.attribute === 'OIDCClientSecret'));
    await waitFor(
      'the refusals to be audited',
      async () => events.filter((e) => e.title === 'API change refused' && /looks sealed/.test(e.content)).length >= attempts.length,
    );
    for (const e of events)
      assert.ok(!e.content.includes(own.OIDCClientSecret!) && !e.content.includes(theirs.OIDCClientSecret!), 'an event repeats a sealed value');
  });
});

describe('oversized, duplicate-key and hostile bodies', () => {
  const big = (name: string) => JSON.stringify({ name, endpoints: [], description: 'x', filler: 'a'.repeat(1024 * 1024 + 1) });

  test('a body over 1 MB is refused with 413 (JSON, YAML, chunked), nothing stored', async () => {
    for (const [what, options] of [
      ['JSON', { raw: big('big-json') }],
      ['chunked JSON', { raw: big('big-chunked'), chunked: true }],
      ['YAML', { raw: `name: big-yaml\nendpoints: []\nfiller: ${'a'.repeat(1024 * 1024 + 1)}\n`, contentType: 'application/yaml' }],
    ] as const) {
      const res = await call('POST', '/httpresourcespecs', { token: editorC, namespace: TEAM_C, ...options });
      assert.equal(res.status, 413, `${what}: ${res.text.slice(0, 200)}`);
    }
    for (const name of ['big-json', 'big-chunked', 'big-yaml'])
      assert.equal((await call('GET', `/httpresourcespecs/${name}`, { token: ADMIN, namespace: TEAM_C })).status, 404, name);
  });

  test('a key given twice in one JSON object is refused with 400 (JSON.parse would keep the last): nothing stored', async () => {
    const bodies = [
      '{"name":"dup-a","name":"dup-b","endpoints":[]}',
      '{"name":"dup-c","\\u006eame":"dup-d","endpoints":[]}',
      '{"name":"dup-e","endpoints":[{"URI":"/public/*","methods":["GET"],"public":false,"public":true}]}',
    ];
    for (const raw of bodies) {
      const res = await call('POST', '/httpresourcespecs', { token: editorC, namespace: TEAM_C, raw });
      assert.equal(res.status, 400, `${raw}: ${res.text}`);
      assert.match(res.body.message, /appears twice/);
    }
    for (const name of ['dup-a', 'dup-b', 'dup-c', 'dup-d', 'dup-e'])
      assert.equal((await call('GET', `/httpresourcespecs/${name}`, { token: ADMIN, namespace: TEAM_C })).status, 404, name);
    // The role of a token decided by the last of two keys: refused too.
    const token = await call('POST', '/apitokens', {
      token: adminC,
      namespace: TEAM_C,
      raw: `{"name":"two-roles","role":"viewer","role":"admin","namespace":"${TEAM_C}"}`,
    });
    assert.equal(token.status, 400);
  });

  test('duplicate YAML keys, YAML alias bombs, __proto__ and constructor.prototype: 400, nothing stored', async () => {
    const yaml = (text: string) => call('POST', '/httpresourcespecs', { token: editorC, namespace: TEAM_C, raw: text, contentType: 'application/yaml' });
    assert.equal((await yaml('name: ydup-a\nname: ydup-b\nendpoints: []\n')).status, 400);
    const bomb = [
      'a: &a ["x","x","x","x","x","x","x","x","x","x"]',
      ...Array.from(
        { length: 9 },
        (_, i) =>
          `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)}]`,
      ),
      'name: bomb',
      'endpoints: []',
    ].join('\n');
    const started = performance.now();
    const bombed = await yaml(bomb);
    assert.equal(bombed.status, 400, bombed.text.slice(0, 200));
    assert.ok(performance.now() - started < 2_000, 'answered at once');
    for (const raw of [
      '{"name":"proto","endpoints":[],"__proto__":{"public":true}}',
      '{"name":"ctor","endpoints":[],"constructor":{"prototype":{"public":true}}}',
    ]) {
      const res = await call('POST', '/httpresourcespecs', { token: editorC, namespace: TEAM_C, raw });
      assert.equal(res.status, 400, raw);
    }
    for (const name of ['ydup-a', 'ydup-b', 'bomb', 'proto', 'ctor'])
      assert.equal((await call('GET', `/httpresourcespecs/${name}`, { token: ADMIN, namespace: TEAM_C })).status, 404, name);
    assert.equal(({} as Record<string, unknown>).public, undefined, 'no prototype polluted (in this process, at least)');
  });

  test('deeply nested JSON (under 1 MB) is refused cleanly and the API stays up', async () => {
    const depth = 200_000;
    const res = await call('POST', '/httpresourcespecs', {
      token: editorC,
      namespace: TEAM_C,
      raw: `{"name":"deep","endpoints":${'['.repeat(depth)}${']'.repeat(depth)}}`,
    });
    assert.ok(res.status === 400 || res.status === 422, `${res.status} ${res.text.slice(0, 200)}`);
    assert.equal((await call('GET', '/services', { token: ADMIN, namespace: '/' })).status, 200);
  });
});

// --- brute force -----------------------------------------------------------------------------

describe('brute force', () => {
  test('wrong tokens from one address: 401 for the first 20, then 429 with Retry-After, even for the right token; other addresses unaffected', async () => {
    const from = freshAddress();
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) {
      const guess = withWrongSecret(ADMIN).replace(/A{4}$/, String(1000 + i));
      presented.add(guess);
      const res = await call('GET', '/services', { token: guess, namespace: '/', from });
      statuses.push(res.status);
      assertNoCredential(res.text, 'a brute-force answer');
    }
    assert.deepEqual(statuses, [...Array(20).fill(401), ...Array(10).fill(429)]);
    // The right token from the same address is not even looked at.
    const right = await call('GET', '/services', { token: ADMIN, namespace: '/', from });
    assert.equal(right.status, 429);
    assert.equal(right.body.code, 'RATE_LIMITED');
    const retryAfter = Number(right.headers['retry-after']);
    assert.ok(retryAfter >= 1 && retryAfter <= 6, `Retry-After: ${retryAfter}`);
    // Health probes stay open, and other clients are not affected.
    assert.equal((await call('GET', '/healthz', { from })).status, 200);
    assert.equal((await call('GET', '/services', { token: ADMIN, namespace: '/' })).status, 200);
    // After the wait, one more attempt (10 a minute).
    await new Promise((r) => setTimeout(r, retryAfter * 1000 + 200));
    assert.equal((await call('GET', '/services', { token: ADMIN, namespace: '/', from })).status, 200);
  });
});

// --- audit -----------------------------------------------------------------------------------

describe('audit of every refusal', () => {
  test('401, 403, 400, 413, 422 and 429 are Warning events (auth or crud) naming route, address and code, never a credential', async () => {
    // A 422 of our own, for the record.
    const invalid = await call('POST', '/services', { token: editorC, namespace: TEAM_C, body: { name: 'invalid', exposedPort: 70000 } });
    assert.equal(invalid.status, 422);
    await waitFor(
      'the refusals to be published',
      async () =>
        [400, 401, 403, 413, 429].every((s) => events.some((e) => e.content.includes(`: ${s} `))) &&
        events.some((e) => /POST \/services by token team-c-editor .*422 POLICY_VALIDATION_FAILED: .*exposedPort/.test(e.content)),
      5_000,
    );
    const refusals = events.filter((e) => e.level === 'Warning' && (e.category === 'auth' || e.category === 'crud'));
    const of = (status: number) => refusals.filter((e) => e.content.includes(`: ${status} `));
    assert.ok(of(401).length >= 30, `${of(401).length} events for 401`);
    assert.ok(of(401).every((e) => e.category === 'auth' && e.title === 'API authentication failed' && e.namespace === '/'));
    assert.match(of(401)[0]!.content, /^GET \/services by a client without a valid token from 127\.0\.0\.\d+: 401 UNAUTHENTICATED\.$/);
    assert.ok(
      of(403).some(
        (e) => e.category === 'auth' && /by token team-c-editor .*403 FORBIDDEN: the token team-c-editor is limited to \/acme\/team-c/.test(e.content),
      ),
    );
    assert.ok(
      of(422).some((e) => e.category === 'crud' && /POST \/services by token team-c-editor .*422 POLICY_VALIDATION_FAILED: .*exposedPort/.test(e.content)),
      of(422)
        .map((e) => e.content)
        .join('\n'),
    );
    assert.ok(of(400).some((e) => e.category === 'crud' && e.content.includes('400 BAD_REQUEST')));
    assert.ok(of(413).some((e) => e.category === 'crud'));
    // Eleven 429 answers, one report (then at most one a minute per address).
    assert.equal(
      of(429).length,
      1,
      of(429)
        .map((e) => e.content)
        .join('\n'),
    );
    assert.match(of(429)[0]!.content, /429 RATE_LIMITED \(1 request refused since the last report\)/);
    for (const e of events) assertNoCredential(`${e.title}\n${e.content}\n${e.targetId}`, `event ${e.title}`);
    for (const e of events) assert.ok(!/[?&](token|access_token|authorization)=/.test(e.content), `a query string in ${e.content}`);
  });

  test('flowlog stores and shows them to an administrator', async () => {
    await waitFor(
      'flowlog to store the refusals',
      async () => {
        const res = await fetch(`${cluster.flowlogUrl}/api/v1/events?namespace=/&recursive=true&category=auth&level=Warning&limit=1000`, {
          headers: { authorization: `Bearer ${ADMIN}` },
        });
        const body = (await res.json()) as { events: Array<{ title: string }> };
        return body.events.some((e) => e.title === 'API authentication failed') && body.events.some((e) => e.title === 'API client rate limited');
      },
      10_000,
    );
  });

  test("the policy service's log never holds a presented credential (query strings included)", async () => {
    const log = await readFile(join(cluster.logDir, 'policy.log'), 'utf8');
    assert.ok(log.length > 0);
    assertNoCredential(log, 'policy.log');
  });
});
