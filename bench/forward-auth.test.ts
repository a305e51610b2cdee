// The nginx + forward-auth scenario's configuration (bench/lib/forward-auth.ts): the documented site with this
// machine's ports inside the benchmark's nginx settings, accepted by Debian's nginx (`nginx -t`), and the
// plain proxy's site beside it; the service and the cluster settings it needs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DEMO_APP_AUDIENCES, FORWARD_AUTH_NGINX_SITE, nginxBinary, selfSignedCertificate } from '@microseg/testkit';
import { EXTRA_SERVER_LINES, forwardAuthClusterExtras, forwardAuthSite, ingressService } from './lib/forward-auth.ts';
import { nginxConfig, plainProxySite } from './lib/nginx.ts';
import { NS } from './lib/setup.ts';

const run = promisify(execFile);
const ports = { nginx: 18443, forwardAuth: 17443 };
const cluster = { servicePort: 19443, appPort: 13000, idpUrl: 'http://127.0.0.1:14000' };

/** `nginx -t` on a whole configuration written into `dir`. */
async function nginxAccepts(dir: string, site: string): Promise<void> {
  const asRoot = process.getuid?.() === 0;
  const conf = join(dir, 'nginx.conf');
  await writeFile(conf, nginxConfig({ dir, site }, asRoot));
  await run(nginxBinary(), ['-t', '-q', '-p', dir, '-e', join(dir, 'error.log'), '-c', conf]).catch((err: Error & { stderr?: string }) => {
    assert.fail(`nginx -t refused the configuration: ${err.stderr ?? err.message}\n${site}`);
  });
}

test('the forward-auth site is the documented file with these ports, plus the client keep-alive of the plain nginx', async () => {
  const cert = { cert: '/tmp/x/localhost.crt', key: '/tmp/x/localhost.key' };
  const site = await forwardAuthSite(ports, cluster, cert);
  const documented = await readFile(FORWARD_AUTH_NGINX_SITE, 'utf8');
  for (const line of [
    'listen 127.0.0.1:18443 ssl;',
    'server 127.0.0.1:17443;',
    'server 127.0.0.1:19443;',
    'server 127.0.0.1:13000;',
    `ssl_certificate ${cert.cert};`,
  ])
    assert.ok(site.includes(line), line);
  for (const line of EXTRA_SERVER_LINES) assert.ok(site.includes(line) && !documented.includes(line), line);
  // The parts that make it forward-auth are the documented ones, untouched.
  for (const line of [
    'auth_request /_microseg_auth;',
    'proxy_pass https://microseg_forward_auth/nginx;',
    'proxy_set_header X-User-Email $microseg_user_email;',
  ])
    assert.ok(site.includes(line) && documented.includes(line), line);
});

test("Debian's nginx accepts the bench's configuration with the forward-auth site and with the plain proxy's", async () => {
  const dir = await mkdtemp(join(tmpdir(), 'microseg-bench-nginx-'));
  try {
    const cert = await selfSignedCertificate(dir);
    await nginxAccepts(dir, await forwardAuthSite(ports, cluster, cert));
    await nginxAccepts(dir, plainProxySite({ port: ports.nginx, upstreamPort: cluster.appPort, certFile: cert.cert, keyFile: cert.key }));
    const conf = nginxConfig({ dir, site: '  # the site\n' }, false);
    assert.match(conf, /^ {2}access_log off;$/m);
    assert.match(conf, /^worker_processes 1;$/m);
    assert.match(conf, / {2}# the site\n}\n$/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("the ingress's service: forward-auth for localhost, private-app's rules and identity header, its login back through nginx", () => {
  const service = ingressService(ports, cluster);
  assert.equal(service.forwardAuth, true);
  assert.deepEqual(service.hosts, ['localhost']);
  assert.equal(service.exposedPort, cluster.servicePort);
  assert.equal(service.port, cluster.appPort);
  assert.deepEqual(service.exposedAPIs, [['app=private-app']]);
  assert.equal(service.OIDCCallbackURL, 'https://localhost:18443');
  assert.deepEqual(service.claimsToHTTPHeaderMappings, [{ claimName: 'email', targetHTTPHeader: 'X-User-Email' }]);

  const extras = forwardAuthClusterExtras(ports);
  assert.deepEqual(extras.env, { GATEWAY_FORWARD_AUTH_PORT: '17443', GATEWAY_FORWARD_AUTH_TRUSTED_PROXIES: '127.0.0.1' });
  assert.deepEqual(extras.idpEnv, { DEMO_WALKTHROUGH_REDIRECT_URI: 'https://localhost:18443/aporeto/oidc/callback' });
  // The demo app accepts assertions for the ingress's service as for its own (it would verify and refuse each one).
  assert.deepEqual(extras.appEnv!.DEMO_APP_ASSERTION_AUDIENCES!.split(','), [...DEMO_APP_AUDIENCES, `${NS}/bench-ingress`]);
});
