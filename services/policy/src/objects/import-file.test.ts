import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { HTTPResourceSpecObject, ServiceObject } from '@microseg/contracts';
import { ImportError, parseImportDocument, stableObjectId } from './import-file.ts';

const NS = '/acme/team-b';

/** A valid OIDC service; tests override what they need. */
const goodService = {
  name: 'app',
  hosts: ['app.example.com'],
  port: 3000,
  exposedPort: 443,
  authorizationType: 'OIDC',
  OIDCProviderURL: 'https://idp.example.com',
  OIDCClientID: 'app',
  OIDCClientSecret: 's3cret',
};

const goodSpec = { name: 'api', associatedTags: ['app=app'], endpoints: [{ URI: '/*', methods: ['GET'], allowedScopes: [['groups=dev']] }] };

function doc(data: Record<string, unknown[]>, namespace = NS): string {
  return JSON.stringify({ label: 'test', namespace, data });
}

/** The attribute errors of a document that must be rejected. */
function rejected(text: string): Array<{ attribute: string; message: string }> {
  try {
    parseImportDocument(text, 'test.yaml');
  } catch (err) {
    assert.ok(err instanceof ImportError, `expected an ImportError, got ${String(err)}`);
    assert.ok(err.message.startsWith('test.yaml: '), 'the message names the source');
    return err.errors;
  }
  assert.fail('the document was accepted');
}

const attributes = (text: string) =>
  rejected(text)
    .map((e) => e.attribute)
    .sort();

test('every bad attribute of a document is reported at once, with its path', () => {
  const { exposedPort: _omitted, ...noExposedPort } = goodService;
  const text = doc({
    services: [noExposedPort],
    httpresourcespecs: [{ ...goodSpec, associatedTags: ['$identity=processingunit'], endpoints: [{ URI: '/a', methods: ['GET', 'FETCH'] }] }],
  });
  assert.deepEqual(attributes(text), [
    'data.httpresourcespecs[0].associatedTags[0]',
    'data.httpresourcespecs[0].endpoints[0].methods[1]',
    'data.services[0].exposedPort',
  ]);
});

test('every bad attribute of one object is reported at once, cross-field rules included', () => {
  const { exposedPort: _p, OIDCClientSecret: _s, ...service } = goodService;
  const text = doc({ services: [{ ...service, hosts: [], TLSCertificate: 'PEM' }] });
  assert.deepEqual(attributes(text), [
    'data.services[0].OIDCClientSecret',
    'data.services[0].TLSCertificateKey',
    'data.services[0].exposedPort',
    'data.services[0].hosts',
  ]);
});

test('a document with one bad object returns nothing (all or nothing)', () => {
  const text = doc({ services: [goodService], httpresourcespecs: [goodSpec, { ...goodSpec, name: '' }] });
  assert.deepEqual(attributes(text), ['data.httpresourcespecs[1].name']);
});

const structural: Array<{ name: string; text: string; attribute: string }> = [
  { name: 'unknown kind', text: doc({ widgets: [{}] }), attribute: 'data.widgets' },
  { name: 'kind not a list', text: JSON.stringify({ data: { services: { name: 'x' } } }), attribute: 'data.services' },
  { name: 'no data section', text: 'namespace: /a', attribute: 'data' },
  { name: 'not a mapping', text: '42', attribute: '(root)' },
  { name: 'YAML syntax', text: 'data: [', attribute: '(yaml)' },
];

for (const { name, text, attribute } of structural) {
  test(`a malformed document is rejected: ${name}`, () => {
    assert.deepEqual(attributes(text), [attribute]);
  });
}

for (const reserved of ['$name=x', '@org=x', '+sys=x']) {
  test(`associatedTags may not use the reserved key of ${reserved}`, () => {
    const errors = rejected(doc({ services: [{ ...goodService, associatedTags: ['team=b', reserved] }] }));
    assert.deepEqual(
      errors.map((e) => e.attribute),
      ['data.services[0].associatedTags[1]'],
    );
    assert.match(errors[0]!.message, /reserved/);
  });
}

test('OIDC service missing OIDCClientSecret is rejected', () => {
  const { OIDCClientSecret: _s, ...service } = goodService;
  const errors = rejected(doc({ services: [service] }));
  assert.deepEqual(errors, [{ attribute: 'data.services[0].OIDCClientSecret', message: 'is required when authorizationType is OIDC' }]);
});

test('a service without OIDC needs no client settings', () => {
  const [service] = parseImportDocument(doc({ services: [{ name: 'open', hosts: ['a.example.com'], port: 80, exposedPort: 443 }] }), 't');
  assert.equal((service as ServiceObject).authorizationType, 'None');
});

const providerURLs: Array<{ url: string; accepted: boolean }> = [
  { url: 'https://idp.example.com', accepted: true },
  { url: 'https://idp.example.com:8443/realms/acme', accepted: true },
  { url: 'http://localhost:9400', accepted: true },
  { url: 'http://127.0.0.1:9400', accepted: true },
  { url: 'http://127.1.2.3', accepted: true },
  { url: 'http://[::1]:9400', accepted: true },
  { url: 'http://idp.example.com', accepted: false },
  { url: 'http://localhost.evil.example', accepted: false },
  { url: 'http://127.evil.example', accepted: false },
  { url: 'http://127.0.0.1.nip.io', accepted: false },
  { url: 'http://10.0.0.1', accepted: false },
  { url: 'ftp://localhost', accepted: false },
  { url: 'localhost:9400', accepted: false },
  { url: 'not a url', accepted: false },
];

for (const { url, accepted } of providerURLs) {
  test(`OIDCProviderURL ${url} is ${accepted ? 'accepted' : 'rejected'}`, () => {
    const text = doc({ services: [{ ...goodService, OIDCProviderURL: url }] });
    if (accepted) {
      const [service] = parseImportDocument(text, 't');
      assert.equal((service as ServiceObject).OIDCProviderURL, url);
    } else {
      assert.deepEqual(attributes(text), ['data.services[0].OIDCProviderURL']);
    }
  });
}

const scopeInputs: Array<{ name: string; endpoint: Record<string, unknown>; allowedScopes: string[][] }> = [
  { name: 'allowedScopes', endpoint: { allowedScopes: [['a=1']] }, allowedScopes: [['a=1']] },
  { name: 'the scopes alias', endpoint: { scopes: [['a=1', 'b=2'], ['c=3']] }, allowedScopes: [['a=1', 'b=2'], ['c=3']] },
  { name: 'allowedScopes wins over the alias', endpoint: { allowedScopes: [['a=1']], scopes: [['z=9']] }, allowedScopes: [['a=1']] },
  { name: 'neither: nobody', endpoint: {}, allowedScopes: [] },
];

for (const { name, endpoint, allowedScopes } of scopeInputs) {
  test(`endpoint scopes: ${name}`, () => {
    const [spec] = parseImportDocument(doc({ httpresourcespecs: [{ name: 'api', endpoints: [{ URI: '/a', methods: ['get', 'Post'], ...endpoint }] }] }), 't');
    const [parsed] = (spec as HTTPResourceSpecObject).endpoints;
    assert.deepEqual(parsed, { URI: '/a', methods: ['GET', 'POST'], public: false, allowedScopes });
  });
}

test('a malformed scope tag is reported under the alias too', () => {
  assert.deepEqual(attributes(doc({ httpresourcespecs: [{ name: 'api', endpoints: [{ URI: '/a', methods: ['GET'], scopes: [['no-equals-sign']] }] }] })), [
    'data.httpresourcespecs[0].endpoints[0].scopes[0][0]',
  ]);
});

test('endpoint URIs are stored in the spelling of a normalised request path', () => {
  const endpoints = ['/caf%c3%a9/*', '/%7euser/?', '//a//b/', '/a*'].map((URI) => ({ URI, methods: ['GET'] }));
  const [spec] = parseImportDocument(doc({ httpresourcespecs: [{ name: 'api', endpoints }] }), 't');
  assert.deepEqual(
    (spec as HTTPResourceSpecObject).endpoints.map((e) => e.URI),
    ['/caf%C3%A9/*', '/~user/?', '/a/b/', '/a*'],
  );
});

test('every endpoint URI the gateway could never match is reported at once, naming endpoints[i].URI and what to write', () => {
  const uris = ['/ok/*', '/admin;jsessionid=1/*', '/café/*', '/a/../b', '/a%2Fb', '/%FF', '/%EF%BC%8E%EF%BC%8E/*', '/a%zz', '/a?b', 'no-slash'];
  const errors = rejected(doc({ httpresourcespecs: [{ name: 'api', endpoints: uris.map((URI) => ({ URI, methods: ['GET'] })) }] }));
  assert.deepEqual(
    errors.map((e) => e.attribute),
    uris.slice(1).map((_, i) => `data.httpresourcespecs[0].endpoints[${i + 1}].URI`),
  );
  const messageOf = (i: number) => errors.find((e) => e.attribute.endsWith(`endpoints[${i}].URI`))!.message;
  assert.match(messageOf(1), /^must not contain ; .*leave the ;… part out$/);
  assert.equal(messageOf(2), 'must not contain raw non-ASCII characters; percent-encode them as UTF-8: write /caf%C3%A9/*');
  assert.match(messageOf(3), /^must not contain dot segments .*; write the path they lead to$/);
  assert.match(messageOf(4), /^must not contain %2F/);
  assert.match(messageOf(5), /^must not contain escapes that are not UTF-8/);
  assert.match(messageOf(6), /NFKC/);
  assert.match(messageOf(7), /invalid percent-encoding/);
  assert.match(messageOf(8), /\? inside a segment/);
  assert.equal(messageOf(9), 'must start with /');
});

test('IDs are stable: derived from kind, namespace and name, whatever the input says', () => {
  const text = doc({ services: [{ ...goodService, ID: 'chosen-by-client' }], httpresourcespecs: [{ ...goodSpec, name: 'app' }] });
  const first = parseImportDocument(text, 't');
  const again = parseImportDocument(text, 't');
  assert.deepEqual(
    first.map((o) => o.ID),
    again.map((o) => o.ID),
  );

  const [service, spec] = first as [ServiceObject, HTTPResourceSpecObject];
  assert.equal(service.ID, stableObjectId('service', NS, 'app'));
  assert.match(service.ID, /^[0-9a-f]{24}$/);
  assert.notEqual(spec.ID, service.ID, 'same name, other kind: another ID');

  const [elsewhere] = parseImportDocument(doc({ services: [goodService] }, '/acme/team-c'), 't');
  assert.equal(elsewhere!.namespace, '/acme/team-c');
  assert.notEqual(elsewhere!.ID, service.ID, 'same name, other namespace: another ID');
});

test('the document namespace is the default; an object may name its own', () => {
  const objects = parseImportDocument(doc({ httpresourcespecs: [goodSpec, { ...goodSpec, name: 'other', namespace: '/acme' }] }), 't');
  assert.deepEqual(
    objects.map((o) => [o.name, o.namespace]),
    [
      ['api', NS],
      ['other', '/acme'],
    ],
  );
});
