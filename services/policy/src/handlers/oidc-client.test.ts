// Unit (fakes): svc.policy.v1.service.oidc — an enabled OIDC service's settings for authn with its client
// secret opened; anything else unknown; a secret this replica cannot open refused, never sent empty.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requests } from '@microseg/contracts';
import { MicrosegError } from '@microseg/errors';
import { SecretHealthReporter } from '../secret-health.ts';
import { SecretBox, sealObject } from '../secrets.ts';
import { FakeBus } from '../testing/fake-bus.ts';
import { MemoryObjectStore } from '../testing/api-fakes.ts';
import { oidcService, service } from '../testing/objects.ts';
import { serveOidcClient } from './oidc-client.ts';

const secrets = new SecretBox([Buffer.alloc(32, 3)]);
const lost = new SecretBox([Buffer.alloc(32, 4)]);
const shop = sealObject(
  secrets,
  oidcService('shop', '/acme', {
    hosts: ['shop.example.com'],
    exposedPort: 8443,
    OIDCScopes: ['email', 'openid'],
    OIDCAllowedTenants: ['t1'],
    acceptBearerTokens: true,
  }),
);
const store = new MemoryObjectStore([
  shop,
  service('open', '/acme'),
  oidcService('off', '/acme', { disabled: true }),
  sealObject(lost, oidcService('lost', '/acme')),
]);
const bus = new FakeBus();
serveOidcClient(bus, { store, secrets, secretHealth: new SecretHealthReporter(secrets, bus, () => undefined) });
const ask = (serviceId: string) => bus.call(requests.policyOidcClient, { serviceId });
const refusedWith = (code: string) => (err: unknown) => err instanceof MicrosegError && err.code === code;

test("an OIDC service's settings, the client secret opened and the logout return fixed to its own origin", async () => {
  const answer = await ask(shop.ID);
  assert.deepEqual(
    { ...answer, sessionIdleTimeoutSeconds: undefined, sessionMaxLifetimeSeconds: undefined },
    {
      serviceId: shop.ID,
      name: 'shop',
      namespace: '/acme',
      providerUrl: 'https://idp.example.com',
      clientId: 'shop-client',
      clientSecret: 'shop-secret',
      redirectUri: 'https://shop.example.com:8443/aporeto/oidc/callback',
      scopes: ['openid', 'email'],
      sessionIdleTimeoutSeconds: undefined,
      sessionMaxLifetimeSeconds: undefined,
      acceptBearerTokens: true,
      providerProfile: 'auto',
      allowedTenants: ['t1'],
      postLogoutRedirectUri: 'https://shop.example.com:8443/',
    },
  );
});

test('a service that does not exist, is disabled or does not use OIDC: AUTHN_SERVICE_UNKNOWN', async () => {
  for (const id of ['nobody', store.snapshot.objects.find((o) => o.name === 'open')!.ID, store.snapshot.objects.find((o) => o.name === 'off')!.ID]) {
    await assert.rejects(ask(id), refusedWith('AUTHN_SERVICE_UNKNOWN'), id);
  }
});

test('a client secret this replica cannot open: POLICY_SECRET_UNREADABLE, and the object reported', async () => {
  const id = store.snapshot.objects.find((o) => o.name === 'lost')!.ID;
  await assert.rejects(ask(id), refusedWith('POLICY_SECRET_UNREADABLE'));
  assert.ok(bus.events.some((e) => e.kind === 'secretUnreadable' && e.input.targetId === id));
});
