import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect as netConnect, type AddressInfo } from 'node:net';
import { createServer } from 'node:https';
import { connect as tlsConnect } from 'node:tls';
import selfsigned from 'selfsigned';
import {
  Command,
  IPv4Address,
  IPv4ProxyAddress,
  IPv6Address,
  IPv6ProxyAddress,
  TransportProtocol,
  UnspecProxyAddress,
  V2ProxyProtocol,
} from 'proxy-protocol-js';
import { parseProxyHeader, ProxyProtocol, ProxyProtocolError, V1_MAX, V2_MAX } from './proxy-protocol.ts';

const v1 = (line: string) => Buffer.from(line, 'latin1');
const v2 = (command: Command, address: IPv4ProxyAddress | IPv6ProxyAddress | UnspecProxyAddress, tlvs?: Uint8Array) =>
  Buffer.from(new V2ProxyProtocol(command, TransportProtocol.STREAM, address, tlvs).build());
const v4 = (a: number[], port: number, b: number[]) => new IPv4ProxyAddress(IPv4Address.createFrom(a), port, IPv4Address.createFrom(b), 443);

test('v1: TCP4, TCP6 and UNKNOWN; the bytes after the line are not the header', () => {
  assert.deepEqual(parseProxyHeader(v1('PROXY TCP4 198.51.100.4 10.0.0.1 5555 443\r\n\x16\x03\x01')), { source: '198.51.100.4', length: 43 });
  assert.deepEqual(parseProxyHeader(v1('PROXY TCP6 2001:DB8::7 fd00::1 5555 443\r\n')), { source: '2001:db8::7', length: 41 });
  assert.deepEqual(parseProxyHeader(v1('PROXY UNKNOWN\r\n')), { source: undefined, length: 15 });
  assert.deepEqual(parseProxyHeader(v1('PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n')), { source: undefined, length: 59 });
});

test('v1: a line that is not exactly right is refused', () => {
  for (const line of [
    'PROXY TCP4 999.51.100.4 10.0.0.1 5555 443\r\n', // not an address
    'PROXY TCP4 2001:db8::7 10.0.0.1 5555 443\r\n', // the wrong family
    'PROXY TCP6 198.51.100.4 fd00::1 5555 443\r\n',
    'PROXY TCP4 ::ffff:198.51.100.4 10.0.0.1 5555 443\r\n',
    'PROXY TCP4 198.51.100.4 10.0.0.1 70000 443\r\n', // port out of range
    'PROXY TCP4 198.51.100.4 10.0.0.1 0555 443\r\n',
    'PROXY TCP4 198.51.100.4  10.0.0.1 5555 443\r\n', // two spaces
    'PROXY UDP4 198.51.100.4 10.0.0.1 5555 443\r\n',
    'proxy TCP4 198.51.100.4 10.0.0.1 5555 443\r\n',
    'GET / HTTP/1.1\r\n',
    '\x16\x03\x01\x02\x00',
  ])
    assert.throws(() => parseProxyHeader(v1(line)), ProxyProtocolError, JSON.stringify(line));
});

test('v1: incomplete until its CRLF, and never longer than the protocol allows', () => {
  assert.equal(parseProxyHeader(v1('PRO')), 'incomplete');
  assert.equal(parseProxyHeader(v1('PROXY TCP4 198.51.100.4')), 'incomplete');
  assert.throws(() => parseProxyHeader(v1(`PROXY TCP4 ${'1'.repeat(V1_MAX)}`)), /longer than 107/);
  assert.throws(() => parseProxyHeader(v1(`PROXY UNKNOWN ${'x'.repeat(100)}\r\n`)), /longer than 107/);
});

test('v2: IPv4 and IPv6 sources; LOCAL and UNSPEC leave the peer standing; TLVs are skipped', () => {
  const ipv4 = v2(Command.PROXY, v4([198, 51, 100, 4], 5555, [10, 0, 0, 1]));
  assert.deepEqual(parseProxyHeader(Buffer.concat([ipv4, Buffer.from([0x16, 0x03])])), { source: '198.51.100.4', length: ipv4.length });
  const six = new IPv6ProxyAddress(
    IPv6Address.createFrom([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7]),
    5555,
    IPv6Address.createWithEmptyAddress(),
    443,
  );
  assert.equal((parseProxyHeader(v2(Command.PROXY, six)) as { source: string }).source, '2001:db8::7');
  const mapped = new IPv6ProxyAddress(
    IPv6Address.createFrom([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 51, 100, 4]),
    1,
    IPv6Address.createWithEmptyAddress(),
    443,
  );
  assert.equal((parseProxyHeader(v2(Command.PROXY, mapped)) as { source: string }).source, '198.51.100.4');
  assert.equal((parseProxyHeader(v2(Command.LOCAL, v4([198, 51, 100, 4], 1, [10, 0, 0, 1]))) as { source?: string }).source, undefined);
  assert.equal((parseProxyHeader(v2(Command.PROXY, new UnspecProxyAddress())) as { source?: string }).source, undefined);
  // A TLV (type 4, NOOP) after the addresses, counted in the length as balancers send it.
  const base = v2(Command.PROXY, v4([198, 51, 100, 4], 1, [10, 0, 0, 1]));
  const withTlv = Buffer.concat([base, Buffer.from([0x04, 0x00, 0x03, 0x61, 0x62, 0x63])]);
  withTlv.writeUInt16BE(base.readUInt16BE(14) + 6, 14);
  assert.deepEqual(parseProxyHeader(withTlv), { source: '198.51.100.4', length: withTlv.length });
});

test('v2: incomplete until its length; too long, a bad signature or version refused', () => {
  const full = v2(Command.PROXY, v4([198, 51, 100, 4], 1, [10, 0, 0, 1]));
  for (let cut = 1; cut < full.length; cut++) assert.equal(parseProxyHeader(full.subarray(0, cut)), 'incomplete', `cut at ${cut}`);
  const huge = Buffer.from(full);
  huge.writeUInt16BE(V2_MAX, 14);
  assert.throws(() => parseProxyHeader(huge), /longer than/);
  const badSig = Buffer.from(full);
  badSig[5] = 0x00 ^ 0xff;
  assert.throws(() => parseProxyHeader(badSig), ProxyProtocolError);
  const badVersion = Buffer.from(full);
  badVersion[12] = 0x31;
  assert.throws(() => parseProxyHeader(badVersion), /malformed PROXY v2/);
});

// A real TLS server behind the front, as the gateway's listeners run it.
async function harness(sources: string[]) {
  const pems = await selfsigned.generate([{ name: 'commonName', value: 'localhost' }], { keySize: 2048 });
  const refused: string[] = [];
  const proxy = new ProxyProtocol({ sources, ports: [], timeoutMs: 300 }, (_peer, reason) => refused.push(reason));
  const tls = createServer({ key: pems.private, cert: pems.cert }, (req, res) => res.end(`peer=${proxy.peers.peerOf(req.socket)}`));
  const front = proxy.front(tls);
  front.listen(0, '127.0.0.1');
  await once(front, 'listening');
  const port = (front.address() as AddressInfo).port;
  /** Sends `preface` and then a TLS request on one connection; resolves with the body, or 'closed'. */
  const ask = async (preface: Buffer | undefined): Promise<string> => {
    const raw = netConnect(port, '127.0.0.1');
    await once(raw, 'connect');
    raw.cork();
    if (preface) raw.write(preface);
    const client = tlsConnect({ socket: raw, rejectUnauthorized: false, servername: 'localhost' });
    raw.uncork();
    return new Promise((resolve) => {
      let body = '';
      client.on('secureConnect', () => client.write('GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'));
      client.on('data', (d: Buffer) => (body += d.toString()));
      client.on('error', () => resolve('closed'));
      client.on('close', () => resolve(/peer=/.test(body) ? body.slice(body.indexOf('peer=')) : 'closed'));
    });
  };
  return { proxy, ask, refused, port, close: () => (front.close(), tls.close(), tls.closeAllConnections()) };
}

test('a required source: its header gives the peer, with the TLS bytes in the same packet', async () => {
  const h = await harness(['127.0.0.1']);
  try {
    assert.equal(await h.ask(v1('PROXY TCP4 198.51.100.4 10.0.0.1 5555 443\r\n')), 'peer=198.51.100.4');
    assert.equal(await h.ask(v2(Command.PROXY, v4([203, 0, 113, 9], 5555, [10, 0, 0, 1]))), 'peer=203.0.113.9');
    // LOCAL (the balancer's own health check): the balancer is the peer.
    assert.equal(await h.ask(v2(Command.LOCAL, v4([203, 0, 113, 9], 5555, [10, 0, 0, 1]))), 'peer=127.0.0.1');
    assert.equal(h.proxy.peers.size, 0, 'forgotten when the connection closes');
  } finally {
    h.close();
  }
});

test('a required source without a valid header is closed: none, a bad one, or too slow', async () => {
  const h = await harness(['127.0.0.1']);
  try {
    assert.equal(await h.ask(undefined), 'closed');
    assert.equal(await h.ask(v1('PROXY TCP4 198.51.100.4 10.0.0.1 99999 443\r\n')), 'closed');
    // Half a header, then nothing: closed by the gateway when the time is up, not held open.
    const raw = netConnect(h.port, '127.0.0.1');
    await once(raw, 'connect');
    raw.write('PROXY TCP4 198.');
    raw.resume();
    await once(raw, 'close');
    assert.deepEqual(h.refused, ['no PROXY protocol header', 'PROXY v1 port out of range', 'no PROXY header within 300 ms']);
  } finally {
    h.close();
  }
});

test('a peer not in the sources cannot use the header to claim an address: its connection is plain TLS', async () => {
  const h = await harness(['192.0.2.0/24']);
  try {
    assert.equal(await h.ask(undefined), 'peer=127.0.0.1');
    assert.equal(await h.ask(v1('PROXY TCP4 198.51.100.4 10.0.0.1 5555 443\r\n')), 'closed');
  } finally {
    h.close();
  }
});

test('which listeners take it: only with sources; on the listed ports, or every one', () => {
  assert.equal(new ProxyProtocol({ sources: [], ports: [], timeoutMs: 1 }).appliesTo(443), false);
  assert.equal(new ProxyProtocol({ sources: ['10.0.0.0/8'], ports: [], timeoutMs: 1 }).appliesTo(443), true);
  const some = new ProxyProtocol({ sources: ['10.0.0.0/8'], ports: [8443], timeoutMs: 1 });
  assert.equal(some.appliesTo(8443), true);
  assert.equal(some.appliesTo(443), false);
});
