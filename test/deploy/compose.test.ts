// deploy/compose against the code: every service of the repository runs, with exactly the
// environment its schema reads; start order follows health; scalable services publish nothing;
// ports agree with the services' configuration, the demo objects, Prometheus and the collector.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, test } from 'node:test';
import { parseConfig } from '@microseg/config';
import {
  configured,
  demoService,
  environmentProblems,
  healthPortVariable,
  readText,
  readYaml,
  repoPath,
  serviceDirs,
  serviceSchemas,
  unitsWithoutAddress,
  withSecretsResolved,
  type ProcessingUnitsFile,
  type ServiceName,
} from './lib.ts';

interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }> | string[];
  container_name?: string;
  profiles?: string[];
  restart?: string;
}
interface ComposeFile {
  name: string;
  services: Record<string, ComposeService>;
  volumes: Record<string, unknown>;
}

const compose = readYaml<ComposeFile>('deploy/compose/compose.yaml');
const services = serviceDirs() as ServiceName[];
const microsegImage = compose.services['gateway']!.image;
/** Compose services that run the microseg image, by the command they run. */
const byCommand = new Map(
  Object.entries(compose.services)
    .filter(([, s]) => s.image === microsegImage)
    .map(([name, s]) => [s.command?.[0] ?? '', name] as const),
);
const envOf = (name: string): Record<string, string> =>
  Object.fromEntries(Object.entries(compose.services[name]!.environment ?? {}).map(([k, v]) => [k, String(v)]));
/** `"8443:8443"` → {host: 8443, container: 8443}. */
const published = (s: ComposeService) =>
  (s.ports ?? []).map((p) => {
    const parts = String(p).split(':').map(Number);
    return { host: parts.length > 1 ? parts[parts.length - 2]! : undefined, container: parts[parts.length - 1]! };
  });

describe('deploy/compose', () => {
  test('runs every service of the repository, the demo IdP and app, from one image built from the repository', () => {
    for (const service of services) assert.ok(byCommand.has(service), `a compose service runs ${service}`);
    assert.ok(byCommand.has('idp') && byCommand.has('app'), 'the demo IdP and app run');
    for (const [name, s] of Object.entries(compose.services).filter(([, x]) => x.image === microsegImage)) {
      assert.deepEqual(s.build, { context: '../..', dockerfile: 'Dockerfile' }, `${name} builds the repository's Dockerfile`);
    }
    assert.ok(existsSync(repoPath('Dockerfile')));
    for (const infra of ['nats', 'redis', 'otel-collector', 'jaeger', 'prometheus', 'grafana']) assert.ok(compose.services[infra], infra);
    assert.match(compose.services['nats']!.image!, /^nats:2\.10/);
    const natsConfig = readText('deploy/compose/nats-server.conf');
    assert.deepEqual(compose.services['nats']!.command, ['--config', '/etc/nats/nats-server.conf']);
    assert.ok(compose.services['nats']!.volumes!.includes('./nats-server.conf:/etc/nats/nats-server.conf:ro'));
    assert.match(natsConfig, /jetstream \{\s*store_dir: \/data\s*\}/);
    assert.ok(
      compose.services['nats']!.volumes!.some((v) => v.endsWith(':/data')),
      'JetStream stores on a volume',
    );
  });

  test('NATS and Redis run on TLS with one identity per service, anonymous clients refused; each container mounts its own credentials only', () => {
    const natsConfig = readText('deploy/compose/nats-server.conf');
    assert.match(natsConfig, /tls \{\s*cert_file: \/etc\/nats\/secrets\/tls\.crt\s*key_file: \/etc\/nats\/secrets\/tls\.key/);
    assert.match(natsConfig, /^include \.\/secrets\/authorization\.conf$/m, 'the users and their permissions (no user: no access)');
    assert.match(natsConfig, /^http: 127\.0\.0\.1:8222$/m, 'monitoring on the container loopback only');
    assert.ok(compose.services['nats']!.volumes!.includes('nats-credentials:/etc/nats/secrets:ro'));
    const redis = compose.services['redis']!.command!.join(' ');
    assert.match(redis, /--port 0 --tls-port 6379/, 'Redis speaks TLS only');
    assert.match(redis, /--aclfile \/etc\/redis\/secrets\/users\.acl/);
    assert.ok(compose.services['redis']!.volumes!.includes('redis-credentials:/etc/redis/secrets:ro'));
    const credentialVolumes = (name: string) => (compose.services[name]!.volumes ?? []).filter((v) => /-credentials:|^secrets:/.test(v));
    for (const service of services) {
      const name = byCommand.get(service)!;
      const env = envOf(name);
      assert.match(env['NATS_URL']!, /^tls:\/\/nats:4222$/);
      assert.equal(env['NATS_NKEY_SEED_FILE'], '/run/secrets/microseg/nats.nk', `${service} connects with its own nkey`);
      assert.equal(env['NATS_TLS_CA_FILE'], '/run/secrets/microseg/ca.crt');
      if (env['REDIS_URL']) {
        assert.match(env['REDIS_URL'], /^rediss:\/\/redis:6379$/);
        assert.equal(env['REDIS_USERNAME'], service, `${service} is its own Redis user`);
        assert.equal(env['REDIS_PASSWORD_FILE'], '/run/secrets/microseg/redis.password');
      }
      assert.deepEqual(credentialVolumes(name), [`${service}-credentials:/run/secrets/microseg:ro`], `${service} mounts its own credentials, nothing else's`);
    }
    assert.deepEqual(credentialVolumes('idp'), ['idp-credentials:/run/secrets/microseg:ro'], 'the demo IdP sees its client secret only, not the admin token');
    assert.deepEqual(credentialVolumes('app'), [], 'the protected application gets no credential');
  });

  test('nothing has a fixed container name; only the gateway, IdP, flowlog, Jaeger and Grafana publish ports', () => {
    const publishing = new Set(['gateway', 'idp', 'flowlog', 'jaeger', 'grafana']);
    for (const [name, s] of Object.entries(compose.services)) {
      assert.equal(s.container_name, undefined, `${name} has no container_name`);
      if (!publishing.has(name)) assert.deepEqual(s.ports ?? [], [], `${name} publishes no port, so it scales`);
    }
    for (const name of ['authn', 'policy', 'app']) assert.deepEqual(compose.services[name]!.ports ?? [], [], `${name} scales`);
    assert.deepEqual(
      published(compose.services['jaeger']!).map((p) => p.container),
      [16686],
      'the Jaeger UI',
    );
  });

  test('start order follows health: every service_healthy dependency has a health check', () => {
    for (const [name, s] of Object.entries(compose.services)) {
      if (!s.depends_on || Array.isArray(s.depends_on)) continue;
      for (const [dependency, { condition }] of Object.entries(s.depends_on)) {
        const target = compose.services[dependency];
        assert.ok(target, `${name} depends on ${dependency}, which exists`);
        assert.ok(['service_healthy', 'service_completed_successfully', 'service_started'].includes(condition));
        if (condition === 'service_healthy') assert.ok(target.healthcheck?.test?.length, `${dependency} has a health check (${name} waits for it)`);
        if (condition === 'service_completed_successfully') assert.equal(target.restart, 'no', `${dependency} runs once`);
      }
    }
    const waitsFor = (name: string) => Object.keys(compose.services[name]!.depends_on ?? {});
    for (const service of services)
      if (service !== 'policy') assert.ok(waitsFor(service).includes('policy') || waitsFor(service).includes('authn'), `${service} starts after policy`);
    assert.deepEqual(waitsFor('gateway').sort(), ['app', 'authn', 'flowlog', 'policy']);
    for (const service of services)
      assert.deepEqual(compose.services[byCommand.get(service)!]!.healthcheck?.test, ['CMD', '/usr/local/bin/node', '/app/deploy/docker/healthcheck.ts']);
  });

  test("every service's environment is exactly what its schema reads, and it parses", () => {
    for (const service of services) {
      const env = envOf(byCommand.get(service)!);
      assert.deepEqual(environmentProblems(service, env), []);
      assert.doesNotThrow(() => parseConfig(serviceSchemas[service], withSecretsResolved(env)), `${service}'s configuration parses`);
      assert.equal(env['OTEL_SERVICE_NAME'], `microseg-${service}`);
      assert.equal(new URL(env['OTEL_EXPORTER_OTLP_ENDPOINT']!).hostname, 'otel-collector');
    }
  });

  test('ports agree: health ports, Prometheus targets, the published gateway port and the demo objects', () => {
    const prometheus = readYaml<{ scrape_configs: Array<{ job_name: string; dns_sd_configs?: Array<{ names: string[]; port: number }> }> }>(
      'deploy/compose/prometheus.yml',
    );
    for (const service of services) {
      const composeName = byCommand.get(service)!;
      const env = envOf(composeName);
      const port = configured(service, env, healthPortVariable[service]);
      assert.equal(
        configured(service, env, healthPortVariable[service].replace(/_PORT$/, '_HOST')),
        '0.0.0.0',
        `${service} listens beyond loopback, so Prometheus reaches /metrics`,
      );
      const job = prometheus.scrape_configs.find((j) => j.job_name === service);
      assert.deepEqual(
        job?.dns_sd_configs?.map((d) => [d.names, d.port]),
        [[[composeName], port]],
        `Prometheus scrapes every ${service} replica on ${String(port)}`,
      );
    }
    const demo = demoService();
    const gateway = compose.services[byCommand.get('gateway')!]!;
    assert.deepEqual(published(gateway), [{ host: demo.exposedPort, container: demo.exposedPort }], "the gateway publishes the demo service's exposedPort");
    const flowlogPort = configured('flowlog', envOf(byCommand.get('flowlog')!), 'FLOWLOG_PORT');
    assert.deepEqual(published(compose.services['flowlog']!), [{ host: flowlogPort, container: flowlogPort }]);

    // The demo IdP: published on the issuer's port, and relayed to it inside authn.
    const issuer = new URL(demo.OIDCProviderURL);
    const idpEnv = envOf(byCommand.get('idp')!);
    assert.equal(idpEnv['DEMO_IDP_PORT'], issuer.port);
    assert.deepEqual(published(compose.services['idp']!), [{ host: Number(issuer.port), container: Number(issuer.port) }]);
    assert.equal(envOf(byCommand.get('authn')!)['MICROSEG_LOOPBACK_FORWARD'], `${issuer.port}=${byCommand.get('idp')}:${issuer.port}`);
    assert.equal(
      idpEnv['MICROSEG_LOOPBACK_FORWARD'],
      `${demo.exposedPort}=${byCommand.get('gateway')}:${demo.exposedPort}`,
      'back-channel logout reaches the gateway',
    );
    // The demo app: the processing units' address, on the demo service's port.
    assert.equal(envOf(byCommand.get('app')!)['DEMO_APP_PORT'], String(demo.port));
  });

  test("the gateway's processing units are deploy/demo's, addressed to the app container", () => {
    const gateway = compose.services[byCommand.get('gateway')!]!;
    const file = envOf(byCommand.get('gateway')!)['GATEWAY_PROCESSING_UNITS'];
    const mount = gateway.volumes!.find((v) => v.split(':')[1] === file);
    assert.ok(mount, 'GATEWAY_PROCESSING_UNITS is mounted');
    const local = mount.split(':')[0]!.replace(/^\.\//, '');
    const units = readYaml<ProcessingUnitsFile>('deploy/compose', local);
    assert.deepEqual(unitsWithoutAddress(units), unitsWithoutAddress(readYaml<ProcessingUnitsFile>('deploy/demo/gateway.yaml')));
    for (const unit of units.processingunits) assert.equal(unit.address, byCommand.get('app'));
  });

  test('secrets: generated once by init (or taken from the gitignored .env) and handed to each container in a volume of its own, read as files', () => {
    const init = compose.services['init']!;
    assert.equal(init.command?.[0], 'init-demo');
    const args = init.command.slice(1);
    const secretsDir = args[args.indexOf('--secrets') + 1]!;
    const [store, out] = args.slice(args.indexOf('--credentials') + 1);
    assert.ok(store!.startsWith(`${secretsDir}/`), 'the credentials are kept with the secrets');
    const [template, rendered] = args.slice(args.indexOf('--render') + 1);
    assert.ok(existsSync(repoPath(template!.replace(/^\/app\//, ''))), `${template} is in the image`);
    const volumeAt = (path: string) => init.volumes!.find((v) => v.split(':')[1] === path)?.split(':')[0];
    assert.ok(volumeAt(secretsDir)! in compose.volumes, 'the secrets live in a named volume');
    // What init writes into <out>/<consumer> lands in the volume that consumer mounts at /run/secrets/microseg.
    const handedTo = (file: string) => {
      const consumer = file.slice(out!.length + 1).split('/')[0]!;
      return { consumer, volume: volumeAt(`${out}/${consumer}`) };
    };
    assert.equal(envOf(byCommand.get('policy')!)['POLICY_BOOTSTRAP_FILES'], `/run/secrets/microseg/${rendered!.split('/').at(-1)}`);
    assert.equal(handedTo(rendered!).consumer, 'policy');
    for (const [name, s] of Object.entries(compose.services)) {
      for (const [variable, value] of Object.entries(s.environment ?? {})) {
        if (variable.endsWith('_FILE') && name !== 'msctl') {
          assert.ok(String(value).startsWith('/run/secrets/microseg/'), `${name}: ${variable} reads its credentials volume`);
          const mount = (s.volumes ?? []).find((v) => v.endsWith(':/run/secrets/microseg:ro'));
          assert.ok(mount, `${name} mounts its credentials read-only`);
          const volume = mount.split(':')[0]!;
          assert.ok(
            init.volumes!.some((v) => v.startsWith(`${volume}:${out}/`)),
            `init writes ${name}'s volume`,
          );
        }
        if (/SECRET|TOKEN|KEY/.test(variable) && !variable.endsWith('_FILE'))
          assert.match(String(value), /^\$\{[A-Z_]+:-\}$/, `${name}: ${variable} comes from .env, never from this file`);
      }
    }
    assert.match(readText('deploy/.gitignore'), /^compose\/\.env$/m);
    const example = readText('deploy/compose/.env.example');
    for (const variable of Object.keys(init.environment ?? {}))
      assert.match(example, new RegExp(`^${variable}=$`, 'm'), `.env.example documents ${variable}, empty`);
  });

  test('tracing: services → OpenTelemetry Collector (OTLP/HTTP) → Jaeger (OTLP/gRPC)', () => {
    const collector = compose.services['otel-collector']!;
    const mount = collector.volumes!.find((v) => v.startsWith('./otel-collector.yaml:'))!;
    assert.ok(collector.command!.some((c) => c === `--config=${mount.split(':')[1]}`));
    const config = readYaml<{
      receivers: { otlp: { protocols: { http: { endpoint: string } } } };
      exporters: Record<string, { endpoint: string }>;
      service: { pipelines: { traces: { receivers: string[]; exporters: string[] } } };
    }>('deploy/compose/otel-collector.yaml');
    const httpPort = config.receivers.otlp.protocols.http.endpoint.split(':')[1];
    for (const service of services) assert.equal(new URL(envOf(byCommand.get(service)!)['OTEL_EXPORTER_OTLP_ENDPOINT']!).port, httpPort);
    const { traces } = config.service.pipelines;
    assert.deepEqual(traces.receivers, ['otlp']);
    assert.deepEqual(
      traces.exporters.map((e) => config.exporters[e]!.endpoint),
      ['jaeger:4317'],
    );
    assert.match(compose.services['jaeger']!.image!, /^jaegertracing\/jaeger:2\./);
  });

  test('metrics: Prometheus and Grafana with the dashboard provisioned', () => {
    const grafana = compose.services['grafana']!;
    const dashboards = grafana.volumes!.find((v) => v.startsWith('../grafana:'))!.split(':')[1]!;
    const provider = readYaml<{ providers: Array<{ options: { path: string } }> }>('deploy/compose/grafana/provisioning/dashboards/microseg.yaml');
    assert.equal(provider.providers[0]!.options.path, dashboards, 'the provider loads the mounted deploy/grafana');
    assert.ok(existsSync(repoPath('deploy/grafana/microseg.json')));
    const datasources = readYaml<{ datasources: Array<{ type: string; url: string }> }>('deploy/compose/grafana/provisioning/datasources/prometheus.yaml');
    assert.equal(datasources.datasources[0]!.type, 'prometheus');
    assert.equal(new URL(datasources.datasources[0]!.url).hostname, 'prometheus');
    assert.ok(compose.services['prometheus']!.volumes!.includes('./prometheus.yml:/etc/prometheus/prometheus.yml:ro'));
  });
});
