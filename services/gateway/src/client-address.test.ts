import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClientAddresses, MAX_FORWARDED_HOPS } from './client-address.ts';

const lb = new ClientAddresses(['10.0.0.0/8', 'fd00::/8']);

test('without trusted proxies the peer is the client, whatever the header says', () => {
  const none = new ClientAddresses([]);
  assert.deepEqual(none.resolve('203.0.113.9', '198.51.100.1'), { address: '203.0.113.9', forwardedFor: '203.0.113.9' });
  assert.deepEqual(none.resolve('::ffff:203.0.113.9', undefined), { address: '203.0.113.9', forwardedFor: '203.0.113.9' });
});

test('an untrusted peer cannot choose its address with X-Forwarded-For', () => {
  assert.deepEqual(lb.resolve('203.0.113.9', '10.1.1.1, 198.51.100.1'), { address: '203.0.113.9', forwardedFor: '203.0.113.9' });
});

test('a trusted peer: the right-most address that is not a trusted proxy is the client', () => {
  assert.deepEqual(lb.resolve('10.0.0.5', '198.51.100.7'), { address: '198.51.100.7', forwardedFor: '198.51.100.7, 10.0.0.5' });
  // Two trusted hops (balancer → ingress → gateway); the spoofed entry on the left is not believed.
  assert.deepEqual(lb.resolve('10.0.0.5', '1.1.1.1, 198.51.100.7, 10.9.9.9'), { address: '198.51.100.7', forwardedFor: '198.51.100.7, 10.9.9.9, 10.0.0.5' });
  // Several header lines are one list.
  assert.deepEqual(lb.resolve('10.0.0.5', ['1.1.1.1', '198.51.100.7']), { address: '198.51.100.7', forwardedFor: '198.51.100.7, 10.0.0.5' });
});

test('entries with ports, IPv6 and IPv4-mapped forms are one written form', () => {
  assert.equal(lb.resolve('10.0.0.5', '198.51.100.7:51234').address, '198.51.100.7');
  assert.equal(lb.resolve('10.0.0.5', '[2001:DB8::1]:443').address, '2001:db8::1');
  assert.equal(lb.resolve('::ffff:10.0.0.5', '::ffff:198.51.100.7').address, '198.51.100.7');
  assert.equal(lb.resolve('fd00::1', '2001:db8::2').address, '2001:db8::2');
});

test('a hop that is not an address stops the walk at the last known address', () => {
  assert.deepEqual(lb.resolve('10.0.0.5', '198.51.100.7, unknown'), { address: '10.0.0.5', forwardedFor: '10.0.0.5' });
  assert.deepEqual(lb.resolve('10.0.0.5', 'unknown, 10.2.2.2'), { address: '10.2.2.2', forwardedFor: '10.2.2.2, 10.0.0.5' });
  assert.deepEqual(lb.resolve('10.0.0.5', ''), { address: '10.0.0.5', forwardedFor: '10.0.0.5' });
});

test('only trusted hops all the way: the left-most is the client', () => {
  assert.equal(lb.resolve('10.0.0.5', '10.3.3.3, 10.2.2.2').address, '10.3.3.3');
});

test('a very long chain is read only so far from the right', () => {
  const chain = Array.from({ length: 1000 }, (_, i) => `10.0.${Math.floor(i / 250)}.${i % 250}`);
  const resolved = lb.resolve('10.0.0.5', ['198.51.100.7', ...chain].join(','));
  assert.equal(resolved.forwardedFor.split(', ').length, MAX_FORWARDED_HOPS + 1);
  assert.notEqual(resolved.address, '198.51.100.7');
});
