// deploy/k8s against the code: each overlay builds, every object passes the Kubernetes schema
// (kubernetes-models, bundled, nothing downloaded), the workloads are hardened, every service's
// environment is exactly what its schema reads, the ports agree, and the network policies leave the
// gateway as the only thing reachable from outside the namespace.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { join } from 'node:path';
import { parse } from 'yaml';
import { parseConfig } from '@microseg/config';
import { parseImportDocument } from '../../services/policy/src/objects/import-file.ts';
import * as kubernetesModels from 'kubernetes-models';
import {
  configured,
  demoService,
  environmentProblems,
  healthPortVariable,
  readText,
  readYaml,
  serviceDirs,
  serviceSchemas,
  unitsWithoutAddress,
  withSecretsResolved,
  type ProcessingUnitsFile,
  type ServiceName,
} from './lib.ts';
import { buildOverlay, kubectlAvailable, kubectlBuild, normalized, resolveKustomization, stagedK8s, type K8sObject } from './kustomize.ts';

const overlays = ['dev', 'prod'] as const;
const builds = Object.fromEntries(overlays.map((o) => [o, buildOverlay(o)])) as Record<(typeof overlays)[number], ReturnType<typeof buildOverlay>>;
const services = serviceDirs() as ServiceName[];

// --- small accessors -------------------------------------------------------------------------

interface Probe {
  httpGet?: { path: string; port: number | string };
  exec?: { command: string[] };
}
interface Container {
  name: string;
  image: string;
  args?: string[];
  ports?: Array<{ name?: string; containerPort: number }>;
  env?: Array<{
    name: string;
    value?: string;
    valueFrom?: { secretKeyRef?: { name: string; key: string }; configMapKeyRef?: { name: string; key: string }; fieldRef?: { fieldPath: string } };
  }>;
  envFrom?: Array<{ configMapRef?: { name: string }; secretRef?: { name: string } }>;
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  startupProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: {
    runAsNonRoot?: boolean;
    runAsUser?: number;
    allowPrivilegeEscalation?: boolean;
    readOnlyRootFilesystem?: boolean;
    capabilities?: { drop?: string[]; add?: string[] };
  };
  volumeMounts?: Array<{ name: string; mountPath: string }>;
}
interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number; seccompProfile?: { type: string } };
  volumes?: Array<{ name: string; emptyDir?: object; configMap?: { name: string }; secret?: object }>;
  hostNetwork?: boolean;
}
interface Workload extends K8sObject {
  spec: {
    replicas?: number;
    serviceName?: string;
    selector: { matchLabels: Record<string, string> };
    template: { metadata: { labels: Record<string, string>; annotations?: Record<string, string> }; spec: PodSpec };
    volumeClaimTemplates?: Array<{ metadata: { name: string } }>;
  };
}
interface ServiceObject extends K8sObject {
  spec: {
    type?: string;
    clusterIP?: string;
    selector: Record<string, string>;
    ports: Array<{ name?: string; port: number; targetPort?: number | string }>;
    publishNotReadyAddresses?: boolean;
  };
}
interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key: string; operator: string; values?: string[] }>;
}
interface NetworkPolicy extends K8sObject {
  spec: {
    podSelector: LabelSelector;
    policyTypes?: string[];
    ingress?: Array<{
      from?: Array<{ podSelector?: LabelSelector; namespaceSelector?: LabelSelector; ipBlock?: object }>;
      ports?: Array<{ port?: number | string; protocol?: string }>;
    }>;
  };
}

const objectsOf = (objects: K8sObject[], kind: string) => objects.filter((o) => o.kind === kind);
const one = <T extends K8sObject>(objects: K8sObject[], kind: string, name: string): T => {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  assert.ok(found, `${kind} ${name} exists`);
  return found as T;
};
const workloads = (objects: K8sObject[]) => objects.filter((o) => o.kind === 'Deployment' || o.kind === 'StatefulSet') as Workload[];
const container = (w: Workload) => w.spec.template.spec.containers[0]!;
const configMapData = (objects: K8sObject[], name: string) => one<K8sObject & { data: Record<string, string> }>(objects, 'ConfigMap', name).data;
const secretData = (objects: K8sObject[], name: string) =>
  Object.fromEntries(
    Object.entries(one<K8sObject & { data: Record<string, string> }>(objects, 'Secret', name).data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]),
  );

/** The environment a container gets, resolved from its ConfigMaps and Secrets. */
function environmentOf(objects: K8sObject[], c: Container): Record<string, string> {
  const env: Record<string, string> = {};
  for (const from of c.envFrom ?? []) {
    if (from.configMapRef) Object.assign(env, configMapData(objects, from.configMapRef.name));
    if (from.secretRef) Object.assign(env, secretData(objects, from.secretRef.name));
  }
  for (const e of c.env ?? []) {
    if (e.value !== undefined) env[e.name] = e.value;
    else if (e.valueFrom?.secretKeyRef) {
      const value = secretData(objects, e.valueFrom.secretKeyRef.name)[e.valueFrom.secretKeyRef.key];
      assert.ok(value !== undefined, `${c.name}: the Secret ${e.valueFrom.secretKeyRef.name} has the key ${e.valueFrom.secretKeyRef.key}`);
      env[e.name] = value;
    } else if (e.valueFrom?.configMapKeyRef) env[e.name] = configMapData(objects, e.valueFrom.configMapKeyRef.name)[e.valueFrom.configMapKeyRef.key]!;
    else if (e.valueFrom?.fieldRef) env[e.name] = `pod-${e.valueFrom.fieldRef.fieldPath}`;
  }
  return env;
}

function selects(selector: LabelSelector, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = e.key in labels;
    if (e.operator === 'In' && !(has && e.values!.includes(labels[e.key]!))) return false;
    if (e.operator === 'NotIn' && has && e.values!.includes(labels[e.key]!)) return false;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}

function portNumber(c: Container, port: number | string): number {
  if (typeof port === 'number') return port;
  const named = c.ports?.find((p) => p.name === port);
  assert.ok(named, `${c.name}: the port named ${port} is declared`);
  return named.containerPort;
}

// --- the tests -------------------------------------------------------------------------------

describe('deploy/k8s', () => {
  test('each overlay builds (kubectl kustomize when installed, else the test resolver)', () => {
    for (const overlay of overlays) {
      assert.ok(builds[overlay].objects.length > 20, `${overlay} builds (${builds[overlay].via})`);
      const names = builds[overlay].objects.map((o) => `${o.kind}/${o.metadata.name}`);
      assert.deepEqual(
        names.filter((n, i) => names.indexOf(n) !== i),
        [],
        `${overlay}: no object twice`,
      );
      for (const o of builds[overlay].objects)
        if (o.kind !== 'Namespace') assert.equal(o.metadata.namespace, 'microseg', `${o.kind}/${o.metadata.name} is in the namespace microseg`);
    }
  });

  test('the test resolver agrees with kubectl kustomize', { skip: kubectlAvailable() ? false : 'kubectl is not installed' }, () => {
    const staged = stagedK8s();
    try {
      for (const overlay of overlays) {
        const dir = join(staged.dir, 'overlays', overlay);
        const key = (o: K8sObject) => `${o.kind}/${o.metadata.name}`;
        const byKey = (list: K8sObject[]) => Object.fromEntries(list.map((o) => [key(o), normalized(o)]));
        assert.deepEqual(byKey(resolveKustomization(dir)), byKey(kubectlBuild(dir)), overlay);
      }
    } finally {
      staged.cleanup();
    }
  });

  test('every object passes its Kubernetes schema (kubernetes-models)', () => {
    const groups = kubernetesModels as unknown as Record<string, Record<string, Record<string, new (data: unknown) => { validate(): void }>>>;
    const groupKey = (group: string) => group.replace(/\.([a-z])/g, (_m, c: string) => c.toUpperCase()).replace(/\./g, '');
    for (const overlay of overlays) {
      for (const o of builds[overlay].objects) {
        const [group, version] = o.apiVersion.includes('/') ? o.apiVersion.split('/') : ['', o.apiVersion];
        const model = group
          ? groups[groupKey(group)]?.[version!]?.[o.kind]
          : (groups['v1'] as unknown as Record<string, new (data: unknown) => { validate(): void }>)[o.kind];
        assert.ok(model, `${overlay}: a model for ${o.apiVersion} ${o.kind}`);
        assert.doesNotThrow(() => new model(o).validate(), `${overlay}: ${o.kind}/${o.metadata.name} is valid`);
      }
    }
  });

  test('every service runs as a Deployment with an autoscaler (autoscaling/v2) and a disruption budget', () => {
    for (const overlay of overlays) {
      const objects = builds[overlay].objects;
      for (const service of services) {
        const deployment = one<Workload>(objects, 'Deployment', service);
        assert.equal(deployment.spec.replicas, undefined, `${overlay}: ${service} leaves the replica count to its autoscaler`);
        assert.deepEqual(container(deployment).args, [service], `${overlay}: ${service} runs the image's ${service} command`);
        const hpa = one<K8sObject & { apiVersion: string; spec: { scaleTargetRef: { kind: string; name: string }; minReplicas: number; maxReplicas: number } }>(
          objects,
          'HorizontalPodAutoscaler',
          service,
        );
        assert.equal(hpa.apiVersion, 'autoscaling/v2');
        assert.deepEqual({ kind: hpa.spec.scaleTargetRef.kind, name: hpa.spec.scaleTargetRef.name }, { kind: 'Deployment', name: service });
        assert.ok(hpa.spec.minReplicas >= 1 && hpa.spec.maxReplicas > hpa.spec.minReplicas, `${overlay}: ${service} autoscaler range`);
        const pdb = one<K8sObject & { spec: { selector: LabelSelector } }>(objects, 'PodDisruptionBudget', service);
        assert.ok(selects(pdb.spec.selector, deployment.spec.template.metadata.labels), `${overlay}: ${service}'s disruption budget selects its pods`);
      }
      assert.ok(one<Workload & { spec: { minReplicas: number } }>(objects, 'HorizontalPodAutoscaler', 'gateway'));
      for (const w of workloads(objects))
        assert.ok(
          selects({ matchLabels: w.spec.selector.matchLabels }, w.spec.template.metadata.labels),
          `${overlay}: ${w.metadata.name}'s selector matches its pods`,
        );
    }
    const prodGateway = one<K8sObject & { spec: { minReplicas: number } }>(builds.prod.objects, 'HorizontalPodAutoscaler', 'gateway');
    assert.ok(prodGateway.spec.minReplicas >= 3, 'production runs at least three gateways');
  });

  test('every workload has probes, resources and a hardened non-root security context', () => {
    for (const overlay of overlays) {
      for (const w of workloads(builds[overlay].objects)) {
        const where = `${overlay}: ${w.kind}/${w.metadata.name}`;
        const pod = w.spec.template.spec;
        assert.equal(pod.securityContext?.runAsNonRoot, true, `${where}: pod runAsNonRoot`);
        assert.ok((pod.securityContext?.runAsUser ?? 0) > 0, `${where}: pod runs as a non-zero user`);
        assert.equal(pod.securityContext?.seccompProfile?.type, 'RuntimeDefault', `${where}: seccomp RuntimeDefault`);
        assert.notEqual(pod.hostNetwork, true, `${where}: no host network`);
        const volumes = new Map((pod.volumes ?? []).map((v) => [v.name, v]));
        const claims = new Set((w.spec.volumeClaimTemplates ?? []).map((c) => c.metadata.name));
        for (const c of [...pod.containers, ...(pod.initContainers ?? [])]) {
          const at = `${where} container ${c.name}`;
          for (const kind of ['requests', 'limits'] as const)
            for (const r of ['cpu', 'memory']) assert.ok(c.resources?.[kind]?.[r], `${at}: resources.${kind}.${r}`);
          assert.equal(c.securityContext?.runAsNonRoot, true, `${at}: runAsNonRoot`);
          assert.equal(c.securityContext?.allowPrivilegeEscalation, false, `${at}: no privilege escalation`);
          assert.equal(c.securityContext?.readOnlyRootFilesystem, true, `${at}: read-only root filesystem`);
          assert.deepEqual(c.securityContext?.capabilities?.drop, ['ALL'], `${at}: drops ALL capabilities`);
          assert.equal(c.securityContext?.capabilities?.add, undefined, `${at}: adds no capability`);
          for (const m of c.volumeMounts ?? []) assert.ok(volumes.has(m.name) || claims.has(m.name), `${at}: the volume ${m.name} exists`);
        }
        for (const c of pod.containers) {
          const at = `${where} container ${c.name}`;
          assert.ok(c.readinessProbe, `${at}: readiness probe`);
          assert.ok(c.livenessProbe, `${at}: liveness probe`);
          for (const probe of [c.readinessProbe, c.livenessProbe, c.startupProbe]) if (probe?.httpGet) portNumber(c, probe.httpGet.port);
        }
      }
    }
  });

  test('the services probe /readyz and /healthz on their health port and keep their data on an emptyDir', () => {
    for (const overlay of overlays) {
      const objects = builds[overlay].objects;
      for (const service of services) {
        const w = one<Workload>(objects, 'Deployment', service);
        const c = container(w);
        const env = environmentOf(objects, c);
        const healthPort = configured(service, env, healthPortVariable[service]);
        assert.equal(c.readinessProbe?.httpGet?.path, '/readyz', `${overlay}: ${service} readiness on /readyz`);
        assert.equal(c.livenessProbe?.httpGet?.path, '/healthz', `${overlay}: ${service} liveness on /healthz`);
        assert.equal(portNumber(c, c.readinessProbe.httpGet.port), healthPort, `${overlay}: ${service} probes its configured health port`);
        assert.equal(portNumber(c, c.livenessProbe.httpGet.port), healthPort);
        assert.ok(
          c.ports?.some((p) => p.containerPort === healthPort),
          `${overlay}: ${service} declares its health port`,
        );
        const host = configured(service, env, healthPortVariable[service].replace(/_PORT$/, '_HOST'));
        assert.equal(host, '0.0.0.0', `${overlay}: ${service} listens beyond loopback, or the kubelet cannot probe it`);
        const annotations = w.spec.template.metadata.annotations ?? {};
        assert.equal(annotations['prometheus.io/port'], String(healthPort), `${overlay}: ${service}'s /metrics is scraped on its health port`);
        const dataDir = String(configured(service, env, 'MICROSEG_DATA_DIR'));
        const mount = c.volumeMounts?.find((m) => m.mountPath === dataDir);
        assert.ok(mount, `${overlay}: ${service} mounts a volume at MICROSEG_DATA_DIR (${dataDir})`);
        assert.ok(w.spec.template.spec.volumes?.find((v) => v.name === mount.name)?.emptyDir, `${overlay}: ${service}'s data dir is an emptyDir`);
      }
    }
  });

  test("every service's environment is exactly what its schema reads, and it parses", () => {
    for (const overlay of overlays) {
      const objects = builds[overlay].objects;
      for (const service of services) {
        const env = environmentOf(objects, container(one<Workload>(objects, 'Deployment', service)));
        assert.deepEqual(environmentProblems(service, env), [], overlay);
        assert.doesNotThrow(() => parseConfig(serviceSchemas[service], withSecretsResolved(env)), `${overlay}: ${service}'s configuration parses`);
      }
    }
  });

  test('the Secret comes from a gitignored file; its example placeholders are refused', () => {
    const gitignore = readText('deploy/.gitignore');
    assert.match(gitignore, /^k8s\/overlays\/\*\/secrets\.env$/m);
    for (const overlay of overlays) {
      const k = readYaml<{ secretGenerator: Array<{ name: string; envs?: string[]; files?: string[] }> }>('deploy/k8s/overlays', overlay, 'kustomization.yaml');
      assert.deepEqual(
        k.secretGenerator.filter((g) => g.envs).map((g) => [g.name, g.envs]),
        [['microseg-secrets', ['secrets.env']]],
      );
      // The credentials' Secrets come from the generator's files, gitignored too.
      for (const g of k.secretGenerator.filter((x) => x.files))
        for (const f of g.files!) assert.match(f, /^credentials\//, `${overlay}: ${g.name} reads the generated credentials`);
      assert.match(gitignore, /^k8s\/overlays\/\*\/credentials\/$/m);
      assert.match(gitignore, /^k8s\/overlays\/\*\/credentials-store\/$/m);
      const example = Object.fromEntries(
        readText('deploy/k8s/overlays', overlay, 'secrets.env.example')
          .split('\n')
          .filter((l) => /^[A-Z]/.test(l))
          .map((l) => l.split('=') as [string, string]),
      );
      assert.equal(example['POLICY_ADMIN_TOKEN'], 'REPLACE_ME');
      assert.throws(
        () => parseConfig(serviceSchemas.policy, { POLICY_SECRETS_KEY: example['POLICY_SECRETS_KEY'] }),
        /POLICY_SECRETS_KEY/,
        `${overlay}: the example's secrets key is refused`,
      );
      // Every key the manifests read from the Secret is in the example.
      for (const o of workloads(builds[overlay].objects)) {
        for (const c of [...o.spec.template.spec.containers, ...(o.spec.template.spec.initContainers ?? [])]) {
          for (const e of c.env ?? [])
            if (e.valueFrom?.secretKeyRef)
              assert.ok(e.valueFrom.secretKeyRef.key in example, `${overlay}: ${e.valueFrom.secretKeyRef.key} is in secrets.env.example`);
        }
      }
    }
    for (const file of ['base', 'overlays/dev', 'overlays/prod']) assert.doesNotMatch(readText('deploy/k8s', file, 'kustomization.yaml'), /kind:\s*Secret/);
  });

  test("the gateway is a LoadBalancer on 443 to the demo service's exposedPort", () => {
    const exposedPort = demoService().exposedPort;
    for (const overlay of overlays) {
      const objects = builds[overlay].objects;
      const svc = one<ServiceObject>(objects, 'Service', 'gateway');
      const gateway = one<Workload>(objects, 'Deployment', 'gateway');
      assert.equal(svc.spec.type, 'LoadBalancer');
      assert.equal(svc.spec.ports.length, 1);
      assert.equal(svc.spec.ports[0]!.port, 443);
      assert.equal(portNumber(container(gateway), svc.spec.ports[0]!.targetPort!), exposedPort, `${overlay}: 443 → ${exposedPort}`);
      assert.ok(selects({ matchLabels: svc.spec.selector }, gateway.spec.template.metadata.labels));
      const units = configMapData(objects, 'gateway-processing-units');
      const env = environmentOf(objects, container(gateway));
      const mount = container(gateway).volumeMounts!.find((m) => env['GATEWAY_PROCESSING_UNITS']!.startsWith(`${m.mountPath}/`));
      assert.ok(mount, `${overlay}: GATEWAY_PROCESSING_UNITS is inside a mounted volume`);
      assert.equal(gateway.spec.template.spec.volumes!.find((v) => v.name === mount.name)?.configMap?.name, 'gateway-processing-units');
      assert.ok(units[env['GATEWAY_PROCESSING_UNITS']!.slice(mount.mountPath.length + 1)], `${overlay}: the processing units file is a key of the ConfigMap`);
    }
  });

  test('every Service targets a declared port of the pods it selects; NATS_URL and REDIS_URL name Services', () => {
    for (const overlay of overlays) {
      const objects = builds[overlay].objects;
      for (const svc of objectsOf(objects, 'Service') as ServiceObject[]) {
        const pods = workloads(objects).filter((w) => selects({ matchLabels: svc.spec.selector }, w.spec.template.metadata.labels));
        assert.equal(pods.length, 1, `${overlay}: Service ${svc.metadata.name} selects one workload`);
        for (const port of svc.spec.ports) portNumber(container(pods[0]!), port.targetPort ?? port.port);
      }
      const common = configMapData(objects, 'microseg-common');
      const nats = new URL(common['NATS_URL']!);
      const natsService = one<ServiceObject>(objects, 'Service', nats.hostname);
      assert.ok(
        natsService.spec.ports.some((p) => p.port === Number(nats.port)),
        `${overlay}: NATS_URL's port is the nats Service's`,
      );
      if (overlay === 'dev') {
        const redis = new URL(secretData(objects, 'microseg-secrets')['REDIS_URL']!);
        assert.ok(
          one<ServiceObject>(objects, 'Service', redis.hostname).spec.ports.some((p) => p.port === Number(redis.port)),
          'dev: REDIS_URL names the redis Service',
        );
      }
    }
  });

  test('NATS is a three-node JetStream cluster with routes through its headless Service', () => {
    for (const overlay of overlays) {
      const objects = builds[overlay].objects;
      const sts = one<Workload>(objects, 'StatefulSet', 'nats');
      assert.equal(sts.spec.replicas, 3);
      const headless = one<ServiceObject>(objects, 'Service', sts.spec.serviceName!);
      assert.equal(headless.spec.clusterIP, 'None');
      assert.equal(headless.spec.publishNotReadyAddresses, true);
      const conf = configMapData(objects, 'nats-config')['nats.conf']!;
      assert.match(conf, /jetstream\s*\{[^}]*store_dir:\s*\/data/);
      const routes = [...conf.matchAll(/nats:\/\/([a-z0-9-]+)\.([a-z0-9-]+):(\d+)/g)].map((m) => ({ pod: m[1], service: m[2], port: Number(m[3]) }));
      assert.deepEqual(
        routes.map((r) => r.pod),
        ['nats-0', 'nats-1', 'nats-2'],
      );
      const cluster = container(sts).ports!.find((p) => p.name === 'cluster')!.containerPort;
      for (const r of routes) assert.deepEqual([r.service, r.port], [headless.metadata.name, cluster]);
      assert.match(conf, /server_name:\s*\$SERVER_NAME/);
      assert.ok(container(sts).env?.some((e) => e.name === 'SERVER_NAME' && e.valueFrom?.fieldRef?.fieldPath === 'metadata.name'));
      assert.ok(
        sts.spec.volumeClaimTemplates?.some((c) => container(sts).volumeMounts?.some((m) => m.name === c.metadata.name && m.mountPath === '/data')),
        'JetStream stores on a persistent volume',
      );
      assert.match(container(sts).image, /^nats:2\.10/);
    }
    // Redis: a StatefulSet in dev, a managed service (REDIS_URL in the Secret) in prod.
    assert.ok(one<Workload>(builds.dev.objects, 'StatefulSet', 'redis'));
    assert.ok(!builds.prod.objects.some((o) => o.metadata.name === 'redis'));
  });

  test('NATS and Redis on TLS with one identity per service; each pod mounts its own credentials Secret and no other', () => {
    for (const overlay of overlays) {
      const objects = builds[overlay].objects;
      const conf = configMapData(objects, 'nats-config')['nats.conf']!;
      assert.match(conf, /^tls \{\s*cert_file: \/etc\/nats-secrets\/tls\.crt/m, 'clients speak TLS');
      assert.match(conf, /cluster \{[\s\S]*tls \{[\s\S]*verify: true/, 'routes authenticate each other');
      assert.match(conf, /^include \.\.\/nats-secrets\/authorization\.conf$/m, 'the users and their permissions');
      const natsSecret = secretData(objects, 'nats-credentials');
      assert.match(natsSecret['authorization.conf']!, /authorization \{/);
      for (const service of services) {
        const w = one<Workload>(objects, 'Deployment', service);
        const env = environmentOf(objects, container(w));
        assert.match(env['NATS_URL']!, /^tls:\/\//, `${overlay}: ${service} reaches NATS over TLS`);
        const secrets = (w.spec.template.spec.volumes ?? []).filter((v) => v.secret).map((v) => (v.secret as { secretName: string }).secretName);
        assert.deepEqual(secrets, [`${service}-credentials`], `${overlay}: ${service} mounts its own credentials only`);
        const own = secretData(objects, `${service}-credentials`);
        const seed = own['nats.nk']!.trim();
        assert.match(seed, /^SU[A-Z2-7]{56}$/);
        for (const other of services.filter((o) => o !== service))
          assert.notEqual(secretData(objects, `${other}-credentials`)['nats.nk']!.trim(), seed, `${service} and ${other} are distinct identities`);
        assert.ok(!natsSecret['authorization.conf']!.includes(seed), 'the server holds public keys only');
        assert.equal(
          env['REDIS_PASSWORD_FILE'] !== undefined,
          'redis.password' in own,
          `${overlay}: ${service} has a Redis password exactly when it uses Redis`,
        );
      }
    }
    const redis = container(one<Workload>(builds.dev.objects, 'StatefulSet', 'redis')).args!.join(' ');
    assert.match(redis, /--port 0 --tls-port 6379/);
    assert.match(redis, /--aclfile \/etc\/redis-secrets\/users\.acl/);
    assert.match(secretData(builds.dev.objects, 'redis-credentials')['users.acl']!, /^user default off/m);
  });

  test('network policies: default deny; only the gateway is reachable from outside the namespace; services reach each other through NATS only', () => {
    for (const overlay of overlays) {
      const objects = builds[overlay].objects;
      const policies = objectsOf(objects, 'NetworkPolicy') as NetworkPolicy[];
      const deny = policies.find((p) => Object.keys(p.spec.podSelector).length === 0 && p.spec.policyTypes?.includes('Ingress') && !p.spec.ingress);
      assert.ok(deny, `${overlay}: a default deny of ingress`);
      for (const p of policies) assert.deepEqual(p.spec.policyTypes, ['Ingress'], `${overlay}: ${p.metadata.name} is about ingress`);

      const pods = workloads(objects).map((w) => ({ name: w.metadata.name, labels: w.spec.template.metadata.labels, c: container(w) }));
      /** Who may reach a pod, on which ports: 'world', 'monitoring' or another pod's name. */
      const admitted = (pod: (typeof pods)[number]) => {
        const out: Array<{ from: string; ports: number[] }> = [];
        for (const p of policies.filter((q) => selects(q.spec.podSelector, pod.labels))) {
          for (const rule of p.spec.ingress ?? []) {
            const ports = (rule.ports ?? []).map((x) => portNumber(pod.c, x.port!));
            assert.ok(ports.length > 0, `${overlay}: ${p.metadata.name} names its ports`);
            if (!rule.from || rule.from.length === 0) {
              out.push({ from: 'world', ports });
              continue;
            }
            for (const peer of rule.from) {
              assert.equal(peer.ipBlock, undefined, `${overlay}: ${p.metadata.name} admits no address block`);
              if (peer.namespaceSelector) {
                assert.equal(peer.podSelector, undefined);
                assert.deepEqual(
                  peer.namespaceSelector,
                  { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } },
                  `${overlay}: ${p.metadata.name}: the only other namespace admitted is monitoring`,
                );
                out.push({ from: 'monitoring', ports });
              } else for (const other of pods.filter((o) => selects(peer.podSelector!, o.labels))) out.push({ from: other.name, ports });
            }
          }
        }
        return out;
      };
      const healthPorts = Object.fromEntries(
        services.map((s) => [s, configured(s, environmentOf(objects, container(one<Workload>(objects, 'Deployment', s))), healthPortVariable[s]) as number]),
      );
      for (const pod of pods) {
        const rules = admitted(pod);
        const world = rules.filter((r) => r.from === 'world');
        if (pod.name === 'gateway')
          assert.deepEqual(
            world.flatMap((r) => r.ports),
            [demoService().exposedPort],
            `${overlay}: the world reaches the gateway on its exposed port only`,
          );
        else assert.deepEqual(world, [], `${overlay}: nothing outside the namespace reaches ${pod.name}`);
        for (const r of rules.filter((x) => x.from === 'monitoring')) {
          assert.ok((services as string[]).includes(pod.name), `${overlay}: monitoring reaches only the services`);
          assert.ok(r.ports.includes(healthPorts[pod.name]!), `${overlay}: monitoring reaches ${pod.name}'s metrics port`);
        }
        if ((services as string[]).includes(pod.name)) {
          const fromServices = rules.filter((r) => (services as string[]).includes(r.from));
          assert.deepEqual(fromServices, [], `${overlay}: no service reaches ${pod.name} directly (only through NATS)`);
        }
      }
      const nats = pods.find((p) => p.name === 'nats')!;
      const natsClients = admitted(nats)
        .filter((r) => r.ports.includes(4222))
        .map((r) => r.from);
      assert.deepEqual([...new Set(natsClients)].sort(), [...services].sort(), `${overlay}: NATS admits the four services`);
      if (overlay === 'dev') {
        const redis = pods.find((p) => p.name === 'redis')!;
        assert.deepEqual([...new Set(admitted(redis).map((r) => r.from))].sort(), ['authn', 'flowlog']);
        assert.deepEqual(
          admitted(pods.find((p) => p.name === 'demo-app')!).map((r) => r.from),
          ['gateway'],
        );
        assert.deepEqual(
          admitted(pods.find((p) => p.name === 'demo-idp')!).map((r) => r.from),
          ['authn'],
        );
      }
    }
  });

  test('dev: the demo objects and processing units are those of deploy/demo, bootstrapped through an init container', () => {
    const objects = builds.dev.objects;
    const inOverlay = configMapData(objects, 'demo-objects')['objects.yaml']!;
    assert.deepEqual(parse(inOverlay), parse(readText('deploy/demo/objects.yaml')), 'deploy/k8s/overlays/dev/objects.yaml is deploy/demo/objects.yaml');
    const units = parse(configMapData(objects, 'gateway-processing-units')['processing-units.yaml']!) as ProcessingUnitsFile;
    assert.deepEqual(unitsWithoutAddress(units), unitsWithoutAddress(readYaml<ProcessingUnitsFile>('deploy/demo/gateway.yaml')));
    for (const unit of units.processingunits) one<ServiceObject>(objects, 'Service', unit.address);
    const app = one<ServiceObject>(objects, 'Service', units.processingunits[0]!.address);
    assert.ok(
      app.spec.ports.some((p) => p.port === demoService().port),
      "the demo app's Service serves the demo service's port",
    );

    const policy = one<Workload>(objects, 'Deployment', 'policy');
    const init = policy.spec.template.spec.initContainers?.find((c) => c.args?.[0] === 'init-demo');
    assert.ok(init, 'an init container renders the demo objects');
    const [, flag, template, out] = init.args!;
    assert.equal(flag, '--render');
    const bootstrap = environmentOf(objects, container(policy))['POLICY_BOOTSTRAP_FILES'];
    assert.equal(bootstrap, out, 'POLICY_BOOTSTRAP_FILES names what the init container writes');
    const shared = init.volumeMounts!.find((m) => out!.startsWith(`${m.mountPath}/`))!;
    assert.ok(
      container(policy).volumeMounts!.some((m) => m.name === shared.name && m.mountPath === shared.mountPath),
      'the init container writes to a volume the policy container reads',
    );
    const source = init.volumeMounts!.find((m) => template!.startsWith(`${m.mountPath}/`))!;
    assert.equal(policy.spec.template.spec.volumes!.find((v) => v.name === source.name)?.configMap?.name, 'demo-objects');
    const env = environmentOf(objects, init);
    const rendered = inOverlay.replaceAll('${DEMO_CLIENT_SECRET}', env['DEMO_CLIENT_SECRET']!);
    assert.ok(parseImportDocument(rendered, 'dev objects').length > 0, 'the rendered objects are a valid import');

    // The demo IdP and authn agree on the client secret; authn reaches the IdP at the issuer's port.
    const idp = one<Workload>(objects, 'Deployment', 'demo-idp');
    assert.equal(environmentOf(objects, container(idp))['DEMO_CLIENT_SECRET'], env['DEMO_CLIENT_SECRET']);
    const issuer = new URL(demoService().OIDCProviderURL);
    const forward = environmentOf(objects, container(one<Workload>(objects, 'Deployment', 'authn')))['MICROSEG_LOOPBACK_FORWARD']!;
    const [local, target] = forward.split('=');
    assert.equal(Number(local), Number(issuer.port), "authn relays the issuer's port");
    const [host, port] = target!.split(':');
    assert.ok(
      one<ServiceObject>(objects, 'Service', host!).spec.ports.some((p) => p.port === Number(port)),
      'to the demo-idp Service',
    );
    assert.equal(portNumber(container(idp), 'http'), Number(environmentOf(objects, container(idp))['DEMO_IDP_PORT']));
  });

  test('the images: one microseg image for every service and the demo, pinned per overlay', () => {
    for (const overlay of overlays) {
      const images = new Set(
        workloads(builds[overlay].objects)
          .filter((w) => w.metadata.labels?.['app.kubernetes.io/component'] !== 'bus' && w.metadata.labels?.['app.kubernetes.io/component'] !== 'cache')
          .map((w) => container(w).image),
      );
      assert.equal(images.size, 1, `${overlay}: ${[...images].join(', ')}`);
      assert.match([...images][0]!, /:[\w.-]+$/, `${overlay}: the image has a tag`);
    }
  });
});
