// Unit: the console roles a user's tags give (SPEC §9.6) — subjects matched with wildcards and negations as
// every tag rule, the original's `@auth:` spelling, propagation (the namespace only, or its subtree), the highest
// role per namespace, and what grants nothing: a disabled policy, a stored one granting outside its namespace,
// system-looking tags a caller sends.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { APIAuthorizationPolicyObject } from '@microseg/contracts';
import { consoleGrants, subjectTags } from './console-roles.ts';
import { apiAuthorizationPolicy } from './testing/objects.ts';

const alice = ['sub=alice', 'email=alice@example.com', 'groups=admins', 'groups=engineering'];
const bob = ['sub=bob', 'email=bob@example.com', 'groups=engineering'];
const viewer = '@auth:role=namespace.viewer' as const;
const editor = '@auth:role=namespace.editor' as const;

const grantsOf = (policies: APIAuthorizationPolicyObject[], tags: string[]) =>
  consoleGrants(policies, tags).map((g) => `${g.role} ${g.namespace}${g.subtree ? '/**' : ''}`);

test('a subject matches by email, by group, with a wildcard; a user it does not match gets nothing', () => {
  const policies = [
    apiAuthorizationPolicy('alice', '/acme', { subject: [['email=alice@example.com']], propagate: true }),
    apiAuthorizationPolicy('sre', '/acme/team-b', { subject: [['groups=admins']], authorizedIdentities: [editor], propagate: true }),
    apiAuthorizationPolicy('everyone', '/acme/team-c', { subject: [['email=*@example.com']] }),
  ];
  assert.deepEqual(grantsOf(policies, alice), ['viewer /acme/**', 'editor /acme/team-b/**', 'viewer /acme/team-c']);
  assert.deepEqual(grantsOf(policies, bob), ['viewer /acme/team-c']);
  assert.deepEqual(grantsOf(policies, ['email=mallory@evil.example']), []);
  assert.deepEqual(grantsOf(policies, []), []);
});

test('negations and AND-lists: every pattern of one list, none of its negations', () => {
  const policies = [apiAuthorizationPolicy('eng', '/acme', { subject: [['groups=engineering', 'groups!=admins']], propagate: true })];
  assert.deepEqual(grantsOf(policies, bob), ['viewer /acme/**']);
  assert.deepEqual(grantsOf(policies, alice), [], 'alice is in admins');
  assert.deepEqual(
    grantsOf([apiAuthorizationPolicy('neg', '/acme', { subject: [['groups!=admins']] })], bob),
    [],
    'a stored list of negations only matches nobody',
  );
  assert.deepEqual(grantsOf([apiAuthorizationPolicy('empty', '/acme', { subject: [[]] })], bob), [], 'an empty list matches nobody');
});

test("the original's @auth: spelling matches the same claims, and @auth:realm=oidc every signed-in user", () => {
  const policies = [
    apiAuthorizationPolicy('orig', '/acme', { subject: [['@auth:realm=oidc', '@auth:email=bob@example.com']], propagate: true }),
    apiAuthorizationPolicy('cert', '/', { subject: [['@auth:realm=certificate']], authorizedIdentities: [editor], propagate: true }),
  ];
  assert.deepEqual(grantsOf(policies, bob), ['viewer /acme/**']);
  assert.deepEqual(grantsOf(policies, alice), []);
});

test('tags a caller sends with a system key ($, @, +) or without key=value are dropped: nobody can claim @auth:realm=certificate', () => {
  const tags = subjectTags(['@auth:realm=certificate', '$identity=processingunit', '+x=y', 'noequals', 'email=eve@example.com', `long=${'x'.repeat(5000)}`]);
  assert.deepEqual([...tags].sort(), ['@auth:email=eve@example.com', '@auth:realm=oidc', 'email=eve@example.com']);
  const policies = [
    apiAuthorizationPolicy('cert', '/', { subject: [['@auth:realm=certificate']], authorizedIdentities: [editor], propagate: true }),
    apiAuthorizationPolicy('pu', '/', { subject: [['$identity=processingunit']], propagate: true }),
  ];
  assert.deepEqual(grantsOf(policies, ['@auth:realm=certificate', '$identity=processingunit']), []);
});

test('propagate: the authorized namespace and below; without it, that namespace only — two grants for the same namespace stay apart', () => {
  const policies = [
    apiAuthorizationPolicy('here', '/acme', { subject: [['sub=bob']], authorizedNamespace: '/acme/team-b' }),
    apiAuthorizationPolicy('below', '/acme', { subject: [['sub=bob']], authorizedNamespace: '/acme/team-b', propagate: true, authorizedIdentities: [viewer] }),
  ];
  const grants = consoleGrants(policies, bob);
  assert.deepEqual(
    grants.map((g) => [g.namespace, g.subtree, g.policy]),
    [
      ['/acme/team-b', true, '/acme/below'],
      ['/acme/team-b', false, '/acme/here'],
    ],
  );
});

test('several policies for one namespace: the highest role; both roles in one policy: editor', () => {
  const policies = [
    apiAuthorizationPolicy('v', '/acme', { subject: [['sub=alice']], propagate: true }),
    apiAuthorizationPolicy('e', '/acme', { subject: [['groups=admins']], authorizedIdentities: [editor], propagate: true }),
    apiAuthorizationPolicy('both', '/x', { subject: [['sub=alice']], authorizedIdentities: [viewer, editor] }),
  ];
  assert.deepEqual(grantsOf(policies, alice), ['editor /acme/**', 'editor /x']);
});

test('a disabled policy, or one stored granting outside its own namespace (the API refuses it), grants nothing', () => {
  const policies = [
    apiAuthorizationPolicy('off', '/acme', { subject: [['sub=alice']], disabled: true }),
    apiAuthorizationPolicy('escape', '/acme/team-b', { subject: [['sub=alice']], authorizedNamespace: '/acme/team-c', propagate: true }),
    apiAuthorizationPolicy('up', '/acme/team-b', { subject: [['sub=alice']], authorizedNamespace: '/acme', propagate: true }),
    apiAuthorizationPolicy('prefix', '/acme/team-b', { subject: [['sub=alice']], authorizedNamespace: '/acme/team-bb' }),
    apiAuthorizationPolicy('unknown-role', '/acme', {
      subject: [['sub=alice']],
      authorizedIdentities: ['@auth:role=namespace.administrator' as typeof viewer],
    }),
  ];
  assert.deepEqual(grantsOf(policies, alice), []);
});
