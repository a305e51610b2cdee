// Unit: a signed-in user's console roles — the policy service's answer for her tags, kept a few seconds (the
// same tags in another order are the same question), asked again after; the policy service away is an error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requests } from '@microseg/contracts';
import { askRoles, ConsoleRoles } from './console-roles.ts';

test('the answer for a set of tags is kept for the TTL, whatever their order; then asked again', async () => {
  let now = 0;
  const asked: string[][] = [];
  let grants = [{ namespace: '/acme', role: 'viewer', subtree: true }];
  const roles = new ConsoleRoles(
    async (tags) => {
      asked.push([...tags]);
      return grants;
    },
    3_000,
    () => now,
  );
  assert.deepEqual(await roles.grants(['email=alice@example.com', 'groups=admins']), grants);
  assert.deepEqual(await roles.grants(['groups=admins', 'email=alice@example.com', 'groups=admins']), grants);
  assert.deepEqual(asked, [['email=alice@example.com', 'groups=admins']]);
  grants = [];
  now = 3_001;
  assert.deepEqual(await roles.grants(['email=alice@example.com', 'groups=admins']), [], 'a removed policy bites after the TTL');
});

test('askRoles sends the tags on svc.policy.v1.console.roles and reads the grants', async () => {
  const sent: unknown[] = [];
  const bus = {
    request: async (contract: unknown, message: { tags: string[] }) => {
      assert.equal(contract, requests.policyConsoleRoles);
      sent.push(message);
      return { grants: [{ namespace: '/acme', role: 'editor', subtree: false, policy: '/acme/p' }] };
    },
  };
  const ask = askRoles(bus as never, 1_000);
  assert.deepEqual(await ask(['email=a@example.com']), [{ namespace: '/acme', role: 'editor', subtree: false }]);
  assert.deepEqual(sent, [{ tags: ['email=a@example.com'] }]);
});
