// Unit (table-driven): the rules of object writes through the API — kinds of paths, lookups by ID and name,
// listings, what is shown, and what a write may not do.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PolicyObject, ServiceObject } from '@microseg/contracts';
import { MicrosegError } from '@microseg/errors';
import { MemoryObjectStore } from '../testing/api-fakes.ts';
import { namespaceObject, oidcService, processingUnit, resourceSpec, service } from '../testing/objects.ts';
import {
  findObject,
  keepWriteOnly,
  kindOf,
  listObjects,
  refuseDisallowedPorts,
  refuseProcessingUnitWrite,
  resolvedNamespaceObject,
  sameNamespaceName,
  sealedInputErrors,
  shown,
  stamp,
  withStoredWriteOnly,
} from './object-rules.ts';

const refused = (code: string, message?: RegExp) => (err: unknown) =>
  err instanceof MicrosegError && err.code === code && (!message || message.test(err.message));

test('kindOf: a plural in any case names its kind; anything else is a 404 listing the kinds', () => {
  const cases: Array<[string, string]> = [
    ['services', 'service'],
    ['Services', 'service'],
    ['networkaccesspolicies', 'networkaccesspolicy'],
    ['processingunits', 'processingunit'],
    ['HTTPResourceSpecs', 'httpresourcespec'],
  ];
  for (const [plural, kind] of cases) assert.equal(kindOf(plural), kind, plural);
  for (const plural of ['service', 'sessions', '', 'Apitokenz']) {
    assert.throws(
      () => kindOf(plural),
      refused('NOT_FOUND', new RegExp(`^unknown kind ${plural.toLowerCase()}; expected one of namespaces, .*, apitokens$`)),
      plural,
    );
  }
});

const dev = namespaceObject('/acme/dev', '/acme');
const web = service('web', '/acme');
const store = new MemoryObjectStore([web, service('web', '/acme/dev'), service('api', '/acme'), service('deep', '/acme/dev/x'), service('ab', '/ab'), dev]);

test('findObject: by ID or name within the namespace; a namespace object by its relative name; 404 otherwise', () => {
  const cases: Array<[kind: 'service' | 'namespace', namespace: string, idOrName: string, found: PolicyObject | undefined]> = [
    ['service', '/acme', web.ID, web],
    ['service', '/acme', 'web', web],
    ['service', '/acme/dev', web.ID, undefined],
    ['service', '/acme', 'nothing', undefined],
    ['namespace', '/acme', '/acme/dev', dev],
    ['namespace', '/acme', 'dev', dev],
    ['namespace', '/acme', '../dev', undefined],
  ];
  for (const [kind, namespace, idOrName, found] of cases) {
    const what = `${kind} ${idOrName} in ${namespace}`;
    if (found) assert.equal(findObject(store, kind, namespace, idOrName).object, found, what);
    else assert.throws(() => findObject(store, kind, namespace, idOrName), refused('NOT_FOUND', new RegExp(`^no ${kind} `)), what);
  }
  assert.equal(findObject(store, 'service', '/acme', 'web').revision, store.entry('service', web.ID)!.revision, 'with its revision (the ETag)');
});

test('listObjects: one namespace, or its subtree; by namespace then name; /ab is not below /a', () => {
  const names = (namespace: string, recursive: boolean) => listObjects(store.snapshot, 'service', namespace, recursive).map((o) => `${o.namespace} ${o.name}`);
  assert.deepEqual(names('/acme', false), ['/acme api', '/acme web']);
  assert.deepEqual(names('/acme', true), ['/acme api', '/acme web', '/acme/dev web', '/acme/dev/x deep']);
  assert.deepEqual(names('/a', true), []);
});

test("shown: write-only fields never; a service's serving status when there is one", () => {
  const shop = oidcService('shop', '/acme', { TLSCertificateKey: 'key' });
  const status = { servingStatus: 'NotServed' as const, servingProblems: ['port'] };
  const view = shown(shop, () => status) as Record<string, unknown>;
  assert.equal(view.OIDCClientSecret, undefined);
  assert.equal(view.TLSCertificateKey, undefined);
  assert.equal(view.OIDCClientID, 'shop-client');
  assert.deepEqual([view.servingStatus, view.servingProblems], ['NotServed', ['port']]);
  assert.equal('servingStatus' in (shown(dev, () => status) as object), false, 'only services have one');
  assert.equal('servingStatus' in (shown(shop, () => undefined) as object), false);
});

test('processing units are never written through the API', () => {
  assert.throws(() => refuseProcessingUnitWrite('processingunit'), refused('FORBIDDEN', /registered by the gateways/));
  assert.doesNotThrow(() => refuseProcessingUnitWrite('service'));
});

test('namespace objects: resolved below the namespace they are written in, or refused (422 for a bad name, 403 for elsewhere)', () => {
  assert.equal(resolvedNamespaceObject({ name: 'dev' }, '/acme').name, '/acme/dev');
  assert.equal(resolvedNamespaceObject({ name: '/acme/dev/x' }, '/acme').name, '/acme/dev/x');
  assert.throws(
    () => resolvedNamespaceObject({ name: '..' }, '/acme'),
    (err: MicrosegError) => err.code === 'POLICY_VALIDATION_FAILED' && err.errors?.[0]?.attribute === 'name',
  );
  for (const name of ['/acme', '/other', '/']) assert.throws(() => resolvedNamespaceObject({ name }, '/acme'), refused('FORBIDDEN'), name);
  assert.equal(sameNamespaceName('namespace', 'dev', dev), true);
  assert.equal(sameNamespaceName('namespace', 'other', dev), false);
  assert.equal(sameNamespaceName('service', 'dev', dev), false);
});

test("a service's ports must be allowed by the gateway of every unit it selects; a service that selects none is accepted", () => {
  const units = new MemoryObjectStore([processingUnit('web', '/acme', { applicationPorts: [3000], exposedPorts: [443] })]).snapshot;
  const check = (fields: Partial<ServiceObject>) => () =>
    refuseDisallowedPorts(units, 'service', service('web', '/acme', fields) as unknown as Record<string, unknown>);
  assert.doesNotThrow(check({}));
  assert.doesNotThrow(check({ port: 9999, selectors: [['app=none']] }));
  assert.throws(
    check({ port: 22, exposedPort: 8443 }),
    (err: MicrosegError) => err.code === 'POLICY_VALIDATION_FAILED' && err.errors?.map((e) => e.attribute).join() === 'port',
  );
  assert.throws(check({ exposedPort: 8443 }), (err: MicrosegError) =>
    /8443 is not a port the gateway .* may open \(allowed: 443\)/.test(err.errors?.[0]?.message ?? ''),
  );
  assert.doesNotThrow(() => refuseDisallowedPorts(units, 'httpresourcespec', { port: 1 }), 'only services have ports');
});

test('write-only fields left out keep the stored value; the client secret not when the provider or client changes', () => {
  const stored = oidcService('shop', '/acme', { OIDCClientSecret: 'enc:stored', TLSCertificateKey: 'enc:key' });
  const without = (fields: Partial<ServiceObject>) => ({ ...stored, OIDCClientSecret: undefined, TLSCertificateKey: undefined, ...fields }) as PolicyObject;
  const cases: Array<[string, PolicyObject, string | undefined, string | undefined]> = [
    ['both left out', without({}), 'enc:stored', 'enc:key'],
    ['a new secret given', without({ OIDCClientSecret: 'new' }), 'new', 'enc:key'],
    ['another provider', without({ OIDCProviderURL: 'https://evil.example' }), undefined, 'enc:key'],
    ['another client', without({ OIDCClientID: 'other' }), undefined, 'enc:key'],
  ];
  for (const [what, input, secret, key] of cases) {
    const kept = keepWriteOnly(input, stored) as ServiceObject;
    assert.deepEqual([kept.OIDCClientSecret, kept.TLSCertificateKey], [secret, key], what);
  }
  assert.equal(keepWriteOnly(without({}), undefined).kind, 'service', 'a new object is as given');
});

test('an import document: objects that exist keep their stored write-only fields', () => {
  const stored = oidcService('shop', '/acme', { OIDCClientSecret: 'enc:stored' });
  const withShop = new MemoryObjectStore([stored]);
  const doc = {
    namespace: '/acme',
    data: { services: [{ name: 'shop', OIDCProviderURL: 'https://idp.example.com', OIDCClientID: 'shop-client' }, { name: 'new' }], unknowns: [{ name: 'x' }] },
  };
  const filled = withStoredWriteOnly(withShop, doc, '/') as typeof doc;
  assert.equal((filled.data.services[0] as Record<string, unknown>).OIDCClientSecret, 'enc:stored');
  assert.equal((filled.data.services[1] as Record<string, unknown>).OIDCClientSecret, undefined);
  assert.deepEqual(filled.data.unknowns, doc.data.unknowns);
  assert.equal(withStoredWriteOnly(withShop, 'not a document', '/'), 'not a document');
});

test('input that looks sealed is refused, named in one object or in an import document', () => {
  const sealed = 'enc:v2:abc';
  const cases: Array<[unknown, string[]]> = [
    [{ OIDCClientSecret: sealed }, ['OIDCClientSecret']],
    [{ OIDCClientSecret: `  ${sealed}`, TLSCertificateKey: sealed }, ['OIDCClientSecret', 'TLSCertificateKey']],
    [{ OIDCClientSecret: 'plain' }, []],
    [{ data: { services: [{ OIDCClientSecret: 'plain' }, { TLSCertificateKey: sealed }] } }, ['data.services[1].TLSCertificateKey']],
    [null, []],
    ['text', []],
  ];
  for (const [input, attributes] of cases)
    assert.deepEqual(
      sealedInputErrors(input).map((e) => e.attribute),
      attributes,
      JSON.stringify(input),
    );
});

test('stamp: created once, updated at every write', () => {
  const now = new Date('2026-11-28T12:00:00.000Z');
  const spec = resourceSpec('s', '/acme', []);
  assert.deepEqual([stamp(spec, undefined, now).createTime, stamp(spec, undefined, now).updateTime], [now.toISOString(), now.toISOString()]);
  const existing = { ...spec, createTime: '2020-01-01T00:00:00.000Z' };
  assert.deepEqual([stamp(spec, existing, now).createTime, stamp(spec, existing, now).updateTime], ['2020-01-01T00:00:00.000Z', now.toISOString()]);
  assert.equal(
    stamp({ ...spec, createTime: '2021-01-01T00:00:00.000Z' }, undefined, now).createTime,
    '2021-01-01T00:00:00.000Z',
    'an imported createTime is kept for a new object',
  );
});
