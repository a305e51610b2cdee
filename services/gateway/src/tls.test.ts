// The certificate store: generated certificates only for host names of configured routes (kept on disk),
// the default certificate for every other server name (nothing made, written or kept), services' own
// certificates checked once per sync, and a bad one reported and refused at the handshake.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { generate } from 'selfsigned';
import { ServiceRouteSchema } from '@microseg/proto/policy';
import { RoutingState } from './state.ts';
import { CertificateStore } from './tls.ts';

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function store(): Promise<{ certs: CertificateStore; files: () => Promise<string[]> }> {
  const dir = await mkdtemp(join(tmpdir(), 'microseg-gateway-tls-'));
  dirs.push(dir);
  const certs = new CertificateStore(dir);
  return { certs, files: async () => (await readdir(dir, { recursive: true })).sort() };
}

const route = (id: string, hosts: string[], extra: MessageInitShape<typeof ServiceRouteSchema> = {}) =>
  create(ServiceRouteSchema, { id, name: id, namespace: '/ns', hosts, exposedPort: 8443, ...extra });

/** The files of the generated certificates, once their generation (started by update) is done. */
async function settled(certs: CertificateStore, port: number, host: string): Promise<void> {
  await certs.contextFor(port, host);
}

test('a stranger naming hundreds of unknown hosts, or none: the default certificate, nothing generated, written or kept', async () => {
  const { certs, files } = await store();
  certs.update(new RoutingState([route('app', ['app.example.test'])], 1n));
  await certs.defaultCertificate();
  await settled(certs, 8443, 'app.example.test');
  const before = await files();
  const size = certs.size;
  for (let i = 0; i < 300; i++) {
    const name = `${randomBytes(8).toString('hex')}.example`;
    assert.equal(await certs.contextFor(8443, name), undefined, name);
  }
  for (const name of [undefined, '', 'localhost', '127.0.0.1', 'APP.example.test.', '../../etc/passwd', 'app.example.test\u0000']) {
    assert.equal(await certs.contextFor(8443, name), undefined, JSON.stringify(name));
  }
  assert.equal(await certs.contextFor(9443, 'app.example.test'), undefined, 'a configured host on another port is unknown there');
  assert.deepEqual(await files(), before, 'no file was written');
  assert.equal(certs.size, size, 'no context was kept');
  assert.equal(size, 2, 'the default certificate and the one configured host');
});

test('a configured host gets a certificate of its own, generated once and kept on disk; it is forgotten when no route has it', async () => {
  const { certs, files } = await store();
  certs.update(new RoutingState([route('app', ['App.Example.Test'])], 1n));
  const context = await certs.contextFor(8443, 'app.example.test');
  assert.ok(context);
  assert.equal(await certs.contextFor(8443, 'APP.example.test'), context, 'server names are compared in lower case; one context');
  assert.deepEqual(await files(), ['gateway', 'gateway/certs', 'gateway/certs/app.example.test.crt', 'gateway/certs/app.example.test.key']);
  certs.update(new RoutingState([], 2n));
  assert.equal(certs.size, 0);
  assert.equal(await certs.contextFor(8443, 'app.example.test'), undefined);
});

test("a service's own certificate is served; a bad one (garbage, a key of another certificate, half of the pair) is reported and refused at the handshake, the others unharmed", async () => {
  const { certs } = await store();
  const good = await generate([{ name: 'commonName', value: 'good.example.test' }], { keyType: 'ec', curve: 'P-256' });
  const other = await generate([{ name: 'commonName', value: 'other.example.test' }], { keyType: 'ec', curve: 'P-256' });
  const routes = [
    route('good', ['good.example.test'], { tlsCertificate: good.cert, tlsCertificateKey: good.private }),
    route('garbage', ['garbage.example.test'], { tlsCertificate: 'not a certificate', tlsCertificateKey: good.private }),
    route('mismatch', ['mismatch.example.test'], { tlsCertificate: good.cert, tlsCertificateKey: other.private }),
    route('half', ['half.example.test'], { tlsCertificate: good.cert }),
    route('generated', ['generated.example.test']),
  ];
  const problems = certs.update(new RoutingState(routes, 1n));
  assert.deepEqual(
    problems.map((p) => [p.route.id, p.message]),
    [
      ['garbage', 'TLSCertificate and TLSCertificateKey cannot be used: a PEM block is missing or malformed'],
      ['mismatch', 'TLSCertificate and TLSCertificateKey cannot be used: TLSCertificateKey is not the private key of TLSCertificate'],
      ['half', 'TLSCertificateKey is missing: set both TLSCertificate and TLSCertificateKey, or neither (a generated certificate)'],
    ],
  );
  for (const p of problems) assert.ok(!p.message.includes('PRIVATE KEY') && !p.message.includes('BEGIN'), 'no PEM in a problem');
  assert.ok(await certs.contextFor(8443, 'good.example.test'));
  assert.ok(await certs.contextFor(8443, 'generated.example.test'));
  for (const host of ['garbage.example.test', 'mismatch.example.test', 'half.example.test'])
    await assert.rejects(certs.contextFor(8443, host), /cannot be used/, host);
  // The same certificates at the next sync: the same context, made once.
  const before = await certs.contextFor(8443, 'good.example.test');
  assert.equal(certs.update(new RoutingState(routes, 2n)).length, 3);
  assert.equal(await certs.contextFor(8443, 'good.example.test'), before);
  // Fixed: served, no longer reported.
  const fixed = routes.map((r) => (r.id === 'mismatch' ? { ...r, tlsCertificateKey: good.private } : r));
  assert.deepEqual(
    certs.update(new RoutingState(fixed, 3n)).map((p) => p.route.id),
    ['garbage', 'half'],
  );
  assert.ok(await certs.contextFor(8443, 'mismatch.example.test'));
});
