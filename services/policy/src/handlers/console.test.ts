// Unit (fakes): the console's two subjects — the public keys and the issuer as the key ring gives them, and
// the roles a user's tags give from the current snapshot (a change of objects is seen at the next question).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requests } from '@microseg/contracts';
import { Snapshot } from '../snapshot.ts';
import { apiAuthorizationPolicy } from '../testing/objects.ts';
import { FakeBus } from '../testing/fake-bus.ts';
import { serveConsole } from './console.ts';

test('assertion keys: what the key ring publishes, public halves only', async () => {
  const bus = new FakeBus();
  const keys = { issuer: 'microseg', keys: [{ kid: 'k1', publicJwk: '{"kty":"EC"}', publishUntilMs: 0n }] };
  serveConsole(bus, { store: { snapshot: Snapshot.build([], 1) }, assertionKeys: { publicKeys: () => keys } });
  assert.deepEqual(await bus.call(requests.policyAssertionKeys, {}), keys);
});

test('console roles: from the snapshot of the moment, for the tags asked about', async () => {
  const bus = new FakeBus();
  const store = { snapshot: Snapshot.build([], 1) };
  serveConsole(bus, { store, assertionKeys: { publicKeys: () => ({}) } });
  const ask = async (tags: string[]) => (await bus.call(requests.policyConsoleRoles, { tags })).grants;
  assert.deepEqual(await ask(['email=alice@example.com']), []);
  store.snapshot = Snapshot.build([apiAuthorizationPolicy('alice', '/acme', { subject: [['email=alice@example.com']], propagate: true })], 2);
  assert.deepEqual(await ask(['email=alice@example.com']), [{ namespace: '/acme', role: 'viewer', subtree: true, policy: '/acme/alice' }]);
  assert.deepEqual(await ask(['email=bob@example.com']), []);
});
