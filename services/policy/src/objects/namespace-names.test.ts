import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveNamespaceName, type NamespaceName } from './namespace-names.ts';

const rows: Array<[name: string, container: string, expected: NamespaceName['ok'] | string, status?: number]> = [
  ['team-b', '/acme', '/acme/team-b'],
  ['team-b/dev', '/acme', '/acme/team-b/dev'],
  ['/acme/team-b/dev', '/acme/team-b', '/acme/team-b/dev'],
  ['/acme/team-b/dev/private-app', '/acme/team-b/dev', '/acme/team-b/dev/private-app'],
  ['acme', '/', '/acme'],
  ['/', '/', '/'],
  // Refused: the root, the namespace itself, a sibling, a parent, another tree, dot segments.
  ['/', '/acme/team-b', false, 403],
  ['/acme/team-b', '/acme/team-b', false, 403],
  ['/acme/team-a', '/acme/team-b', false, 403],
  ['/acme', '/acme/team-b', false, 403],
  ['/acme/team-bb', '/acme/team-b', false, 403],
  ['/other/team', '/acme', false, 403],
  ['..', '/acme/team-b', false, 422],
  ['../team-a', '/acme/team-b', false, 422],
  ['/acme/team-b/../team-a', '/acme/team-b', false, 422],
  ['./x', '/acme', false, 422],
  ['a//b', '/acme', false, 422],
  ['team b', '/acme', false, 422],
  ['', '/acme', false, 422],
];

for (const [name, container, expected, status] of rows) {
  test(`${JSON.stringify(name)} written in ${container} → ${expected === false ? status : expected}`, () => {
    const result = resolveNamespaceName(name, container);
    if (expected === false) {
      assert.equal(result.ok, false);
      assert.equal(!result.ok && result.status, status);
      assert.ok(!result.ok && result.message.length > 10);
    } else assert.deepEqual(result, { ok: true, path: expected });
  });
}
