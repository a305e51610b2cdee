import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ExternalNetworkObject } from '@microseg/contracts';
import { entryMatches, externalNetworksFor, portMatches, type NetworkTarget, type Protocol } from './external-networks.ts';

const entryCases: Array<{ name: string; entry: string; target: NetworkTarget; expected: boolean }> = [
  // IPv4 CIDR
  { name: 'IPv4 CIDR contains', entry: '10.0.0.0/8', target: { ip: '10.1.2.3' }, expected: true },
  { name: 'IPv4 CIDR first address', entry: '10.0.0.0/8', target: { ip: '10.0.0.0' }, expected: true },
  { name: 'IPv4 CIDR last address', entry: '10.0.0.0/8', target: { ip: '10.255.255.255' }, expected: true },
  { name: 'IPv4 CIDR outside', entry: '10.0.0.0/8', target: { ip: '11.0.0.1' }, expected: false },
  { name: 'IPv4 CIDR /32', entry: '192.168.1.7/32', target: { ip: '192.168.1.7' }, expected: true },
  { name: 'IPv4 CIDR /32 neighbour', entry: '192.168.1.7/32', target: { ip: '192.168.1.8' }, expected: false },
  { name: 'IPv4 /0 matches every IPv4', entry: '0.0.0.0/0', target: { ip: '203.0.113.9' }, expected: true },
  { name: 'IPv4 /0 does not match IPv6', entry: '0.0.0.0/0', target: { ip: '2001:db8::1' }, expected: false },
  { name: 'CIDR with host bits set is masked', entry: '10.1.2.3/8', target: { ip: '10.200.0.1' }, expected: true },
  { name: 'IPv4 CIDR, IPv4-mapped IPv6 peer', entry: '10.0.0.0/8', target: { ip: '::ffff:10.1.2.3' }, expected: true },
  { name: 'IPv4 CIDR, no address, only a name', entry: '10.0.0.0/8', target: { host: 'ten.example.com' }, expected: false },
  { name: 'IPv4 CIDR, IP literal given as host', entry: '127.0.0.0/8', target: { host: '127.0.0.1' }, expected: true },
  // IPv6 CIDR
  { name: 'IPv6 CIDR contains', entry: '2001:db8::/32', target: { ip: '2001:db8:1::42' }, expected: true },
  { name: 'IPv6 CIDR, uppercase and long form', entry: '2001:db8::/32', target: { ip: '2001:DB8:0:0:0:0:0:1' }, expected: true },
  { name: 'IPv6 CIDR outside', entry: '2001:db8::/32', target: { ip: '2001:db9::1' }, expected: false },
  { name: 'IPv6 CIDR does not match IPv4', entry: '::/0', target: { ip: '10.0.0.1' }, expected: false },
  { name: 'IPv6 CIDR, bracketed host', entry: 'fd00::/8', target: { host: '[fd12::5]' }, expected: true },
  { name: 'IPv6 CIDR, zone id dropped', entry: 'fe80::/10', target: { ip: 'fe80::1%eth0' }, expected: true },
  // exact IP
  { name: 'exact IPv4', entry: '127.0.0.1', target: { ip: '127.0.0.1' }, expected: true },
  { name: 'exact IPv4 other', entry: '127.0.0.1', target: { ip: '127.0.0.2' }, expected: false },
  { name: 'exact IPv6, different spelling', entry: '::1', target: { ip: '0:0:0:0:0:0:0:1' }, expected: true },
  { name: 'exact IPv4, mapped peer', entry: '127.0.0.1', target: { ip: '::ffff:127.0.0.1' }, expected: true },
  { name: 'exact IP does not match a name (no resolution)', entry: '127.0.0.1', target: { host: 'localhost' }, expected: false },
  // DNS names
  { name: 'exact name', entry: 'idp.example.com', target: { host: 'idp.example.com' }, expected: true },
  { name: 'exact name, case-insensitive', entry: 'IdP.Example.com', target: { host: 'idp.EXAMPLE.com' }, expected: true },
  { name: 'exact name, trailing dot on host', entry: 'idp.example.com', target: { host: 'idp.example.com.' }, expected: true },
  { name: 'exact name, trailing dot on entry', entry: 'idp.example.com.', target: { host: 'idp.example.com' }, expected: true },
  { name: 'exact name is not a suffix match', entry: 'example.com', target: { host: 'idp.example.com' }, expected: false },
  { name: 'exact name is not a prefix match', entry: 'idp.example.com', target: { host: 'idp.example.com.evil.net' }, expected: false },
  { name: 'name does not match an address', entry: 'localhost', target: { ip: '127.0.0.1' }, expected: false },
  { name: 'localhost', entry: 'localhost', target: { host: 'localhost' }, expected: true },
  { name: 'name matches when host or address does', entry: 'idp.example.com', target: { host: 'idp.example.com', ip: '10.9.9.9' }, expected: true },
  { name: 'address matches when host or address does', entry: '10.0.0.0/8', target: { host: 'idp.example.com', ip: '10.9.9.9' }, expected: true },
  // wildcards
  { name: 'wildcard, one level', entry: '*.example.com', target: { host: 'api.example.com' }, expected: true },
  { name: 'wildcard, any depth', entry: '*.example.com', target: { host: 'a.b.c.example.com' }, expected: true },
  { name: 'wildcard, not the apex', entry: '*.example.com', target: { host: 'example.com' }, expected: false },
  { name: 'wildcard, not a lookalike', entry: '*.example.com', target: { host: 'badexample.com' }, expected: false },
  { name: 'wildcard, case-insensitive with trailing dot', entry: '*.Example.com', target: { host: 'API.example.COM.' }, expected: true },
  { name: 'wildcard, not another domain', entry: '*.example.com', target: { host: 'example.com.evil.net' }, expected: false },
  { name: 'wildcard does not match an address', entry: '*.example.com', target: { ip: '10.0.0.1' }, expected: false },
  // nothing to match / malformed
  { name: 'empty target', entry: '10.0.0.0/8', target: {}, expected: false },
  { name: 'empty target, name entry', entry: 'example.com', target: {}, expected: false },
  { name: 'malformed CIDR prefix', entry: '10.0.0.0/33', target: { ip: '10.0.0.1' }, expected: false },
  { name: 'malformed CIDR base', entry: 'ten/8', target: { ip: '10.0.0.1' }, expected: false },
  { name: 'bare wildcard', entry: '*', target: { host: 'anything' }, expected: false },
];

for (const { name, entry, target, expected } of entryCases) {
  test(`entryMatches: ${name}`, () => {
    assert.equal(entryMatches(entry, target), expected);
  });
}

const portCases: Array<{ name: string; servicePorts: string[]; protocol: Protocol; port: number; expected: boolean }> = [
  { name: 'any, tcp', servicePorts: ['any'], protocol: 'tcp', port: 1, expected: true },
  { name: 'any, udp', servicePorts: ['any'], protocol: 'udp', port: 53, expected: true },
  { name: 'exact port', servicePorts: ['tcp/443'], protocol: 'tcp', port: 443, expected: true },
  { name: 'other port', servicePorts: ['tcp/443'], protocol: 'tcp', port: 444, expected: false },
  { name: 'other protocol', servicePorts: ['tcp/53'], protocol: 'udp', port: 53, expected: false },
  { name: 'udp port', servicePorts: ['udp/53'], protocol: 'udp', port: 53, expected: true },
  { name: 'range start inclusive', servicePorts: ['tcp/80:100'], protocol: 'tcp', port: 80, expected: true },
  { name: 'range end inclusive', servicePorts: ['tcp/80:100'], protocol: 'tcp', port: 100, expected: true },
  { name: 'range inside', servicePorts: ['tcp/80:100'], protocol: 'tcp', port: 90, expected: true },
  { name: 'below range', servicePorts: ['tcp/80:100'], protocol: 'tcp', port: 79, expected: false },
  { name: 'above range', servicePorts: ['tcp/80:100'], protocol: 'tcp', port: 101, expected: false },
  { name: 'second item matches', servicePorts: ['tcp/443', 'udp/53'], protocol: 'udp', port: 53, expected: true },
  { name: 'case and whitespace tolerated', servicePorts: [' TCP/443 '], protocol: 'tcp', port: 443, expected: true },
  { name: 'empty list matches nothing', servicePorts: [], protocol: 'tcp', port: 443, expected: false },
  { name: 'malformed item matches nothing', servicePorts: ['tcp/https'], protocol: 'tcp', port: 443, expected: false },
];

for (const { name, servicePorts, protocol, port, expected } of portCases) {
  test(`portMatches: ${name}`, () => {
    assert.equal(portMatches(servicePorts, protocol, port), expected);
  });
}

function net(name: string, namespace: string, entries: string[], servicePorts: string[], propagate = false): ExternalNetworkObject {
  return { kind: 'externalnetwork', ID: `id-${name}`, name, namespace, entries, servicePorts, associatedTags: [`ext:name=${name}`], propagate };
}

const networks: ExternalNetworkObject[] = [
  net('idp', '/acme/team-b/dev', ['localhost', '127.0.0.1'], ['tcp/9400']),
  net('corp', '/acme', ['10.0.0.0/8'], ['any'], true),
  net('corp-private', '/acme', ['10.0.0.0/8'], ['any'], false),
  net('web', '/', ['*.example.com'], ['tcp/443', 'tcp/80'], true),
  net('dns', '/', ['8.8.8.8', '2001:4860:4860::8888'], ['udp/53'], true),
  net('other-team', '/acme/team-a', ['0.0.0.0/0'], ['any'], true),
];

const scopeCases: Array<{ name: string; namespace: string; target: NetworkTarget & { protocol: Protocol; port: number }; expected: string[] }> = [
  { name: 'same namespace, by name', namespace: '/acme/team-b/dev', target: { host: 'localhost', protocol: 'tcp', port: 9400 }, expected: ['idp'] },
  { name: 'same namespace, by address', namespace: '/acme/team-b/dev', target: { ip: '127.0.0.1', protocol: 'tcp', port: 9400 }, expected: ['idp'] },
  {
    name: 'non-propagated network not in a child',
    namespace: '/acme/team-b/dev/private-app',
    target: { host: 'localhost', protocol: 'tcp', port: 9400 },
    expected: [],
  },
  { name: 'wrong port', namespace: '/acme/team-b/dev', target: { host: 'localhost', protocol: 'tcp', port: 9401 }, expected: [] },
  { name: 'wrong protocol', namespace: '/acme/team-b/dev', target: { host: 'localhost', protocol: 'udp', port: 9400 }, expected: [] },
  {
    name: 'propagated from ancestor; the non-propagated one only in its own namespace',
    namespace: '/acme/team-b',
    target: { ip: '10.1.2.3', protocol: 'tcp', port: 22 },
    expected: ['corp'],
  },
  { name: 'both in their own namespace', namespace: '/acme', target: { ip: '10.1.2.3', protocol: 'tcp', port: 22 }, expected: ['corp', 'corp-private'] },
  { name: 'not in scope above its namespace', namespace: '/', target: { ip: '10.1.2.3', protocol: 'tcp', port: 22 }, expected: [] },
  { name: 'sibling namespace not in scope', namespace: '/acme/team-b', target: { ip: '192.0.2.1', protocol: 'tcp', port: 22 }, expected: [] },
  { name: 'prefix-lookalike namespace not in scope', namespace: '/acme/team-ab', target: { ip: '192.0.2.1', protocol: 'tcp', port: 22 }, expected: [] },
  { name: 'root propagated wildcard', namespace: '/acme/team-b/dev', target: { host: 'www.example.com', protocol: 'tcp', port: 443 }, expected: ['web'] },
  { name: 'root propagated, IPv6 udp', namespace: '/acme', target: { ip: '2001:4860:4860::8888', protocol: 'udp', port: 53 }, expected: ['dns'] },
  { name: 'several match', namespace: '/acme/team-a', target: { ip: '10.0.0.1', protocol: 'tcp', port: 443 }, expected: ['corp', 'other-team'] },
];

for (const { name, namespace, target, expected } of scopeCases) {
  test(`externalNetworksFor: ${name}`, () => {
    assert.deepEqual(
      externalNetworksFor(networks, namespace, target).map((n) => n.name),
      expected,
    );
  });
}
