// The forward-auth port over real TLS: the gateway's default certificate, the trusted ingress by its TCP address
// (a client binding another loopback address is another peer), and a port that cannot be opened failing the start.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@microseg/telemetry';
import { Decision } from '@microseg/proto/policy';
import { RoutingState } from '../state.ts';
import { CertificateStore } from '../tls.ts';
import { fakeDeps, route, verdict } from '../pipeline/testing/fakes.ts';
import { ForwardAuthListener } from './listener.ts';

async function listener(port = 0): Promise<ForwardAuthListener> {
  const state = new RoutingState([route({ forwardAuth: true, hosts: ['app.example.com'] })], 1n);
  const deps = fakeDeps({ policy: { decide: async () => verdict(Decision.ALLOW) } });
  const certs = new CertificateStore(await mkdtemp(join(tmpdir(), 'microseg-fa-')));
  const fa = new ForwardAuthListener(
    { ...deps, state: () => state },
    { host: '127.0.0.1', port, trustedProxies: ['127.0.0.1/32'], certs, logger: createLogger('gateway-test', 'silent') },
  );
  await fa.listen();
  return fa;
}

function ask(port: number, localAddress: string): Promise<{ status: number; body: string; certificate: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/nginx',
        localAddress,
        rejectUnauthorized: false,
        agent: false,
        headers: { 'x-original-method': 'GET', 'x-original-uri': '/public/x', 'x-forwarded-host': 'app.example.com', 'x-forwarded-for': '192.0.2.1' },
      },
      (res) => {
        const socket = res.socket as unknown as { getPeerCertificate(): { subject?: { CN?: string } } };
        const certificate = socket.getPeerCertificate().subject?.CN ?? '';
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, certificate }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

test('over TLS with the default certificate: the trusted ingress gets its decision, another address a 403', async () => {
  const fa = await listener();
  try {
    const trusted = await ask(fa.port, '127.0.0.1');
    assert.deepEqual([trusted.status, trusted.certificate], [200, 'localhost']);
    const other = await ask(fa.port, '127.0.0.2');
    assert.equal(other.status, 403);
    assert.equal((JSON.parse(other.body) as { code: string }).code, 'GATEWAY_FORWARD_AUTH_UNTRUSTED');
  } finally {
    await fa.close(1_000);
  }
});

test('a port that cannot be opened fails the start', async () => {
  const first = await listener();
  try {
    await assert.rejects(listener(first.port), /EADDRINUSE/);
  } finally {
    await first.close(1_000);
  }
});
