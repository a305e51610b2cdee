import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NetworkSet, normaliseIp } from './networks.ts';

test('CIDRs and single addresses, IPv4 and IPv6', () => {
  const set = new NetworkSet(['10.0.0.0/8', '192.168.1.7', 'fd00:1::/64']);
  assert.equal(set.has('10.200.3.4'), true);
  assert.equal(set.has('11.0.0.1'), false);
  assert.equal(set.has('192.168.1.7'), true);
  assert.equal(set.has('192.168.1.8'), false);
  assert.equal(set.has('fd00:1::5'), true);
  assert.equal(set.has('fd00:2::5'), false);
});

test('an IPv4-mapped IPv6 peer is its IPv4 address, on either side', () => {
  assert.equal(new NetworkSet(['10.0.0.0/8']).has('::ffff:10.1.2.3'), true);
  assert.equal(new NetworkSet(['::ffff:10.0.0.0/104']).has('10.1.2.3'), true);
  assert.equal(new NetworkSet(['::ffff:10.0.0.0/104']).has('11.1.2.3'), false);
});

test('what is not an address is never in a set', () => {
  const set = new NetworkSet(['0.0.0.0/0', '::/0']);
  for (const text of ['', 'unknown', '10.0.0.1:443', '1.2.3', 'example.com', '_hidden']) assert.equal(set.has(text), false, text);
  assert.equal(set.has('[2001:db8::1]'), true);
  assert.equal(new NetworkSet([]).has('10.0.0.1'), false);
  assert.equal(new NetworkSet([]).empty, true);
});

test('a bad entry is named', () => {
  assert.throws(() => new NetworkSet(['10.0.0.0/8', 'ten']), /"ten" is not a CIDR or an IP address/);
  assert.throws(() => new NetworkSet(['10.0.0.0/33']), /prefix longer than the address/);
  assert.throws(() => new NetworkSet(['10.0.0.0/x']), /not a CIDR/);
});

test('one written form per address', () => {
  assert.equal(normaliseIp('::ffff:127.0.0.1'), '127.0.0.1');
  assert.equal(normaliseIp('[2001:DB8::1]'), '2001:db8::1');
  assert.equal(normaliseIp('2001:0db8:0:0::1'), '2001:db8::1');
  assert.equal(normaliseIp('nope'), undefined);
});
