// The guarded fetch with a fake bus (policy's flow check), an injected resolver and an injected
// transport that records where it was told to connect; then the real pinned transport against a
// server on this machine, reached under a name no resolver knows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { subjects } from '@microseg/contracts';
import { MicrosegError } from '@microseg/errors';
import { guardedFetch, IdpRedirectRefused, pinnedTransport, type IdpGuardDeps, type Resolver, type Transport } from './idp-guard.ts';
import { NetworkSet } from '@microseg/config';
import type { ResolvedAddress } from './idp-network.ts';
import { OidcClients } from './oidc-clients.ts';

const PROVIDER = 'https://idp.example.com';
const PUBLIC_A = '93.184.215.14';
const PUBLIC_B = '93.184.215.15';

interface Harness {
  deps: IdpGuardDeps;
  flowChecks: Array<{ host: string; ip: string; port: number }>;
  connections: Array<{ url: string; addresses: string[]; redirect: string | undefined }>;
  resolutions: string[];
}

function harness(options: {
  resolve: (host: string, call: number) => ResolvedAddress[];
  allow?: (ip: string) => boolean;
  answer?: () => Response;
  allowedNetworks?: string[];
  endpointHosts?: string[];
}): Harness {
  const h: Harness = { flowChecks: [], connections: [], resolutions: [], deps: undefined as never };
  const resolver: Resolver = async (host) => {
    h.resolutions.push(host);
    return options.resolve(host, h.resolutions.length);
  };
  const transport: Transport = async (url, addresses, init) => {
    h.connections.push({ url: url.href, addresses: addresses.map((a) => a.address), redirect: init.redirect });
    return options.answer?.() ?? new Response('{"ok":true}', { headers: { 'content-type': 'application/json' } });
  };
  const bus = {
    request: async (contract: { subject: string }, message: { host: string; ip: string; port: number }) => {
      assert.equal(contract.subject, subjects.policyFlowCheck);
      h.flowChecks.push({ host: message.host, ip: message.ip, port: message.port });
      const allowed = options.allow?.(message.ip) ?? true;
      return { allowed, reason: allowed ? 'accepted by policy allow-app-to-idp' : 'no policy allows it (namespace default Reject)' };
    },
  };
  h.deps = {
    bus: bus as never,
    busTimeoutMs: 1_000,
    idpTimeoutMs: 2_000,
    network: { allowedNetworks: new NetworkSet(options.allowedNetworks ?? []), endpointHosts: options.endpointHosts ?? [] },
    resolver,
    transport,
  };
  return h;
}

const v4 = (address: string): ResolvedAddress => ({ address, family: 4 });
const v6 = (address: string): ResolvedAddress => ({ address, family: 6 });

async function refusal(promise: Promise<unknown>): Promise<MicrosegError> {
  const err = await promise.then(
    () => assert.fail('the call was made'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof MicrosegError, String(err));
  return err;
}

test('DNS rebinding: a name that resolves to a public address, then to 127.0.0.1, is connected to the checked public address', async () => {
  const h = harness({ resolve: (_host, call) => (call === 1 ? [v4(PUBLIC_A)] : [v4('127.0.0.1')]) });
  const fetch = guardedFetch(h.deps, { serviceId: 'svc', providerUrl: PROVIDER });

  const res = await fetch(`${PROVIDER}/token`, { method: 'POST' } as never);
  assert.equal(res.status, 200);
  assert.deepEqual(h.connections, [{ url: `${PROVIDER}/token`, addresses: [PUBLIC_A], redirect: 'manual' }], 'connected to exactly the checked address');
  assert.deepEqual(h.flowChecks, [{ host: 'idp.example.com', ip: PUBLIC_A, port: 443 }], 'policy was asked about that address');
  assert.equal(h.resolutions.length, 1, 'the name was resolved once for the call');

  // The next call resolves anew and is checked anew: the rebound answer is refused before any connection.
  const err = await refusal(fetch(`${PROVIDER}/jwks`, {} as never));
  assert.equal(err.code, 'AUTHN_IDP_ADDRESS_REFUSED');
  assert.match(err.message, /127\.0\.0\.1 is a loopback address/);
  assert.equal(h.connections.length, 1, 'no second connection');
});

const refusedAnswers: Array<{ name: string; addresses: ResolvedAddress[]; reason: RegExp }> = [
  { name: 'an IPv4-mapped loopback address (::ffff:127.0.0.1)', addresses: [v6('::ffff:127.0.0.1')], reason: /127\.0\.0\.1 is a loopback/ },
  { name: 'the cloud metadata address (169.254.169.254)', addresses: [v4('169.254.169.254')], reason: /169\.254\.169\.254 is a link-local/ },
  { name: 'a private address', addresses: [v4('10.0.0.5')], reason: /private/ },
  { name: 'IPv6 loopback', addresses: [v6('::1')], reason: /loopback/ },
  { name: 'only special addresses among several', addresses: [v4('10.0.0.5'), v6('fe80::1')], reason: /private.*link-local/ },
];

for (const { name, addresses, reason } of refusedAnswers) {
  test(`a name resolving to ${name} is refused before policy is asked or anything is sent`, async () => {
    const h = harness({ resolve: () => addresses });
    const err = await refusal(guardedFetch(h.deps, { serviceId: 'svc', providerUrl: PROVIDER })(`${PROVIDER}/token`, {} as never));
    assert.equal(err.code, 'AUTHN_IDP_ADDRESS_REFUSED');
    assert.match(err.message, reason);
    assert.match(err.message, /AUTHN_IDP_ALLOWED_NETWORKS/);
    assert.deepEqual(h.flowChecks, []);
    assert.deepEqual(h.connections, []);
  });
}

test('special addresses among public ones are left out; the connection goes to the public ones only', async () => {
  const h = harness({ resolve: () => [v4('169.254.169.254'), v4(PUBLIC_A), v6('::ffff:127.0.0.1')] });
  await guardedFetch(h.deps, { serviceId: 'svc', providerUrl: PROVIDER })(`${PROVIDER}/token`, {} as never);
  assert.deepEqual(
    h.connections.map((c) => c.addresses),
    [[PUBLIC_A]],
  );
});

test('AUTHN_IDP_ALLOWED_NETWORKS lets an internal provider be reached', async () => {
  const h = harness({ resolve: () => [v4('10.20.0.7')], allowedNetworks: ['10.20.0.0/16'] });
  await guardedFetch(h.deps, { serviceId: 'svc', providerUrl: PROVIDER })(`${PROVIDER}/token`, {} as never);
  assert.deepEqual(
    h.connections.map((c) => c.addresses),
    [['10.20.0.7']],
  );
});

test('the loopback development provider is reached on loopback, on its own origin only', async () => {
  const h = harness({ resolve: () => [v6('::1'), v4('127.0.0.1')] });
  const fetch = guardedFetch(h.deps, { serviceId: 'svc', providerUrl: 'http://localhost:9400' });
  await fetch('http://localhost:9400/token', {} as never);
  assert.deepEqual(
    h.connections.map((c) => c.addresses),
    [['::1', '127.0.0.1']],
  );
  const err = await refusal(fetch('http://localhost:6379/', {} as never));
  assert.equal(err.code, 'AUTHN_IDP_ADDRESS_REFUSED');
  assert.equal(h.connections.length, 1);
});

test('each address is checked against network policy; a denied one is not connected to', async () => {
  const h = harness({ resolve: () => [v4(PUBLIC_A), v4(PUBLIC_B)], allow: (ip) => ip === PUBLIC_B });
  await guardedFetch(h.deps, { serviceId: 'svc', providerUrl: PROVIDER })(`${PROVIDER}/token`, {} as never);
  assert.deepEqual(h.flowChecks.map((c) => c.ip).sort(), [PUBLIC_A, PUBLIC_B]);
  assert.deepEqual(
    h.connections.map((c) => c.addresses),
    [[PUBLIC_B]],
  );
});

test('no address allowed by network policy: AUTHN_NETWORK_DENIED and nothing sent', async () => {
  const h = harness({ resolve: () => [v4(PUBLIC_A)], allow: () => false });
  const err = await refusal(guardedFetch(h.deps, { serviceId: 'svc', providerUrl: PROVIDER })(`${PROVIDER}/token`, {} as never));
  assert.equal(err.code, 'AUTHN_NETWORK_DENIED');
  assert.match(err.message, /no policy allows it/);
  assert.deepEqual(h.connections, []);
});

test('an IP literal is not resolved; a literal in a special range is refused', async () => {
  const h = harness({ resolve: () => assert.fail('resolved') });
  const err = await refusal(
    guardedFetch(h.deps, { serviceId: 'svc', providerUrl: 'https://169.254.169.254' })('https://169.254.169.254/.well-known/openid-configuration', {} as never),
  );
  assert.match(err.message, /link-local/);
  assert.deepEqual(h.resolutions, []);
  assert.deepEqual(h.connections, []);
});

test("an endpoint off the provider's origin is refused before resolving", async () => {
  const h = harness({ resolve: () => [v4(PUBLIC_A)] });
  const err = await refusal(guardedFetch(h.deps, { serviceId: 'svc', providerUrl: PROVIDER })('https://elsewhere.example/token', {} as never));
  assert.equal(err.code, 'AUTHN_IDP_ADDRESS_REFUSED');
  assert.match(err.message, /AUTHN_IDP_ENDPOINT_HOSTS/);
  assert.deepEqual(h.resolutions, []);
});

test('a redirect is never followed, whatever the caller asked', async () => {
  const h = harness({
    resolve: () => [v4(PUBLIC_A)],
    answer: () => new Response(null, { status: 307, headers: { location: 'http://169.254.169.254/latest/meta-data/' } }),
  });
  const fetch = guardedFetch(h.deps, { serviceId: 'svc', providerUrl: PROVIDER });
  await assert.rejects(fetch(`${PROVIDER}/token`, { redirect: 'follow' } as never), IdpRedirectRefused);
  assert.deepEqual(
    h.connections.map((c) => c.redirect),
    ['manual'],
  );
  assert.equal(h.connections.length, 1, 'the Location was not visited');
});

test('a resolver failure reads as fetch reports it (the code names the problem)', async () => {
  const h = harness({
    resolve: () => {
      throw Object.assign(new Error('getaddrinfo ENOTFOUND idp.example.com'), { code: 'ENOTFOUND' });
    },
  });
  const err = await guardedFetch(h.deps, { serviceId: 'svc', providerUrl: PROVIDER })(`${PROVIDER}/token`, {} as never).catch((e: unknown) => e);
  assert.equal((err as { cause?: { code?: string } }).cause?.code, 'ENOTFOUND');
});

/** OidcClients over the fake bus, with the service's settings and a discovery document. */
function clientsFor(discovery: Record<string, unknown>): { clients: OidcClients; connections: string[] } {
  const connections: string[] = [];
  const settings = {
    serviceId: 'svc',
    name: 'app',
    namespace: '/ns',
    providerUrl: PROVIDER,
    clientId: 'app',
    clientSecret: 's',
    redirectUri: 'https://app.example.com/aporeto/oidc/callback',
    scopes: ['openid'],
  };
  const bus = {
    request: async (contract: { subject: string }) => (contract.subject === subjects.policyOidcClient ? settings : { allowed: true, reason: '' }),
  };
  const clients = new OidcClients(bus as never, {
    busTimeoutMs: 1_000,
    idpTimeoutMs: 2_000,
    resolver: async () => [v4(PUBLIC_A)],
    transport: async (url) => {
      connections.push(url.href);
      return new Response(
        JSON.stringify({
          issuer: PROVIDER,
          authorization_endpoint: `${PROVIDER}/auth`,
          token_endpoint: `${PROVIDER}/token`,
          jwks_uri: `${PROVIDER}/jwks`,
          ...discovery,
        }),
        {
          headers: { 'content-type': 'application/json' },
        },
      );
    },
  });
  return { clients, connections };
}

const documents: Array<{ name: string; discovery: Record<string, unknown>; reason: RegExp }> = [
  { name: 'a jwks_uri on another host', discovery: { jwks_uri: 'https://attacker.example/jwks' }, reason: /jwks_uri .*attacker\.example/ },
  { name: 'a token_endpoint over http', discovery: { token_endpoint: 'http://idp.example.com/token' }, reason: /token_endpoint .*not https/ },
  { name: 'a token_endpoint at the metadata address', discovery: { token_endpoint: 'http://169.254.169.254/latest/meta-data/iam' }, reason: /token_endpoint/ },
  { name: 'a userinfo_endpoint on another host', discovery: { userinfo_endpoint: 'https://attacker.example/userinfo' }, reason: /userinfo_endpoint/ },
];

for (const { name, discovery, reason } of documents) {
  test(`discovery: a document with ${name} is refused and nothing else is fetched`, async () => {
    const { clients, connections } = clientsFor(discovery);
    const err = await refusal(clients.get('svc'));
    assert.equal(err.code, 'AUTHN_IDP_ADDRESS_REFUSED');
    assert.match(err.message, reason);
    assert.deepEqual(connections, [`${PROVIDER}/.well-known/openid-configuration`]);
  });
}

test("discovery: a document whose endpoints are on the provider's origin is accepted", async () => {
  const { clients } = clientsFor({});
  const oidc = await clients.get('svc');
  assert.equal(oidc.config.serverMetadata().token_endpoint, `${PROVIDER}/token`);
});

test('pinnedTransport connects to the given address for a name no resolver knows, with the name as Host', async () => {
  const seen: Array<string | undefined> = [];
  const server = createServer((req, res) => {
    seen.push(req.headers.host);
    res.end('pinned');
  });
  const port = await new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
  try {
    const url = new URL(`http://idp.rebinding.invalid:${port}/jwks`);
    const res = await pinnedTransport(url, [v4('127.0.0.1')], {});
    assert.equal(await res.text(), 'pinned');
    assert.deepEqual(seen, [`idp.rebinding.invalid:${port}`]);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});
