// Who may ask the forward-auth port: the TCP peer against GATEWAY_FORWARD_AUTH_TRUSTED_PROXIES, nothing else.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isTrustedPeer, parseTrustedProxies, plainAddress } from './trust.ts';

test('CIDRs and single addresses of both families; an IPv4 peer seen as ::ffff:a.b.c.d is its IPv4 address', () => {
  const trusted = parseTrustedProxies(['127.0.0.1', '10.0.0.0/8', 'fd00::/8', '::ffff:192.168.0.0/112']);
  for (const peer of ['127.0.0.1', '::ffff:127.0.0.1', '10.200.3.4', 'fd00::17', '192.168.44.1', '::ffff:192.168.44.1'])
    assert.equal(isTrustedPeer(trusted, peer), true, peer);
  for (const peer of ['127.0.0.2', '11.0.0.1', '::1', 'fe80::1', '192.169.0.1']) assert.equal(isTrustedPeer(trusted, peer), false, peer);
});

test('fail closed: nobody is trusted by an empty list, and a peer whose address cannot be read never is', () => {
  const none = parseTrustedProxies([]);
  assert.equal(isTrustedPeer(none, '127.0.0.1'), false);
  const all = parseTrustedProxies(['0.0.0.0/0', '::/0']);
  assert.equal(isTrustedPeer(all, undefined), false);
  assert.equal(isTrustedPeer(all, ''), false);
  assert.equal(isTrustedPeer(all, 'localhost'), false);
});

test('an entry that is not a CIDR or an address is named', () => {
  for (const entry of ['10.0.0.0/33', '::/129', '10.0.0.0/', '10.0.0.0/x', 'gateway.internal', '10.0.0.256', '*']) {
    assert.throws(() => parseTrustedProxies(['127.0.0.1', entry]), new RegExp(JSON.stringify(entry).replace(/[.*/[\]]/g, '\\$&')), entry);
  }
});

test('plain addresses: brackets dropped, IPv6 in lower case, names refused', () => {
  assert.deepEqual(plainAddress('[FD00::1]'), { address: 'fd00::1', family: 'ipv6' });
  assert.deepEqual(plainAddress('::FFFF:10.1.2.3'), { address: '10.1.2.3', family: 'ipv4' });
  assert.equal(plainAddress('example.com'), undefined);
});
