// Unit: what a viewer may read — a token's subtree, a user's grants (a namespace with or without what is
// below it, the highest role where several cover), and nothing else (`/acmeco` is not below `/acme`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeGrants, grantFor, ssoViewer, tokenViewer } from './viewer.ts';

test('a token: its namespace and everything below, recursive or not; a sibling sharing a prefix is not below', () => {
  const token = tokenViewer('ops', 'viewer', '/acme');
  assert.deepEqual(token, { name: 'ops', via: 'token', namespace: '/acme', role: 'viewer', grants: [{ namespace: '/acme', role: 'viewer', subtree: true }] });
  assert.equal(grantFor(token, '/acme', true)?.role, 'viewer');
  assert.ok(grantFor(token, '/acme/team-b/dev', false));
  for (const ns of ['/', '/acmeco', '/other']) assert.equal(grantFor(token, ns, false), undefined, ns);
});

test('a user: each grant as it reaches, the highest role where several cover, nothing without a grant', () => {
  const alice = ssoViewer('alice@example.com', [
    { namespace: '/acme', role: 'viewer', subtree: true },
    { namespace: '/acme/team-b', role: 'editor', subtree: true },
    { namespace: '/x', role: 'viewer', subtree: false },
  ])!;
  assert.deepEqual([alice.via, alice.namespace, alice.role], ['sso', '/acme', 'viewer']);
  assert.equal(grantFor(alice, '/acme/team-b/dev', true)?.role, 'editor');
  assert.equal(grantFor(alice, '/acme/team-c', true)?.role, 'viewer');
  assert.equal(grantFor(alice, '/x', false)?.role, 'viewer');
  assert.equal(grantFor(alice, '/x', true), undefined, 'a namespace-only grant does not cover its children');
  assert.equal(grantFor(alice, '/x/y', false), undefined);
  assert.equal(describeGrants(alice), '/acme and below, /acme/team-b and below, /x only');
  assert.equal(ssoViewer('bob@example.com', []), undefined);
});
