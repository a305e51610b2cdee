import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NetworkSet } from '@microseg/config';
import { checkAddress, endpointProblem, isLoopbackProvider } from './idp-network.ts';

const PUBLIC_PROVIDER = 'https://idp.example.com';
const LOOPBACK_PROVIDER = 'http://localhost:9400';

const addresses: Array<{ name: string; address: string; host?: string; provider?: string; allowed?: string[]; expected: true | RegExp }> = [
  { name: 'a public IPv4 address', address: '93.184.215.14', expected: true },
  { name: 'a public IPv6 address', address: '2606:4700::6810:84e5', expected: true },
  { name: 'the cloud metadata address', address: '169.254.169.254', expected: /link-local/ },
  { name: 'link-local IPv6', address: 'fe80::1', expected: /link-local/ },
  { name: 'loopback IPv4', address: '127.0.0.1', expected: /loopback/ },
  { name: 'loopback elsewhere in 127/8', address: '127.10.0.3', expected: /loopback/ },
  { name: 'loopback IPv6', address: '::1', expected: /loopback/ },
  { name: 'IPv4-mapped loopback, dotted', address: '::ffff:127.0.0.1', expected: /127\.0\.0\.1 is a loopback/ },
  { name: 'IPv4-mapped loopback, hex', address: '::ffff:7f00:1', expected: /127\.0\.0\.1 is a loopback/ },
  { name: 'IPv4-mapped metadata address', address: '::ffff:169.254.169.254', expected: /link-local/ },
  { name: 'IPv4-compatible loopback (::127.0.0.1)', address: '::7f00:1', expected: /IPv4-compatible/ },
  { name: 'NAT64 of the metadata address', address: '64:ff9b::a9fe:a9fe', expected: /NAT64/ },
  { name: '10/8', address: '10.1.2.3', expected: /private/ },
  { name: '172.16/12', address: '172.31.255.1', expected: /private/ },
  { name: 'just outside 172.16/12', address: '172.32.0.1', expected: true },
  { name: '192.168/16', address: '192.168.1.1', expected: /private/ },
  { name: '100.64/10', address: '100.100.100.200', expected: /carrier-grade/ },
  { name: 'unique local fc00::/7', address: 'fd12:3456::1', expected: /unique local/ },
  { name: '0.0.0.0 (reaches this machine)', address: '0.0.0.0', expected: /unspecified/ },
  { name: '0/8', address: '0.1.2.3', expected: /unspecified/ },
  { name: '::', address: '::', expected: /unspecified/ },
  { name: 'multicast', address: '224.0.0.1', expected: /multicast/ },
  { name: 'IPv6 multicast', address: 'ff02::1', expected: /multicast/ },
  { name: 'broadcast', address: '255.255.255.255', expected: /broadcast/ },
  { name: 'reserved 240/4', address: '240.0.0.1', expected: /reserved/ },
  { name: 'documentation 192.0.2/24', address: '192.0.2.10', expected: /reserved/ },
  { name: 'not an address', address: 'localhost', expected: /not an IP address/ },
  { name: 'a private address inside AUTHN_IDP_ALLOWED_NETWORKS', address: '10.20.3.4', allowed: ['10.20.0.0/16'], expected: true },
  { name: 'a private address outside AUTHN_IDP_ALLOWED_NETWORKS', address: '10.21.3.4', allowed: ['10.20.0.0/16'], expected: /private/ },
  { name: 'an IPv4-mapped address inside an allowed IPv4 network', address: '::ffff:10.20.3.4', allowed: ['10.20.0.0/16'], expected: true },
  { name: 'an allowed IPv6 network does not cover IPv4', address: '10.20.3.4', allowed: ['::/0'], expected: /private/ },
  {
    name: 'loopback for the loopback development provider on its own host',
    address: '127.0.0.1',
    host: 'localhost',
    provider: LOOPBACK_PROVIDER,
    expected: true,
  },
  { name: 'IPv6 loopback for the loopback development provider', address: '::1', host: 'localhost', provider: LOOPBACK_PROVIDER, expected: true },
  {
    name: "loopback for another host than the development provider's",
    address: '127.0.0.1',
    host: 'other.example',
    provider: LOOPBACK_PROVIDER,
    expected: /loopback/,
  },
  {
    name: 'link-local even for the loopback development provider',
    address: '169.254.169.254',
    host: 'localhost',
    provider: LOOPBACK_PROVIDER,
    expected: /link-local/,
  },
  { name: 'private even for the loopback development provider', address: '10.0.0.1', host: 'localhost', provider: LOOPBACK_PROVIDER, expected: /private/ },
];

for (const { name, address, host, provider, allowed, expected } of addresses) {
  test(`checkAddress: ${name}`, () => {
    const verdict = checkAddress(address, {
      host: host ?? 'idp.example.com',
      providerUrl: provider ?? PUBLIC_PROVIDER,
      allowedNetworks: new NetworkSet(allowed ?? []),
    });
    if (expected === true) assert.deepEqual(verdict, { allowed: true });
    else {
      assert.equal(verdict.allowed, false);
      assert.match((verdict as { reason: string }).reason, expected);
    }
  });
}

test('isLoopbackProvider: localhost, 127.x and [::1] only', () => {
  for (const url of ['http://localhost:9400', 'http://127.0.0.1:1', 'http://[::1]:8080', 'https://localhost']) assert.equal(isLoopbackProvider(url), true, url);
  for (const url of ['https://idp.example.com', 'http://127.evil.example', 'http://localhost.evil.example', 'not a url'])
    assert.equal(isLoopbackProvider(url), false, url);
});

const endpoints: Array<{ name: string; provider: string; endpoint: string; hosts?: string[]; expected: undefined | RegExp }> = [
  { name: 'same origin', provider: PUBLIC_PROVIDER, endpoint: 'https://idp.example.com/token', expected: undefined },
  { name: 'same origin with the default port written', provider: PUBLIC_PROVIDER, endpoint: 'https://idp.example.com:443/jwks', expected: undefined },
  { name: 'same host, case and trailing dot differ', provider: PUBLIC_PROVIDER, endpoint: 'https://IDP.example.com./jwks', expected: undefined },
  { name: 'another host', provider: PUBLIC_PROVIDER, endpoint: 'https://attacker.example/token', expected: /neither on the provider's own origin/ },
  { name: 'the metadata address', provider: PUBLIC_PROVIDER, endpoint: 'http://169.254.169.254/latest/meta-data', expected: /not https/ },
  { name: 'the same host over http', provider: PUBLIC_PROVIDER, endpoint: 'http://idp.example.com/token', expected: /not https/ },
  { name: 'the same host on another port', provider: PUBLIC_PROVIDER, endpoint: 'https://idp.example.com:8443/token', expected: /neither/ },
  {
    name: 'a host listed in AUTHN_IDP_ENDPOINT_HOSTS',
    provider: PUBLIC_PROVIDER,
    endpoint: 'https://keys.example.net/jwks',
    hosts: ['keys.example.net'],
    expected: undefined,
  },
  {
    name: 'a listed host on another port than 443',
    provider: PUBLIC_PROVIDER,
    endpoint: 'https://keys.example.net:8443/jwks',
    hosts: ['keys.example.net'],
    expected: /neither/,
  },
  {
    name: 'a listed host:port',
    provider: PUBLIC_PROVIDER,
    endpoint: 'https://keys.example.net:8443/jwks',
    hosts: ['keys.example.net:8443'],
    expected: undefined,
  },
  { name: 'a listed host over http', provider: PUBLIC_PROVIDER, endpoint: 'http://keys.example.net/jwks', hosts: ['keys.example.net'], expected: /not https/ },
  { name: 'credentials in the URL', provider: PUBLIC_PROVIDER, endpoint: 'https://user:pw@idp.example.com/token', expected: /credentials/ },
  {
    name: "Google's token endpoint for accounts.google.com",
    provider: 'https://accounts.google.com',
    endpoint: 'https://oauth2.googleapis.com/token',
    expected: undefined,
  },
  {
    name: "Google's JWKS for accounts.google.com",
    provider: 'https://accounts.google.com',
    endpoint: 'https://www.googleapis.com/oauth2/v3/certs',
    expected: undefined,
  },
  { name: "Google's hosts for another provider", provider: PUBLIC_PROVIDER, endpoint: 'https://oauth2.googleapis.com/token', expected: /neither/ },
  { name: "the loopback provider's own origin over http", provider: LOOPBACK_PROVIDER, endpoint: 'http://localhost:9400/token', expected: undefined },
  { name: 'another port of this machine', provider: LOOPBACK_PROVIDER, endpoint: 'http://localhost:6379/token', expected: /own origin only/ },
  { name: 'another loopback name for the same port', provider: LOOPBACK_PROVIDER, endpoint: 'http://127.0.0.1:9400/token', expected: /own origin only/ },
  {
    name: 'a listed host does not widen a loopback provider',
    provider: LOOPBACK_PROVIDER,
    endpoint: 'https://keys.example.net/jwks',
    hosts: ['keys.example.net'],
    expected: /own origin only/,
  },
];

for (const { name, provider, endpoint, hosts, expected } of endpoints) {
  test(`endpointProblem: ${name}`, () => {
    const problem = endpointProblem(provider, new URL(endpoint), { endpointHosts: hosts ?? [] });
    if (expected === undefined) assert.equal(problem, undefined);
    else assert.match(problem ?? '(allowed)', expected);
  });
}

test('endpointProblem never repeats a query or credentials in its message', () => {
  const problem = endpointProblem(PUBLIC_PROVIDER, new URL('https://user:secret@attacker.example/t?code=abc'), { endpointHosts: [] });
  assert.ok(problem);
  assert.doesNotMatch(problem, /secret|code=abc/);
});
