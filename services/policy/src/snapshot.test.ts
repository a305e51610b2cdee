// Unit (fakes): the snapshot of one revision — objects sorted by kind, the scope rule (an object applies in
// its namespace, and below only when it propagates), the system tags selectors may name, which processing
// units a service fronts, and the endpoints it exposes (compiled once per service).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PolicyObject } from '@microseg/contracts';
import { appliesIn, selects, Snapshot, systemTags } from './snapshot.ts';
import { externalNetwork, namespaceObject, networkPolicy, processingUnit, resourceSpec, service } from './testing/objects.ts';

test('appliesIn: the own namespace always; below only when propagating; never above, beside or in a look-alike', () => {
  assert.equal(appliesIn('/acme', false, '/acme'), true);
  assert.equal(appliesIn('/acme', false, '/acme/dev'), false);
  assert.equal(appliesIn('/acme', true, '/acme/dev'), true);
  assert.equal(appliesIn('/acme', true, '/acme/dev/deeper'), true);
  assert.equal(appliesIn('/acme/dev', true, '/acme'), false, 'not upwards');
  assert.equal(appliesIn('/acme', true, '/acmeco'), false, 'a name prefix is not a parent');
  assert.equal(appliesIn('/acme/dev', true, '/acme/ops'), false, 'not sideways');
  assert.equal(appliesIn('/', true, '/anything'), true);
});

test('systemTags: the user tags, then $name, $namespace and $identity', () => {
  assert.deepEqual(systemTags({ name: 'web', namespace: '/acme', kind: 'processingunit', associatedTags: ['app=web'] }), [
    'app=web',
    '$name=web',
    '$namespace=/acme',
    '$identity=processingunit',
  ]);
});

test('build: each object is found under its kind, services by ID, the revision kept', () => {
  const objects: PolicyObject[] = [
    namespaceObject('/acme', '/'),
    service('web', '/acme'),
    processingUnit('web', '/acme'),
    resourceSpec('web', '/acme', []),
    externalNetwork('idp', '/acme', ['idp.example.com']),
    networkPolicy('p', '/acme', { subject: [['a=b']], object: [['c=d']], action: 'Allow', applyPolicyMode: 'Bidirectional' }),
  ];
  const snap = Snapshot.build(objects, 42);
  assert.equal(snap.revision, 42);
  assert.equal(snap.objects, objects);
  assert.deepEqual(
    [snap.namespaces, snap.processingUnits, snap.specs, snap.externalNetworks, snap.networkPolicies].map((list) => list.map((o) => o.kind)),
    [['namespace'], ['processingunit'], ['httpresourcespec'], ['externalnetwork'], ['networkaccesspolicy']],
  );
  assert.deepEqual([...snap.services.keys()], [objects[1]!.ID]);
});

test('selects: a running unit, in scope of the service, whose tags match its selectors', () => {
  const web = service('web', '/acme', { selectors: [['app=web', 'tier=front']] });
  const pu = processingUnit('web', '/acme', { associatedTags: ['app=web', 'tier=front'] });
  assert.equal(selects(web, pu), true);
  assert.equal(selects(web, { ...pu, status: 'Stopped' }), false, 'stopped');
  assert.equal(selects(web, { ...pu, associatedTags: ['app=web'] }), false, 'every tag of a clause must match');
  assert.equal(selects(web, { ...pu, namespace: '/acme/dev' }), false, 'below, without propagate');
  assert.equal(selects({ ...web, propagate: true }, { ...pu, namespace: '/acme/dev' }), true, 'below, with propagate');
  assert.equal(selects({ ...web, propagate: true }, { ...pu, namespace: '/other' }), false, 'another tree');
  assert.equal(selects({ ...web, selectors: [['$name=web']] }, pu), true, 'system tags can be selected');
  assert.equal(selects({ ...web, selectors: [] }, pu), false, 'no selector selects nothing');
});

test('processingUnitsOf: the units a service selects, in store order', () => {
  const web = service('web', '/acme');
  const a = processingUnit('web', '/acme', { ID: 'a' });
  const b = processingUnit('web', '/acme', { ID: 'b' });
  const other = processingUnit('api', '/acme');
  const snap = Snapshot.build([b, other, web, a], 1);
  assert.deepEqual(
    snap.processingUnitsOf(web).map((pu) => pu.ID),
    ['b', 'a'],
  );
});

test('matcherFor: endpoints of the specs in scope whose tags match exposedAPIs, with each grant', () => {
  const web = service('web', '/acme/dev', { exposedAPIs: [['api=web']] });
  const own = resourceSpec('web', '/acme/dev', [{ URI: '/public/*', methods: ['GET'], public: true, allowedScopes: [] }]);
  const inherited = resourceSpec('web', '/acme', [{ URI: '/admin', methods: ['GET', 'POST'], public: false, allowedScopes: [['role=admin']] }], {
    propagate: true,
  });
  const notPropagated = resourceSpec('web', '/acme', [{ URI: '/hidden', methods: ['GET'], public: true, allowedScopes: [] }], { ID: 'np' });
  const otherApi = resourceSpec('api', '/acme/dev', [{ URI: '/api', methods: ['GET'], public: true, allowedScopes: [] }]);
  const matcher = Snapshot.build([web, own, inherited, notPropagated, otherApi], 1).matcherFor(web);

  const publicHit = matcher.match('GET', '/public/hello');
  assert.deepEqual(
    publicHit?.map((g) => [g.spec.ID, g.public, g.uri]),
    [[own.ID, true, '/public/*']],
  );
  assert.deepEqual(
    matcher.match('POST', '/admin')?.map((g) => [g.spec.ID, g.allowedScopes]),
    [[inherited.ID, [['role=admin']]]],
  );
  assert.equal(matcher.match('POST', '/public/hello'), undefined, 'method not listed');
  assert.equal(matcher.match('GET', '/hidden'), undefined, 'a spec above that does not propagate');
  assert.equal(matcher.match('GET', '/api'), undefined, 'a spec the service does not expose');
});

test('matcherFor: compiled once per service and snapshot; a new snapshot sees new specs', () => {
  const web = service('web', '/acme');
  const spec = resourceSpec('web', '/acme', [{ URI: '/a', methods: ['GET'], public: true, allowedScopes: [] }]);
  const first = Snapshot.build([web, spec], 1);
  assert.equal(first.matcherFor(web), first.matcherFor(web));
  assert.equal(first.matcherFor(web).match('GET', '/b'), undefined);
  const withB = { ...spec, endpoints: [...spec.endpoints, { URI: '/b', methods: ['GET' as const], public: true, allowedScopes: [] }] };
  assert.equal(Snapshot.build([web, withB], 2).matcherFor(web).match('GET', '/b')?.length, 1);
});
