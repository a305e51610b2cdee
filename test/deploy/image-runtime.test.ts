// What the image runs besides the services, run here as the image runs it: the entry point (service
// by name, secrets from <VAR>_FILE) with each compose service's own environment, the demo's secrets and
// objects, the loopback relay, and the health check.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { connect, createServer as createTcpServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { parseConfig } from '@microseg/config';
import { parseImportDocument } from '../../services/policy/src/objects/import-file.ts';
import { parseForwards } from '../../deploy/docker/container-network.ts';
import { programOf, readinessUrl } from '../../deploy/docker/healthcheck.ts';
import { serviceNodeArgs } from '@microseg/testkit';
import { demoSecrets, ensureSecrets, renderTemplate, run as initDemo } from '../../deploy/docker/init-demo.ts';
import { configured, healthPortVariable, readText, readYaml, repoPath, serviceDirs, serviceSchemas, type ServiceName } from './lib.ts';

const scratch = mkdtempSync(join(tmpdir(), 'microseg-image-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const entrypoint = repoPath('deploy/docker/entrypoint.sh');
const baseEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', MICROSEG_NODE: process.execPath, MICROSEG_DATA_DIR: join(scratch, 'data') };
const runEntrypoint = (args: string[], env: Record<string, string>) =>
  spawnSync('sh', [entrypoint, ...args], { env: { ...baseEnv, ...env }, encoding: 'utf8', timeout: 60_000 });

interface ComposeFile {
  services: Record<string, { command?: string[]; environment?: Record<string, string> }>;
}
const compose = readYaml<ComposeFile>('deploy/compose/compose.yaml');

describe('the image at run time', () => {
  test('init-demo generates the secrets once (0600), keeps them, lets the environment win and refuses a bad key', async () => {
    const dir = join(scratch, 'secrets');
    const first = await ensureSecrets(dir, {});
    for (const spec of demoSecrets) {
      const file = join(dir, spec.file);
      assert.equal(readFileSync(file, 'utf8').trim(), first[spec.variable]);
      assert.equal(statSync(file).mode & 0o777, 0o600, `${spec.file} is private`);
    }
    assert.match(first['POLICY_ADMIN_TOKEN']!, /^mst_[a-f0-9]{16}_[A-Za-z0-9_-]{43}$/);
    assert.doesNotThrow(() => parseConfig(serviceSchemas.policy, { POLICY_SECRETS_KEY: first['POLICY_SECRETS_KEY'] }));
    assert.deepEqual(await ensureSecrets(dir, {}), first, 'a second start keeps them');
    const mine = await ensureSecrets(dir, { DEMO_CLIENT_SECRET: 'from-dot-env' });
    assert.equal(mine['DEMO_CLIENT_SECRET'], 'from-dot-env');
    assert.equal(readFileSync(join(dir, 'demo-client-secret'), 'utf8').trim(), 'from-dot-env');
    await assert.rejects(ensureSecrets(dir, { POLICY_SECRETS_KEY: 'short' }), /POLICY_SECRETS_KEY: must be the base64 of 32 random bytes/);
  });

  test('init-demo renders the demo objects into a valid import, and names a missing variable', async () => {
    const out = join(scratch, 'rendered', 'objects.yaml');
    await initDemo(['--secrets', join(scratch, 'secrets2'), '--render', repoPath('deploy/demo/objects.yaml'), out], {});
    const rendered = readFileSync(out, 'utf8');
    const secret = readFileSync(join(scratch, 'secrets2', 'demo-client-secret'), 'utf8').trim();
    assert.ok(!rendered.includes('${'), 'every placeholder filled');
    const objects = parseImportDocument(rendered, out);
    const service = objects.find((o) => o.kind === 'service') as unknown as { OIDCClientSecret: string } | undefined;
    assert.equal(service?.OIDCClientSecret, secret, 'the client secret is the one shared with the demo IdP');
    assert.throws(() => renderTemplate('a: ${NOPE}', {}), /no value for \$\{NOPE\}/);
  });

  test("compose's init hands each container its own credentials: a service its nkey (and Redis password) and the CA, a server its certificate and the public side of every identity", async () => {
    const root = join(scratch, 'compose-init');
    const local = (path: string) => path.replace(/^\/(secrets|credentials)(\/|$)/, `${root}/$1$2`).replace(/^\/app\//, `${repoPath()}/`);
    await initDemo(compose.services['init']!.command!.slice(1).map(local), {});
    const files = (consumer: string) => readdirSync(join(root, 'credentials', consumer)).sort();
    assert.deepEqual(files('gateway'), ['ca.crt', 'nats.nk']);
    assert.deepEqual(files('authn'), ['ca.crt', 'nats.nk', 'redis.password']);
    assert.deepEqual(files('flowlog'), ['ca.crt', 'nats.nk', 'redis.password']);
    assert.deepEqual(files('policy'), ['admin-token', 'ca.crt', 'demo-objects.yaml', 'nats.nk', 'secrets-key']);
    assert.deepEqual(files('idp'), ['demo-client-secret']);
    assert.deepEqual(files('nats-server'), ['authorization.conf', 'ca.crt', 'tls.crt', 'tls.key']);
    assert.deepEqual(files('redis-server'), ['ca.crt', 'tls.crt', 'tls.key', 'users.acl']);
    assert.equal(statSync(join(root, 'credentials', 'gateway', 'nats.nk')).mode & 0o777, 0o600, "a service's nkey is private");
    // The servers hold no secret of another: public keys and password hashes only.
    const authorization = readFileSync(join(root, 'credentials', 'nats-server', 'authorization.conf'), 'utf8');
    const acl = readFileSync(join(root, 'credentials', 'redis-server', 'users.acl'), 'utf8');
    for (const consumer of ['gateway', 'authn', 'policy', 'flowlog']) {
      const seed = readFileSync(join(root, 'credentials', consumer, 'nats.nk'), 'utf8').trim();
      assert.ok(!authorization.includes(seed) && !acl.includes(seed));
    }
    assert.ok(!acl.includes(readFileSync(join(root, 'credentials', 'authn', 'redis.password'), 'utf8').trim()), 'the ACL file holds a hash, not the password');
    // A second run keeps everything.
    const before = readFileSync(join(root, 'credentials', 'authn', 'nats.nk'), 'utf8');
    await initDemo(compose.services['init']!.command!.slice(1).map(local), {});
    assert.equal(readFileSync(join(root, 'credentials', 'authn', 'nats.nk'), 'utf8'), before);
  });

  test('the entry point starts each service with its compose environment (secrets from files) and the configuration parses', async () => {
    const root = join(scratch, 'compose-run');
    const local = (path: string) => path.replace(/^\/(secrets|credentials)(\/|$)/, `${root}/$1$2`).replace(/^\/app\//, `${repoPath()}/`);
    await initDemo(compose.services['init']!.command!.slice(1).map(local), {});
    for (const [name, service] of Object.entries(compose.services)) {
      const command = service.command?.[0];
      if (!command || !serviceDirs().includes(command)) continue;
      const env = Object.fromEntries(
        Object.entries(service.environment ?? {}).map(([k, v]) => [
          k,
          String(v)
            .replace(/^\/run\/secrets\/microseg\//, `${root}/credentials/${command}/`)
            .replace(/^\/etc\/microseg\/gateway\.yaml$/, repoPath('deploy/compose/gateway.yaml')),
        ]),
      );
      // The relay would listen on this machine's loopback ports: not needed to check the configuration.
      delete env['MICROSEG_LOOPBACK_FORWARD'];
      const result = runEntrypoint([command, '--check-config'], env);
      assert.equal(result.status, 0, `${name}: ${result.stderr}`);
      assert.equal(result.stdout.trim(), `${command}: configuration is valid`);
    }
  });

  test('the entry point reads <VAR>_FILE for microseg variables only, refuses an unreadable one, and explains its commands', () => {
    const bad = join(scratch, 'bad-key');
    writeFileSync(bad, 'not-a-key');
    const refused = runEntrypoint(['policy', '--check-config'], { POLICY_SECRETS_KEY_FILE: bad });
    assert.equal(refused.status, 2);
    assert.match(refused.stderr, /POLICY_SECRETS_KEY: must be the base64 of 32 random bytes/, 'the value came from the file');
    const missing = runEntrypoint(['policy', '--check-config'], { POLICY_ADMIN_TOKEN_FILE: join(scratch, 'nope') });
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /POLICY_ADMIN_TOKEN_FILE names .*nope, which cannot be read/);
    const unrelated = runEntrypoint(['authn', '--check-config'], { SSL_CERT_FILE: join(scratch, 'nope') });
    assert.equal(unrelated.status, 0, 'SSL_CERT_FILE is a file name, not a secret to read');
    const usage = runEntrypoint(['bogus'], {});
    assert.equal(usage.status, 2);
    assert.match(usage.stderr, /usage: docker run microseg gateway\|authn\|policy\|flowlog\|idp\|app\|msctl/);
    const msctl = runEntrypoint(['msctl', '--help'], {});
    assert.equal(msctl.status, 0, msctl.stderr);
  });

  test('the loopback relay forwards connections; the demo listen host applies to 127.0.0.1 only', async () => {
    assert.deepEqual(parseForwards('9400=idp:9400, 8443=gateway:8443'), [
      { port: 9400, host: 'idp', targetPort: 9400 },
      { port: 8443, host: 'gateway', targetPort: 8443 },
    ]);
    assert.throws(() => parseForwards('9400:idp'), /must look like 9400=idp:9400/);

    const echo = createTcpServer((socket) => socket.pipe(socket));
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    const target = (echo.address() as AddressInfo).port;
    const probe = createTcpServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const local = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));

    // A child with the relay and the demo listen host: it reports where its own 127.0.0.1 listen went.
    const script = `
      import net from 'node:net';
      const s = net.createServer(() => {});
      s.listen(0, '127.0.0.1', () => { console.log(JSON.stringify(s.address())); });
      setTimeout(() => process.exit(0), 4000);`;
    const child = spawn(process.execPath, ['--import', repoPath('deploy/docker/container-network.ts'), '--input-type=module', '-e', script], {
      env: { ...baseEnv, MICROSEG_LOOPBACK_FORWARD: `${local}=127.0.0.1:${target}`, DEMO_LISTEN_HOST: '0.0.0.0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const address = await new Promise<{ address: string }>((resolve, reject) => {
        child.stdout.once('data', (d: Buffer) => resolve(JSON.parse(d.toString()) as { address: string }));
        child.once('exit', (code) => reject(new Error(`exited ${code}`)));
      });
      assert.equal(address.address, '0.0.0.0', 'a listen on 127.0.0.1 binds the demo listen host');
      const reply = await new Promise<string>((resolve, reject) => {
        const attempt = (left: number) => {
          const socket = connect(local, '127.0.0.1', () => socket.end('ping'));
          let data = '';
          socket.on('data', (d) => (data += d.toString()));
          socket.on('end', () => resolve(data));
          socket.on('error', (err) => (left > 0 ? setTimeout(() => attempt(left - 1), 100) : reject(err)));
        };
        attempt(30);
      });
      assert.equal(reply, 'ping', 'the relay carried the bytes both ways');
    } finally {
      child.kill();
      echo.close();
    }
  });

  test('the entrypoint starts each service with the same Node arguments as the test kit', () => {
    const entrypoint = readText('deploy/docker/entrypoint.sh');
    for (const service of serviceDirs() as ServiceName[]) {
      // The exec line of the case that runs this service, without the optional network hook.
      const block = entrypoint.split(/\n\s*;;/).find((b) => new RegExp(`\\n\\s*(?:[a-z| ]*\\| )?${service}(?: \\|[a-z| ]*)?\\)`).test(b));
      assert.ok(block, `no case of the entrypoint runs ${service}`);
      const exec = /exec "\$node" (.*) "services\/\$command\/src\/main\.ts"/.exec(block)?.[1];
      assert.ok(exec, `the case of ${service} execs a service`);
      assert.deepEqual(
        exec.split(/\s+/).filter((a) => a !== '$network'),
        serviceNodeArgs(service),
        service,
      );
    }
    assert.equal(
      programOf(['/usr/local/bin/node', '--max-semi-space-size=4', '--import', '@microseg/telemetry/start', 'services/gateway/src/main.ts']),
      'gateway',
    );
  });

  test('the health check finds the service a container runs and asks its configured readiness port', async () => {
    assert.equal(programOf(['/usr/local/bin/node', '--import', '@microseg/telemetry/register', 'services/gateway/src/main.ts']), 'gateway');
    assert.equal(programOf(['/usr/local/bin/node', '--import', './deploy/docker/container-network.ts', 'packages/demo/src/main.ts', 'idp']), 'idp');
    assert.equal(programOf(['/usr/local/bin/node', 'deploy/docker/init-demo.ts']), undefined);
    for (const service of serviceDirs() as ServiceName[]) {
      const env = compose.services[service]!.environment ?? {};
      const url = new URL(readinessUrl(service, env)!);
      assert.equal(Number(url.port), configured(service, env, healthPortVariable[service]));
      assert.equal(url.pathname, '/readyz');
      assert.equal(url.hostname, '127.0.0.1');
      assert.equal(new URL(readinessUrl(service, {})!).port, String(configured(service, {}, healthPortVariable[service])), 'the schema default');
    }
    assert.equal(readinessUrl('idp', { DEMO_IDP_PORT: '9400' }), 'http://127.0.0.1:9400/.well-known/openid-configuration');

    let status = 200;
    const server: Server = createServer((_req, res) => res.writeHead(status).end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/readyz`;
    // Not spawnSync: this process serves the answer.
    const check = () =>
      new Promise<{ status: number | null; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [repoPath('deploy/docker/healthcheck.ts'), url], { stdio: ['ignore', 'ignore', 'pipe'] });
        let stderr = '';
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.on('exit', (status) => resolve({ status, stderr }));
      });
    try {
      assert.equal((await check()).status, 0);
      status = 503;
      const failing = await check();
      assert.equal(failing.status, 1);
      assert.match(failing.stderr, /HTTP 503/);
    } finally {
      server.close();
    }
  });

  test('the demo IdP and app read the variables compose and Kubernetes give them', () => {
    const demoMain = readText('packages/demo/src/main.ts');
    const demoVariables = new Set([...demoMain.matchAll(/(?:process\.env\[['"]|FromEnv\(['"]|requiredEnv\(['"])([A-Z0-9_]+)['"]/g)].map((m) => m[1]!));
    const image = new Set(['MICROSEG_LOOPBACK_FORWARD', 'DEMO_LISTEN_HOST']);
    for (const name of ['idp', 'app']) {
      for (const variable of Object.keys(compose.services[name]!.environment ?? {})) {
        const base = variable.replace(/_FILE$/, '');
        assert.ok(demoVariables.has(base) || image.has(variable), `compose ${name}: ${variable} is read by packages/demo/src/main.ts or the image`);
      }
    }
    assert.ok(demoVariables.has('DEMO_CLIENT_SECRET') && demoVariables.has('DEMO_IDP_PORT') && demoVariables.has('DEMO_APP_PORT'));
  });
});
