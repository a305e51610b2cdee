// Unit: the API token format, namespace subtrees and what each role may do.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withinSubtree } from '@microseg/contracts';
import { allows, newToken, roles, type Role } from './tokens.ts';

const TOKEN = /^mst_[a-f0-9]{16}_[A-Za-z0-9_-]{43}$/;

test('a new token is mst_<16 hex id>_<43 base64url secret> and its parts are returned separately', () => {
  const { id, secret, token } = newToken();
  assert.match(token, TOKEN);
  assert.match(id, /^[a-f0-9]{16}$/);
  assert.match(secret, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(token, `mst_${id}_${secret}`);
  assert.equal(Buffer.from(secret, 'base64url').length, 32, 'the secret carries 256 random bits');
});

test('every new token is different: id and secret are random', () => {
  const tokens = Array.from({ length: 50 }, () => newToken());
  assert.equal(new Set(tokens.map((t) => t.id)).size, tokens.length, 'ids repeat');
  assert.equal(new Set(tokens.map((t) => t.secret)).size, tokens.length, 'secrets repeat');
});

const subtreeCases: Array<[namespace: string, root: string, inside: boolean]> = [
  ['/a', '/a', true],
  ['/a/b', '/a', true],
  ['/a/b/c', '/a', true],
  ['/ab', '/a', false],
  ['/ab/c', '/a', false],
  ['/a', '/a/b', false],
  ['/', '/a', false],
  ['/b', '/a', false],
  ['/b/a', '/a', false],
  ['/acme/team-a/dev', '/acme/team-a', true],
  ['/acme/team-ab', '/acme/team-a', false],
  ['/acme', '/acme/team-a', false],
  ['/acme/team-b', '/acme/team-a', false],
  ['/', '/', true],
  ['/a', '/', true],
  ['/a/b/c', '/', true],
];

for (const [namespace, root, inside] of subtreeCases) {
  test(`withinSubtree(${namespace}, ${root}) is ${inside}`, () => {
    assert.equal(withinSubtree(namespace, root), inside);
  });
}

const permissions: Record<Role, Record<'read' | 'write' | 'admin', boolean>> = {
  viewer: { read: true, write: false, admin: false },
  editor: { read: true, write: true, admin: false },
  admin: { read: true, write: true, admin: true },
};

test('the roles are viewer, editor and admin', () => {
  assert.deepEqual([...roles].sort(), Object.keys(permissions).sort());
});

for (const [role, actions] of Object.entries(permissions) as Array<[Role, Record<'read' | 'write' | 'admin', boolean>]>) {
  for (const [action, allowed] of Object.entries(actions) as Array<['read' | 'write' | 'admin', boolean]>) {
    test(`a ${role} ${allowed ? 'may' : 'may not'} ${action}`, () => {
      assert.equal(allows(role, action), allowed);
    });
  }
}

test('an unknown role may do nothing but read', () => {
  // A record from an older or corrupted store must not gain rights.
  assert.equal(allows('owner' as Role, 'write'), false);
  assert.equal(allows('owner' as Role, 'admin'), false);
});
