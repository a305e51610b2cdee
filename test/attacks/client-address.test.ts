// The client's real address behind proxies (SPEC §3.4), end to end: X-Forwarded-For from a trusted proxy and
// the PROXY protocol from a required source decide network policies and flows, and reach the application;
// the same headers from anyone else are not believed.
// The gateway listens on 127.0.0.1; this test connects from 127.0.0.1 (a trusted proxy) and from 127.0.0.2
// (a load balancer that must speak the PROXY protocol), both loopback addresses on Linux.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp } from 'node:fs/promises';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { Command, IPv4Address, IPv4ProxyAddress, TransportProtocol, V2ProxyProtocol } from 'proxy-protocol-js';
import { loginWithHttp, startCluster, waitFor, type Cluster, policyApi } from '@microseg/testkit';

const NS = '/acme/team-b/dev/private-app';
let cluster: Cluster;

before(async () => {
  cluster = await startCluster({
    dataDir: await mkdtemp(join(tmpdir(), 'microseg-client-address-')),
    isolated: true,
    env: { GATEWAY_TRUSTED_PROXIES: '127.0.0.1', GATEWAY_PROXY_PROTOCOL_SOURCES: '127.0.0.2', GATEWAY_PROXY_PROTOCOL_TIMEOUT_MS: '500' },
  });
});

after(async () => {
  await cluster?.stop();
});

const api = policyApi(() => cluster, NS);

/** One HTTP/1.1 request over TLS from `localAddress`, after `preface` (a PROXY header); the status, or 'closed'. */
async function get(options: { localAddress: string; preface?: Buffer | string; path?: string; headers?: Record<string, string> }): Promise<number | 'closed'> {
  const raw = netConnect({ port: cluster.ports.gateway, host: '127.0.0.1', localAddress: options.localAddress });
  await once(raw, 'connect');
  raw.cork();
  if (options.preface) raw.write(options.preface);
  const socket = tlsConnect({ socket: raw, servername: 'localhost', rejectUnauthorized: false });
  raw.uncork();
  return new Promise((resolve) => {
    let text = '';
    socket.on('secureConnect', () => {
      const headers = Object.entries({ host: 'localhost', connection: 'close', ...options.headers }).map(([k, v]) => `${k}: ${v}\r\n`);
      socket.write(`GET ${options.path ?? '/public/hello'} HTTP/1.1\r\n${headers.join('')}\r\n`);
    });
    socket.on('data', (d: Buffer) => (text += d.toString()));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      const status = /^HTTP\/1\.1 (\d{3})/.exec(text);
      resolve(status ? Number(status[1]) : 'closed');
    });
  });
}

const proxyV1 = (source: string) => `PROXY TCP4 ${source} 127.0.0.1 40000 443\r\n`;
const proxyV2 = (source: number[]) =>
  Buffer.from(
    new V2ProxyProtocol(
      Command.PROXY,
      TransportProtocol.STREAM,
      new IPv4ProxyAddress(IPv4Address.createFrom(source), 40000, IPv4Address.createFrom([127, 0, 0, 1]), 443),
    ).build(),
  );

type Flow = { action: string; dropReason: string; source: { ip: string }; destination: { type: string } };
async function flowsFrom(ip: string): Promise<Flow[]> {
  const res = await fetch(`${cluster.flowlogUrl}/api/v1/flows?namespace=${NS}&limit=500`, { headers: { authorization: `Bearer ${cluster.adminToken}` } });
  return ((await res.json()) as { flows: Flow[] }).flows.filter((f) => f.source.ip === ip);
}

test('a network policy rejecting 198.51.100.0/24 sees the address the trusted proxy or the balancer gives, and only theirs', async () => {
  assert.equal(
    (
      await api('POST', '/externalnetworks', {
        name: 'test-net',
        entries: ['198.51.100.0/24'],
        servicePorts: ['any'],
        associatedTags: ['ext:name=test-net'],
      })
    ).status,
    201,
  );
  const policy = await api('POST', '/networkaccesspolicies', {
    name: 'block-test-net',
    action: 'Reject',
    applyPolicyMode: 'IncomingTraffic',
    subject: [['ext:name=test-net']],
    object: [['$identity=processingunit', 'type=private-app']],
  });
  assert.equal(policy.status, 201, JSON.stringify(policy.body));
  await waitFor(
    'the Reject policy applies to forwarded addresses',
    async () => (await get({ localAddress: '127.0.0.1', headers: { 'x-forwarded-for': '198.51.100.7' } })) === 403,
  );

  // From the trusted proxy: the right-most untrusted hop is the client, a spoofed left entry is not.
  assert.equal(await get({ localAddress: '127.0.0.1', headers: { 'x-forwarded-for': '198.51.100.7, 127.0.0.1' } }), 403);
  assert.equal(await get({ localAddress: '127.0.0.1', headers: { 'x-forwarded-for': '198.51.100.7, 203.0.113.5' } }), 200);
  assert.equal(await get({ localAddress: '127.0.0.1' }), 200);
  // From the balancer: its PROXY header, v1 or v2, is the address.
  assert.equal(await get({ localAddress: '127.0.0.2', preface: proxyV1('198.51.100.9') }), 403);
  assert.equal(await get({ localAddress: '127.0.0.2', preface: proxyV2([198, 51, 100, 9]) }), 403);
  assert.equal(await get({ localAddress: '127.0.0.2', preface: proxyV2([203, 0, 113, 5]) }), 200);
  // The balancer's connection without its header is closed; X-Forwarded-For from it is not believed (not a trusted proxy).
  assert.equal(await get({ localAddress: '127.0.0.2' }), 'closed');
  assert.equal(await get({ localAddress: '127.0.0.2', preface: proxyV1('203.0.113.5'), headers: { 'x-forwarded-for': '198.51.100.7' } }), 200);

  // Flows carry the client's address.
  await waitFor('rejected flows from 198.51.100.7 and .9', async () => {
    const seven = await flowsFrom('198.51.100.7');
    const nine = await flowsFrom('198.51.100.9');
    return seven.some((f) => f.action === 'Reject') && nine.filter((f) => f.action === 'Reject').length >= 1;
  });
  assert.equal((await api('DELETE', '/networkaccesspolicies/block-test-net')).status, 200);
});

test('anyone else cannot choose an address: X-Forwarded-For from an untrusted peer, a PROXY header from a peer not in the sources', async () => {
  // 127.0.0.3 is neither a trusted proxy nor a PROXY protocol source.
  const blocked = await api('POST', '/networkaccesspolicies', {
    name: 'block-test-net-2',
    action: 'Reject',
    applyPolicyMode: 'IncomingTraffic',
    subject: [['ext:name=test-net']],
    object: [['$identity=processingunit', 'type=private-app']],
  });
  assert.equal(blocked.status, 201, JSON.stringify(blocked.body));
  await waitFor('the Reject policy applies', async () => (await get({ localAddress: '127.0.0.1', headers: { 'x-forwarded-for': '198.51.100.7' } })) === 403);
  // Were 127.0.0.3 believed when it says it is 198.51.100.7, it would be refused: it is not, its own address decides.
  assert.equal(await get({ localAddress: '127.0.0.3', headers: { 'x-forwarded-for': '198.51.100.7' } }), 200);
  assert.equal(await get({ localAddress: '127.0.0.3', headers: { 'x-forwarded-for': '198.51.100.7, 127.0.0.1' } }), 200);
  await waitFor('accepted flows from 127.0.0.3 itself', async () => (await flowsFrom('127.0.0.3')).filter((f) => f.action === 'Accept').length > 0);
  // A PROXY header from a peer not in the sources is not a header but a broken TLS handshake.
  assert.equal(await get({ localAddress: '127.0.0.3', preface: proxyV1('198.51.100.7') }), 'closed');
  assert.equal((await api('DELETE', '/networkaccesspolicies/block-test-net-2')).status, 200);
});

test('the application gets X-Forwarded-For from the client to the gateway, the spoofed part dropped', async () => {
  const alice = await loginWithHttp(cluster.gatewayUrl, 'alice@example.com', 'alice');
  assert.equal(alice.response.status, 200);
  const echo = await alice.browser.navigate(`${cluster.gatewayUrl}/_echo`, { headers: { 'x-forwarded-for': '6.6.6.6, 203.0.113.5' } });
  const headers = (JSON.parse(echo.body ?? '{}') as { headers: Record<string, string> }).headers;
  assert.equal(headers['x-forwarded-for'], '203.0.113.5, 127.0.0.1');
});
