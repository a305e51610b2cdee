import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InputError } from './errors.ts';
import { buildImport, locateAttribute } from './import-document.ts';

test('files with the same namespace merge under it; kinds are normalised to their plural', () => {
  const built = buildImport([
    { name: 'a.yaml', documents: [{ label: 'demo', namespace: '/acme', data: { svc: [{ name: 'app' }] } }] },
    { name: 'b.yaml', documents: [{ label: 'demo', namespace: '/acme', data: { ExternalNetworks: [{ name: 'idp' }], services: [{ name: 'other' }] } }] },
  ]);
  assert.deepEqual(built.document, {
    namespace: '/acme',
    label: 'demo',
    data: { services: [{ name: 'app' }, { name: 'other' }], externalnetworks: [{ name: 'idp' }] },
  });
  assert.deepEqual(built.sources, { services: ['a.yaml', 'b.yaml'], externalnetworks: ['b.yaml'] });
});

test('files with different namespaces: each object carries its own', () => {
  const built = buildImport([
    { name: 'a.yaml', documents: [{ namespace: '/a', data: { services: [{ name: 'x' }, { name: 'y', namespace: '/a/child' }] } }] },
    { name: 'b.yaml', documents: [{ data: { services: [{ name: 'x' }] } }] },
  ]);
  assert.equal(built.document.namespace, undefined);
  assert.deepEqual(built.document.data.services, [{ name: 'x', namespace: '/a' }, { name: 'y', namespace: '/a/child' }, { name: 'x' }]);
});

test('objects that say their kind are grouped by it', () => {
  const built = buildImport([
    {
      name: 'objects.yaml',
      documents: [
        [
          { kind: 'service', name: 'app' },
          { kind: 'netpol', name: 'p' },
        ],
        { kind: 'extnet', name: 'idp' },
      ],
    },
  ]);
  assert.deepEqual(built.document.data, { services: [{ name: 'app' }], networkaccesspolicies: [{ name: 'p' }], externalnetworks: [{ name: 'idp' }] });
});

test('every problem of a file is named; the first bad file stops the import', () => {
  const cases: [Parameters<typeof buildImport>[0], RegExp][] = [
    [
      [{ name: 'x.yaml', documents: [{ data: { servces: [] }, colour: 'red' }] }],
      /x\.yaml: colour: unknown top-level key[\s\S]*x\.yaml: data\.servces: unknown kind/,
    ],
    [[{ name: 'x.yaml', documents: [{ data: { services: { name: 'a' } } }] }], /x\.yaml: data\.services: must be a list of objects/],
    [[{ name: 'x.yaml', documents: [{ name: 'app' }] }], /x\.yaml: item 1 \(app\) does not say its kind/],
    [[{ name: 'x.yaml', documents: [{ data: {} }] }], /nothing to import: no objects in x\.yaml/],
    [
      [
        { name: 'a.yaml', documents: [{ label: 'one', data: { services: [{ name: 'a' }] } }] },
        { name: 'b.yaml', documents: [{ label: 'two', data: { services: [{ name: 'b' }] } }] },
      ],
      /different labels: a\.yaml: one, b\.yaml: two/,
    ],
    [
      [
        { name: 'a.yaml', documents: [{ namespace: '/n', data: { services: [{ name: 'app' }] } }] },
        { name: 'b.yaml', documents: [{ namespace: '/n', data: { svc: [{ name: 'app' }] } }] },
      ],
      /b\.yaml: service\/app in \/n is also defined in a\.yaml/,
    ],
  ];
  for (const [files, message] of cases) {
    assert.throws(
      () => buildImport(files),
      (err: unknown) => err instanceof InputError && message.test(err.message),
      String(message),
    );
  }
});

test('--label chooses between different labels', () => {
  const built = buildImport(
    [
      { name: 'a.yaml', documents: [{ label: 'one', data: { services: [{ name: 'a' }] } }] },
      { name: 'b.yaml', documents: [{ label: 'two', data: { services: [{ name: 'b' }] } }] },
    ],
    { label: 'both' },
  );
  assert.equal(built.document.label, 'both');
});

test('attributes of a refused import point at the object and its file', () => {
  const built = buildImport([
    { name: 'a.yaml', documents: [{ data: { services: [{ name: 'app' }] } }] },
    { name: 'b.yaml', documents: [{ data: { services: [{ port: 1 }] } }] },
  ]);
  assert.deepEqual(locateAttribute(built, 'data.services[0].exposedPort'), { subject: 'service/app (a.yaml)', attribute: 'exposedPort' });
  assert.deepEqual(locateAttribute(built, 'data.services[1].name'), { subject: 'service/item 2 (b.yaml)', attribute: 'name' });
  assert.equal(locateAttribute(built, 'label'), undefined);
});
