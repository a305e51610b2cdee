// The decisions of SPEC §3 (steps 5 and 7) and §5 on the demo objects, plus a
// few extra specs that show which httpresourcespecs apply to a service.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Decision } from '@microseg/proto/policy';
import type { HTTPResourceSpecObject, PolicyObject, ServiceObject } from '@microseg/contracts';
import { decide, type DecideInput, type Verdict } from './decide.ts';
import { parseImportDocument } from './objects/import-file.ts';
import { Snapshot } from './snapshot.ts';

const demoText = readFileSync(new URL('../../../deploy/demo/objects.yaml', import.meta.url), 'utf8').replaceAll('${DEMO_CLIENT_SECRET}', 'test-secret');
const demo = parseImportDocument(demoText, 'objects.yaml');
const service = demo.find((o): o is ServiceObject => o.kind === 'service' && o.name === 'private-app')!;
const demoSpec = demo.find((o): o is HTTPResourceSpecObject => o.kind === 'httpresourcespec' && o.name === 'private-app-api')!;

/** One more httpresourcespec, parsed like any imported one. */
function extraSpec(namespace: string, spec: object): HTTPResourceSpecObject {
  const text = JSON.stringify({ namespace, data: { httpresourcespecs: [spec] } });
  return parseImportDocument(text, 'extra.yaml')[0] as HTTPResourceSpecObject;
}

const ALICE = ['email=alice@example.com', 'email_verified=true', 'name=Alice'];
const BOB = ['email=bob@example.com', 'email_verified=true', 'name=Bob'];
const anonymous = (method: string, path: string): DecideInput => ({ method, path, authenticated: false, tags: [] });
const as = (tags: string[], method: string, path: string): DecideInput => ({ method, path, authenticated: true, tags });

const verdictOf = (objects: PolicyObject[], input: DecideInput, svc: ServiceObject = service): Verdict => decide(Snapshot.build(objects, 1), svc, input);

test('the demo document has the service and spec these tests rely on', () => {
  assert.ok(service && demoSpec);
  assert.equal(service.authorizationType, 'OIDC');
  assert.equal(service.OIDCClientSecret, 'test-secret');
  assert.equal(demoSpec.namespace, service.namespace);
});

const demoCases: Array<{ name: string; input: DecideInput; decision: Decision; reason: Verdict['reason']; endpoint?: string }> = [
  { name: 'public path without login', input: anonymous('GET', '/public/logo.png'), decision: Decision.ALLOW, reason: 'public', endpoint: '/public/*' },
  {
    name: 'public path, trailing star matches nothing more',
    input: anonymous('GET', '/public'),
    decision: Decision.ALLOW,
    reason: 'public',
    endpoint: '/public/*',
  },
  { name: 'public path for a logged-in user', input: as(BOB, 'GET', '/public/a/b'), decision: Decision.ALLOW, reason: 'public', endpoint: '/public/*' },
  { name: 'protected path, not logged in', input: anonymous('GET', '/'), decision: Decision.LOGIN, reason: 'login-required', endpoint: '/*' },
  { name: 'protected POST, not logged in', input: anonymous('POST', '/api/items'), decision: Decision.LOGIN, reason: 'login-required', endpoint: '/*' },
  { name: "alice's tags are in scope", input: as(ALICE, 'GET', '/'), decision: Decision.ALLOW, reason: 'scope', endpoint: '/*' },
  { name: 'alice may POST', input: as(ALICE, 'POST', '/api/items'), decision: Decision.ALLOW, reason: 'scope', endpoint: '/*' },
  { name: "bob's tags are not", input: as(BOB, 'GET', '/'), decision: Decision.DENY, reason: 'scope-mismatch', endpoint: '/*' },
  {
    name: 'a tag must match exactly (case)',
    input: as(['email=Alice@example.com'], 'GET', '/'),
    decision: Decision.DENY,
    reason: 'scope-mismatch',
    endpoint: '/*',
  },
  { name: 'no endpoint for the method', input: as(ALICE, 'DELETE', '/'), decision: Decision.DENY, reason: 'no-endpoint' },
  { name: 'no endpoint for the method, not logged in', input: anonymous('DELETE', '/'), decision: Decision.DENY, reason: 'no-endpoint' },
  {
    name: 'POST to a GET-only public path is not public',
    input: anonymous('POST', '/public/form'),
    decision: Decision.LOGIN,
    reason: 'login-required',
    endpoint: '/*',
  },
  { name: 'HEAD is covered by GET (public)', input: anonymous('HEAD', '/public/logo.png'), decision: Decision.ALLOW, reason: 'public', endpoint: '/public/*' },
  { name: 'HEAD is covered by GET (scoped)', input: as(ALICE, 'HEAD', '/docs'), decision: Decision.ALLOW, reason: 'scope', endpoint: '/*' },
  { name: 'OPTIONS is not covered by GET', input: as(ALICE, 'OPTIONS', '/'), decision: Decision.DENY, reason: 'no-endpoint' },
];

for (const { name, input, decision, reason, endpoint } of demoCases) {
  test(`decide on the demo objects: ${name}`, () => {
    const verdict = verdictOf(demo, input);
    assert.deepEqual({ decision: verdict.decision, reason: verdict.reason }, { decision, reason });
    if (endpoint) {
      assert.deepEqual(
        { policyId: verdict.policyId, policyName: verdict.policyName, endpoint: verdict.endpoint, namespace: verdict.namespace },
        { policyId: demoSpec.ID, policyName: 'private-app-api', endpoint, namespace: demoSpec.namespace },
      );
    } else {
      assert.deepEqual({ policyId: verdict.policyId, policyName: verdict.policyName }, { policyId: '', policyName: '' });
    }
  });
}

test('decide: a disabled service denies everything, public paths too', () => {
  const disabled = { ...service, disabled: true };
  for (const input of [as(ALICE, 'GET', '/'), anonymous('GET', '/public/logo.png')]) {
    const verdict = verdictOf(demo, input, disabled);
    assert.deepEqual({ decision: verdict.decision, reason: verdict.reason }, { decision: Decision.DENY, reason: 'disabled' });
  }
});

test('decide: a service without OIDC serves only public endpoints', () => {
  const open = { ...service, ID: 'no-oidc', authorizationType: 'None' as const };
  assert.equal(verdictOf(demo, anonymous('GET', '/public/x'), open).decision, Decision.ALLOW);
  const verdict = verdictOf(demo, as(ALICE, 'GET', '/'), open);
  assert.deepEqual({ decision: verdict.decision, reason: verdict.reason }, { decision: Decision.DENY, reason: 'unauthenticated-service' });
});

const adminSpec = (propagate: boolean) => ({
  name: 'team-admin',
  propagate,
  associatedTags: ['app=private-app'],
  endpoints: [{ URI: '/admin/*', methods: ['GET'], allowedScopes: [['groups=admins']] }],
});

const scopeCases: Array<{ name: string; extra: HTTPResourceSpecObject; applies: boolean }> = [
  { name: 'a spec in a parent namespace with propagate: true applies', extra: extraSpec('/acme/team-b', adminSpec(true)), applies: true },
  { name: 'a spec at the root with propagate: true applies', extra: extraSpec('/', adminSpec(true)), applies: true },
  { name: 'a spec in a parent namespace without propagate does not', extra: extraSpec('/acme/team-b', adminSpec(false)), applies: false },
  { name: 'a propagating spec in a sibling whose name is a prefix does not', extra: extraSpec('/acme/team-b/dev/private', adminSpec(true)), applies: false },
  { name: 'a propagating spec in a child namespace does not', extra: extraSpec('/acme/team-b/dev/private-app/child', adminSpec(true)), applies: false },
  {
    name: "a spec whose associatedTags don't match exposedAPIs is ignored",
    extra: extraSpec('/acme/team-b/dev/private-app', { ...adminSpec(false), associatedTags: ['app=other-app'] }),
    applies: false,
  },
  {
    name: 'a spec matching exposedAPIs by more tags than needed applies',
    extra: extraSpec('/acme/team-b/dev/private-app', { ...adminSpec(false), associatedTags: ['app=private-app', 'tier=admin'] }),
    applies: true,
  },
];

for (const { name, extra, applies } of scopeCases) {
  test(`decide: ${name}`, () => {
    const admin = as(['groups=admins'], 'GET', '/admin/users');
    const verdict = verdictOf([...demo, extra], admin);
    if (applies) {
      assert.deepEqual(
        {
          decision: verdict.decision,
          reason: verdict.reason,
          policyId: verdict.policyId,
          policyName: verdict.policyName,
          endpoint: verdict.endpoint,
          namespace: verdict.namespace,
        },
        { decision: Decision.ALLOW, reason: 'scope', policyId: extra.ID, policyName: 'team-admin', endpoint: '/admin/*', namespace: extra.namespace },
      );
    } else {
      // Only the demo's `/*` (alice only) is left for this path.
      assert.deepEqual(
        { decision: verdict.decision, reason: verdict.reason, policyName: verdict.policyName },
        { decision: Decision.DENY, reason: 'scope-mismatch', policyName: 'private-app-api' },
      );
    }
  });
}

test('decide: wildcards and negations in allowedScopes (SPEC §1.2)', () => {
  const rules = extraSpec('/acme/team-b/dev/private-app', {
    name: 'patterns',
    associatedTags: ['app=private-app'],
    endpoints: [
      { URI: '/staff/*', methods: ['GET'], allowedScopes: [['email=*@example.com']] },
      { URI: '/no-admins/*', methods: ['GET'], allowedScopes: [['email=*@example.com', 'groups!=admins']] },
    ],
  });
  const objects = [...demo, rules];
  const decision = (tags: string[], path: string) => verdictOf(objects, as(tags, 'GET', path)).decision;
  assert.equal(decision(ALICE, '/staff/x'), Decision.ALLOW);
  assert.equal(decision(BOB, '/staff/x'), Decision.ALLOW);
  assert.equal(decision(['email=eve@example.org'], '/staff/x'), Decision.DENY);
  assert.equal(decision(['email=*'], '/staff/x'), Decision.DENY, 'a claim value with * is data');
  assert.equal(decision([...ALICE, 'groups=admins'], '/no-admins/x'), Decision.DENY);
  assert.equal(decision([...BOB, 'groups=engineering'], '/no-admins/x'), Decision.ALLOW);
  // The same snapshot answers again from its compiled patterns.
  const snapshot = Snapshot.build(objects, 1);
  for (let i = 0; i < 3; i++) assert.equal(decide(snapshot, service, as(BOB, 'GET', '/no-admins/x')).decision, Decision.ALLOW);
});
