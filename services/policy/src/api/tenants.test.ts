// Tenants cannot touch each other through the API: a namespace object names a namespace below the one it
// is written in (never /, the namespace itself, a sibling or ..); processing units belong to gateways;
// attributes microseg does not know are refused rather than dropped.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { requests } from '@microseg/contracts';
import { startPolicyHarness, type PolicyHarness } from '../testing/api-harness.ts';

let h: PolicyHarness;
let teamB: string;
let adminB: string;
const TEAM_B = '/acme/team-b';

before(async () => {
  h = await startPolicyHarness();
  teamB = await h.token('team-b-editor', 'editor', TEAM_B);
  adminB = await h.token('team-b-admin', 'admin', TEAM_B);
});
after(() => h?.stop());

describe('namespace objects', () => {
  test('a name is resolved below the namespace it is written in, and stored as that path', async () => {
    const res = await h.call('POST', '/namespaces', { token: teamB, ns: TEAM_B, body: { name: 'dev', defaultPUIncomingTrafficAction: 'Reject' } });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.body.name, '/acme/team-b/dev');
    assert.equal(res.body.namespace, TEAM_B);
    assert.equal((await h.call('GET', '/namespaces/dev', { token: teamB, ns: TEAM_B })).body.name, '/acme/team-b/dev', 'found by its relative name');
    const abs = await h.call('POST', '/namespaces', { token: teamB, ns: TEAM_B, body: { name: '/acme/team-b/prod/eu' } });
    assert.equal(abs.status, 201, abs.text);
    const patched = await h.call('PATCH', '/namespaces/dev', { token: teamB, ns: TEAM_B, body: { name: 'dev', defaultPUOutgoingTrafficAction: 'Allow' } });
    assert.equal(patched.status, 200, patched.text);
  });

  for (const [name, status, why] of [
    ['/', 403, "the root's defaults"],
    [TEAM_B, 403, 'its own defaults (its parent decides them)'],
    ['/acme/team-a', 403, "another team's defaults"],
    ['/acme', 403, "the parent's defaults"],
    ['/acme/team-bb', 403, 'a sibling that shares a prefix'],
    ['../team-a', 422, 'a climb out of the namespace'],
    ['dev/../../team-a', 422, 'a climb hidden in the middle'],
  ] as const) {
    test(`an editor of ${TEAM_B} cannot set ${why}: name ${name} → ${status}, nothing stored`, async () => {
      const res = await h.call('POST', '/namespaces', { token: teamB, ns: TEAM_B, body: { name, defaultPUIncomingTrafficAction: 'Allow' } });
      assert.equal(res.status, status, res.text);
      assert.equal(res.body.code, status === 403 ? 'FORBIDDEN' : 'POLICY_VALIDATION_FAILED');
      const imported = await h.call('POST', '/import', {
        token: teamB,
        ns: TEAM_B,
        body: { namespace: TEAM_B, data: { namespaces: [{ name, defaultPUIncomingTrafficAction: 'Allow' }] } },
      });
      assert.equal(imported.status, status, `import: ${imported.text}`);
      const all = await h.call('GET', '/namespaces?recursive=true', { ns: '/' });
      assert.deepEqual(
        all.body.map((n: { name: string }) => n.name).filter((n: string) => !n.startsWith('/acme/team-b/')),
        [],
        'nothing outside team-b was written',
      );
    });
  }

  test('the root administrator may set the root defaults, from / only', async () => {
    const res = await h.call('POST', '/namespaces', { ns: '/', body: { name: '/', defaultPUIncomingTrafficAction: 'Reject' } });
    assert.equal(res.status, 201, res.text);
    assert.equal((await h.call('POST', '/namespaces', { ns: '/acme', body: { name: '/', defaultPUIncomingTrafficAction: 'Reject' } })).status, 403);
  });
});

describe('processing units belong to gateways', () => {
  const pu = { name: 'web-1', address: '10.0.0.5', associatedTags: ['type=private-app'] };

  test('nobody creates, replaces, patches or imports one through the API, not even an administrator', async () => {
    for (const token of [teamB, adminB, h.admin]) {
      const post = await h.call('POST', '/processingunits', { token, ns: TEAM_B, body: pu });
      assert.equal(post.status, 403, post.text);
      assert.match(post.body.message, /registered by the gateways/);
      assert.equal((await h.call('POST', '/import', { token, ns: TEAM_B, body: { data: { processingunits: [pu] } } })).status, 403);
    }
    assert.deepEqual((await h.call('GET', '/processingunits?recursive=true', { ns: '/' })).body, []);
  });

  test('a registered one can be read by a viewer, not changed by an editor, and removed by an administrator only', async () => {
    await h.app.bus.request(
      requests.policyGatewaySync,
      { gatewayId: 'gw-1', processingUnits: [{ name: 'web-1', namespace: TEAM_B, tags: ['type=private-app'], address: '10.0.0.5' }] },
      5_000,
    );
    const viewer = await h.token('team-b-viewer', 'viewer', TEAM_B);
    const read = await h.call('GET', '/processingunits/web-1', { token: viewer, ns: TEAM_B });
    assert.equal(read.status, 200, read.text);
    assert.equal((await h.call('PUT', '/processingunits/web-1', { token: teamB, ns: TEAM_B, body: { ...pu, address: '6.6.6.6' } })).status, 403);
    assert.equal((await h.call('PATCH', '/processingunits/web-1', { token: adminB, ns: TEAM_B, body: { address: '6.6.6.6' } })).status, 403);
    assert.equal((await h.call('DELETE', '/processingunits/web-1', { token: teamB, ns: TEAM_B })).status, 403);
    assert.equal((await h.call('GET', '/processingunits/web-1', { token: viewer, ns: TEAM_B })).body.address, '10.0.0.5', 'unchanged');
    assert.equal((await h.call('DELETE', '/processingunits/web-1', { token: adminB, ns: TEAM_B })).status, 200);
  });
});

describe('console access (apiauthorizationpolicy) stays inside the namespace that grants it', () => {
  const grant = (authorizedNamespace: string, name = 'grant-c') => ({
    name,
    subject: [['email=mallory@example.com']],
    authorizedNamespace,
    authorizedIdentities: ['@auth:role=namespace.editor'],
    propagate: true,
  });
  const rolesOf = async (email: string) => (await h.app.bus.request(requests.policyConsoleRoles, { tags: [`email=${email}`] }, 5_000)).grants;

  test('an editor of /acme/team-b cannot grant /acme/team-c: 422 from its own namespace, 403 from the other, by import too; nothing stored', async () => {
    const here = await h.call('POST', '/apiauthorizationpolicies', { token: teamB, ns: TEAM_B, body: grant('/acme/team-c') });
    assert.equal(here.status, 422, here.text);
    assert.deepEqual(
      here.body.errors.map((e: { attribute: string }) => e.attribute),
      ['authorizedNamespace'],
    );
    const there = await h.call('POST', '/apiauthorizationpolicies', { token: teamB, ns: '/acme/team-c', body: grant('/acme/team-c') });
    assert.equal(there.status, 403, there.text);
    const up = await h.call('POST', '/apiauthorizationpolicies', { token: teamB, ns: TEAM_B, body: grant('/acme') });
    assert.equal(up.status, 422, up.text);
    for (const doc of [
      { namespace: TEAM_B, data: { apiauthorizationpolicies: [grant('/acme/team-c')] } },
      { namespace: '/acme/team-c', data: { apiauthorizationpolicies: [grant('/acme/team-c')] } },
    ]) {
      const imported = await h.call('POST', '/import', { token: teamB, ns: TEAM_B, body: doc });
      assert.ok([403, 422].includes(imported.status), imported.text);
    }
    const created = await h.call('POST', '/apiauthorizationpolicies', { token: teamB, ns: TEAM_B, body: grant(TEAM_B, 'grant-b') });
    assert.equal(created.status, 201, created.text);
    const patched = await h.call('PATCH', '/apiauthorizationpolicies/grant-b', { token: teamB, ns: TEAM_B, body: { authorizedNamespace: '/acme/team-c' } });
    assert.equal(patched.status, 422, patched.text);
    assert.deepEqual(
      (await h.call('GET', '/apiauthorizationpolicies?recursive=true', { ns: '/' })).body.map((p: { namespace: string; authorizedNamespace: string }) => [
        p.namespace,
        p.authorizedNamespace,
      ]),
      [[TEAM_B, TEAM_B]],
    );
    assert.deepEqual(
      (await rolesOf('mallory@example.com')).map((g) => [g.namespace, g.role, g.subtree]),
      [[TEAM_B, 'editor', true]],
      'the grant is in force, in team-b only',
    );
  });

  test('a viewer grants nothing; deleting the policy takes the access away at the next question', async () => {
    const viewer = await h.token('team-b-viewer-2', 'viewer', TEAM_B);
    assert.equal((await h.call('POST', '/apiauthorizationpolicies', { token: viewer, ns: TEAM_B, body: grant(TEAM_B, 'by-viewer') })).status, 403);
    assert.equal((await h.call('DELETE', '/apiauthorizationpolicies/grant-b', { token: teamB, ns: TEAM_B })).status, 200);
    assert.deepEqual(await rolesOf('mallory@example.com'), []);
  });
});

describe('attributes microseg does not know are refused, never dropped', () => {
  test("a service's IPs, a policy's ports and negateSubject, an endpoint's typo: 422 naming each", async () => {
    const service = await h.call('POST', '/services', {
      ns: TEAM_B,
      body: { name: 's', hosts: ['s.example.com'], port: 3000, exposedPort: 443, IPs: ['10.0.0.0/8'], selector: [['a=b']] },
    });
    assert.equal(service.status, 422, service.text);
    assert.deepEqual(service.body.errors.map((e: { attribute: string }) => e.attribute).sort(), ['IPs', 'selector']);
    assert.match(service.body.message, /IPs is not an attribute of a service/);
    const policy = await h.call('POST', '/networkaccesspolicies', {
      ns: TEAM_B,
      body: { name: 'p', subject: [['a=b']], object: [['c=d']], ports: ['443'], negateSubject: true },
    });
    assert.deepEqual(policy.body.errors.map((e: { attribute: string }) => e.attribute).sort(), ['negateSubject', 'ports']);
    const spec = await h.call('POST', '/httpresourcespecs', {
      ns: TEAM_B,
      body: { name: 'h', endpoints: [{ URI: '/a', methods: ['GET'], allowedScope: [['x=y']] }] },
    });
    assert.deepEqual(
      spec.body.errors.map((e: { attribute: string }) => e.attribute),
      ['endpoints[0].allowedScope'],
    );
    const mapping = await h.call('POST', '/services', {
      ns: TEAM_B,
      body: {
        name: 's',
        hosts: ['s.example.com'],
        port: 3000,
        exposedPort: 443,
        claimsToHTTPHeaderMappings: [{ claimName: 'email', targetHTTPHeader: 'X-Email', header: 'x' }],
      },
    });
    assert.deepEqual(
      mapping.body.errors.map((e: { attribute: string }) => e.attribute),
      ['claimsToHTTPHeaderMappings[0].header'],
    );
    for (const kind of ['services', 'networkaccesspolicies', 'httpresourcespecs'])
      assert.deepEqual((await h.call('GET', `/${kind}`, { ns: TEAM_B })).body, [], `no ${kind} stored`);
  });

  test('what GET shows can be sent back as it is (ID, kind, createTime, updateTime are read-only, not unknown)', async () => {
    const created = await h.call('POST', '/externalnetworks', { ns: TEAM_B, body: { name: 'corp', entries: ['10.0.0.0/8'] } });
    assert.equal(created.status, 201, created.text);
    const got = await h.call('GET', '/externalnetworks/corp', { ns: TEAM_B });
    const put = await h.call('PUT', '/externalnetworks/corp', { ns: TEAM_B, body: { ...got.body, ID: 'forged', createTime: '2000-01-01T00:00:00Z' } });
    assert.equal(put.status, 200, put.text);
    assert.equal(put.body.ID, got.body.ID, 'the ID is not taken from the body');
    assert.equal(put.body.createTime, got.body.createTime, 'nor the creation time');
  });
});

describe("a service's serving status, on the object", () => {
  const sync = (applicationPorts: number[], serviceProblems: Array<{ serviceId: string; message: string }> = []) =>
    h.app.bus.request(
      requests.policyGatewaySync,
      {
        gatewayId: 'gw-status',
        exposedPorts: [443],
        processingUnits: [{ name: 'status-pu', namespace: '/acme/status', tags: ['app=status'], address: '10.0.0.9', applicationPorts }],
        problems: serviceProblems.map((p) => ({ ...p, kind: 'port', port: 443 })),
      },
      5_000,
    );

  test('no unit yet, then one whose gateway does not allow its port, then one that does', async () => {
    const created = await h.call('POST', '/services', {
      ns: '/acme/status',
      body: { name: 'web', hosts: ['web.example.com'], port: 8080, exposedPort: 443, selectors: [['app=status']] },
    });
    assert.equal(created.status, 201, created.text);
    assert.equal(created.body.servingStatus, 'NoProcessingUnit');
    await sync([3000]);
    const refused = await h.call('GET', '/services/web', { ns: '/acme/status' });
    assert.equal(refused.body.servingStatus, 'NotServed');
    assert.match(refused.body.servingProblems.join('\n'), /port 8080 is not an application port of processing unit status-pu \(allowed: 3000\)/);
    const reply = await sync([3000, 8080]);
    assert.deepEqual(
      reply.services.map((s) => s.name),
      ['web'],
    );
    const served = await h.call('GET', '/services?recursive=true', { ns: '/acme/status' });
    assert.deepEqual(
      served.body.map((s: { name: string; servingStatus: string }) => [s.name, s.servingStatus]),
      [['web', 'Served']],
    );
    // What GET shows can be sent back: the status is read-only.
    const put = await h.call('PUT', '/services/web', { ns: '/acme/status', body: served.body[0] });
    assert.equal(put.status, 200, put.text);
  });

  test('what the gateway reports of a service it fronts shows on it; what it says of a service it does not front is ignored', async () => {
    const other = await h.call('POST', '/services', {
      ns: TEAM_B,
      body: { name: 'elsewhere', hosts: ['else.example.com'], port: 3000, exposedPort: 443, selectors: [['app=else']] },
    });
    assert.equal(other.status, 201, other.text);
    const web = (await h.call('GET', '/services/web', { ns: '/acme/status' })).body;
    await sync(
      [3000, 8080],
      [
        { serviceId: web.ID, message: "Service web is not served: exposedPort 443 is in use by another program on the gateway's host." },
        { serviceId: other.body.ID, message: 'Service elsewhere is hacked, call 555-0100' },
      ],
    );
    const got = await h.call('GET', '/services/web', { ns: '/acme/status' });
    assert.equal(got.body.servingStatus, 'NotServed');
    assert.match(got.body.servingProblems.join('\n'), /gateway gw-status: Service web is not served: exposedPort 443 is in use/);
    const untouched = await h.call('GET', '/services/elsewhere', { ns: TEAM_B });
    assert.deepEqual(
      [untouched.body.servingStatus, untouched.body.servingProblems],
      ['NoProcessingUnit', ['it selects no running processing unit of a gateway: check its selectors']],
    );
    await sync([3000, 8080]);
    assert.equal((await h.call('GET', '/services/web', { ns: '/acme/status' })).body.servingStatus, 'Served', 'gone once the gateway no longer reports it');
  });
});
