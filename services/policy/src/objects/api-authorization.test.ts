// Unit: the apiauthorizationpolicy kind as the API validates it — the original's fields and defaults, every
// problem named at once with 422's attribute paths, the granted namespace inside the policy's own, roles among
// the two the console knows, and unknown attributes (the original's authorizedSubnets…) refused, not dropped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateObject } from './schema.ts';
import { consoleRoleOf } from './api-authorization.ts';

const valid = {
  name: 'sre-viewers',
  namespace: '/acme',
  subject: [['groups=sre']],
  authorizedNamespace: '/acme/team-b',
  authorizedIdentities: ['@auth:role=namespace.viewer'],
  propagate: true,
};

function errorsOf(input: unknown): string[] {
  const result = validateObject('apiauthorizationpolicy', input);
  return result.ok ? [] : result.errors.map((e) => `${e.attribute}: ${e.message}`);
}

test('accepted as the original writes it, with the defaults filled in and duplicate roles merged', () => {
  const result = validateObject('apiauthorizationpolicy', {
    ...valid,
    subject: [
      ['@auth:realm=oidc', '@auth:email=alice@example.com'],
      ['email=*@example.com', 'groups!=contractors'],
    ],
    authorizedIdentities: ['@auth:role=namespace.editor', '@auth:role=namespace.editor', '@auth:role=namespace.viewer'],
  });
  assert.ok(result.ok, JSON.stringify(result));
  assert.deepEqual(result.value.authorizedIdentities, ['@auth:role=namespace.editor', '@auth:role=namespace.viewer']);
  assert.equal(result.value.disabled, false);
  assert.deepEqual(result.value.associatedTags, []);
  const own = validateObject('apiauthorizationpolicy', { ...valid, authorizedNamespace: '/acme', propagate: undefined });
  assert.ok(own.ok);
  assert.equal(own.value.propagate, false);
});

test('the granted namespace must be the policy namespace or below it', () => {
  for (const authorizedNamespace of ['/acme/team-c', '/', '/acmeco', '/other']) {
    const errors = errorsOf({ ...valid, namespace: '/acme/team-b', authorizedNamespace });
    assert.deepEqual(errors, [
      "authorizedNamespace: must be the policy's own namespace (/acme/team-b) or one below it: a policy grants access only where it is written",
    ]);
  }
  assert.deepEqual(errorsOf({ ...valid, namespace: '/', authorizedNamespace: '/acme' }), [], 'the root grants anywhere');
});

test('every problem at once: no subject, a bad namespace, roles the console does not have, an unknown attribute', () => {
  const errors = errorsOf({
    name: 'bad',
    namespace: '/acme',
    subject: [],
    authorizedNamespace: 'acme/../x',
    authorizedIdentities: ['@auth:role=namespace.administrator', 'admin'],
    authorizedSubnets: ['10.0.0.0/8'],
  });
  assert.deepEqual(errors.sort(), [
    'authorizedIdentities[0]: must be one of @auth:role=namespace.viewer, @auth:role=namespace.editor',
    'authorizedIdentities[1]: must be one of @auth:role=namespace.viewer, @auth:role=namespace.editor',
    'authorizedNamespace: must be a namespace path such as /acme/team-b',
    'authorizedNamespace: must not contain dot segments (. or ..)',
    'authorizedSubnets: is not an attribute of a apiauthorizationpolicy; microseg does not support it (remove it, or check its spelling)',
    'subject: is required: a tag expression over the user\'s tags, such as [["email=alice@example.com"]] or [["groups=sre"]]',
  ]);
  assert.deepEqual(errorsOf({ ...valid, authorizedIdentities: [] }), [
    'authorizedIdentities: needs at least one role: @auth:role=namespace.viewer or @auth:role=namespace.editor',
  ]);
});

test('a subject follows the rules of every tag expression: a list of negations only is refused', () => {
  assert.deepEqual(
    errorsOf({ ...valid, subject: [['groups!=contractors']] }).map((e) => e.split(':')[0]),
    ['subject[0]'],
  );
  assert.match(errorsOf({ ...valid, subject: [['em*il=x']] })[0] ?? '', /^subject\[0\]\[0\]: has \* in its key/);
});

test('the role each identity names', () => {
  assert.equal(consoleRoleOf('@auth:role=namespace.viewer'), 'viewer');
  assert.equal(consoleRoleOf('@auth:role=namespace.editor'), 'editor');
  for (const other of ['@auth:role=namespace.administrator', 'viewer', 'toString', '__proto__']) assert.equal(consoleRoleOf(other), undefined, other);
});
