// Unit: which bucket entries the policy service uses and which it skips, and that
// a problem never repeats the entry's value.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseObjectEntry, parseTokenEntry } from './stored-entries.ts';

const ns = {
  kind: 'namespace',
  ID: 'ns-1',
  name: 'acme',
  namespace: '/',
  associatedTags: [],
  propagate: false,
  defaultPUIncomingTrafficAction: 'Inherit',
  defaultPUOutgoingTrafficAction: 'Inherit',
};
const service = {
  kind: 'service',
  ID: 'svc-1',
  name: 'web',
  namespace: '/acme',
  hosts: ['web.example.com'],
  port: 3000,
  exposedPort: 443,
  authorizationType: 'OIDC',
  OIDCProviderURL: 'https://idp.example.com',
  OIDCClientID: 'web',
  OIDCClientSecret: 'enc:v2:0123456789abcdef:AAAA',
  createTime: '2030-01-01T00:00:00.000Z',
  updateTime: '2030-01-02T00:00:00.000Z',
};
const SECRET = 'hunter2-do-not-echo';

const objectCases: Array<[what: string, key: string, text: string, problem: RegExp | undefined]> = [
  ['a namespace under its own key', 'namespace.ns-1', JSON.stringify(ns), undefined],
  ['a service with its stored-only fields', 'service.svc-1', JSON.stringify(service), undefined],
  ['not JSON', 'namespace.ns-1', `{"name": "${SECRET}"`, /^is not JSON$/],
  ['JSON but not an object', 'namespace.ns-1', `["${SECRET}"]`, /^is not a JSON object$/],
  ['null', 'namespace.ns-1', 'null', /^is not a JSON object$/],
  ['an unknown kind', 'widget.ns-1', JSON.stringify({ ...ns, kind: 'widget' }), /wrong shape: kind/],
  ['no ID', 'namespace.', JSON.stringify({ ...ns, ID: undefined }), /wrong shape: ID/],
  ['another ID than its key', 'namespace.ns-2', JSON.stringify(ns), /key does not match/],
  ['another kind than its key', 'service.ns-1', JSON.stringify(ns), /key does not match/],
  [
    'a bad attribute of its kind',
    'service.svc-1',
    JSON.stringify({ ...service, hosts: [], port: SECRET }),
    /wrong shape: .*hosts.*port|wrong shape: .*port.*hosts/,
  ],
  ['an OIDC service without its secret', 'service.svc-1', JSON.stringify({ ...service, OIDCClientSecret: undefined }), /OIDCClientSecret is required/],
];
for (const [what, key, text, problem] of objectCases) {
  test(`object entry: ${what} is ${problem ? 'skipped' : 'used'}`, () => {
    const parsed = parseObjectEntry(key, text);
    if (!problem) {
      assert.ok(parsed.ok, JSON.stringify(parsed));
      return;
    }
    assert.equal(parsed.ok, false);
    if (parsed.ok) return;
    assert.match(parsed.problem, problem);
    assert.ok(!parsed.problem.includes(SECRET), 'the problem repeats a value');
  });
}

test('a used object entry is the schema output: defaults filled in, stored-only fields kept, unknown fields dropped', () => {
  const parsed = parseObjectEntry('service.svc-1', JSON.stringify({ ...service, extra: 'x' }));
  assert.ok(parsed.ok);
  const value = parsed.value as unknown as Record<string, unknown>;
  assert.deepEqual(value.associatedTags, []);
  assert.equal(value.sessionIdleTimeoutSeconds, 7200);
  assert.equal(value.kind, 'service');
  assert.equal(value.ID, 'svc-1');
  assert.equal(value.createTime, service.createTime);
  assert.equal(value.updateTime, service.updateTime);
  assert.equal(value.OIDCClientSecret, service.OIDCClientSecret);
  assert.equal('extra' in value, false);
});

test('an attribute this version does not know, at any depth, is dropped from a stored object rather than the object lost (a newer replica wrote it)', () => {
  const spec = {
    kind: 'httpresourcespec',
    ID: 'spec-1',
    name: 'api',
    namespace: '/acme',
    endpoints: [{ URI: '/a', methods: ['GET'], allowedScopes: [['x=y']], rateLimit: 5 }],
    laterFeature: true,
  };
  const parsed = parseObjectEntry('httpresourcespec.spec-1', JSON.stringify(spec));
  assert.ok(parsed.ok, JSON.stringify(parsed));
  const value = parsed.value as unknown as { endpoints: Array<Record<string, unknown>>; laterFeature?: unknown };
  assert.deepEqual(value.endpoints[0], { URI: '/a', methods: ['GET'], public: false, allowedScopes: [['x=y']] });
  assert.equal(value.laterFeature, undefined);
});

const token = { ID: '0123456789abcdef', name: 'ci', role: 'editor', namespace: '/acme', secretHash: 'a'.repeat(64), createTime: '2030-01-01T00:00:00.000Z' };
const tokenCases: Array<[what: string, key: string, text: string, problem: RegExp | undefined]> = [
  ['a token record under its ID', token.ID, JSON.stringify(token), undefined],
  ['not JSON', token.ID, SECRET, /^is not JSON$/],
  ['a role that does not exist', token.ID, JSON.stringify({ ...token, role: 'root' }), /wrong shape: role/],
  ['no hash', token.ID, JSON.stringify({ ...token, secretHash: undefined }), /wrong shape: secretHash/],
  ['a hash that is not SHA-256 hex', token.ID, JSON.stringify({ ...token, secretHash: SECRET }), /wrong shape: secretHash/],
  ['a namespace with dot segments', token.ID, JSON.stringify({ ...token, namespace: '/acme/..' }), /wrong shape: namespace/],
  ['another ID than its key', 'fedcba9876543210', JSON.stringify(token), /key does not match/],
];
for (const [what, key, text, problem] of tokenCases) {
  test(`token entry: ${what} is ${problem ? 'skipped' : 'used'}`, () => {
    const parsed = parseTokenEntry(key, text);
    if (!problem) {
      assert.deepEqual(parsed, { ok: true, value: token });
      return;
    }
    assert.equal(parsed.ok, false);
    if (parsed.ok) return;
    assert.match(parsed.problem, problem);
    assert.ok(!parsed.problem.includes(SECRET), 'the problem repeats a value');
  });
}
