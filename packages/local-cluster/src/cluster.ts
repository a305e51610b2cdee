// Runs the whole cluster on one machine: NATS, Redis, the demo OpenID
// Provider, the demo application and the four services as processes. Used by
// `npm start` (fixed ports) and by end-to-end tests (free ports, private servers).
// Both run the secure configuration: credentials generated at first start into
// <dataDir>/secrets (an nkey per service, a Redis ACL user per service, a CA),
// NATS and Redis of our own on TLS that refuse anonymous clients, and every
// service connecting with its own identity and nothing more.
//
// Why over 300 lines: the start order and its wiring (servers, credentials, each service's environment)
// read best in one place; ports, servers and the demo's files are already in ports.ts, servers.ts and
// demo-files.ts.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { natsConnection, redisConnection, type NatsConnection, type RedisConnection } from '@microseg/config';
import { freePort, isListening, waitFor } from './ports.ts';
import { ensureCredentials, type CredentialSet, type BusIdentity, type RedisIdentity } from '@microseg/credentials';
import { startNats, startRedis, type RunningServer } from './servers.ts';
import { renderConsoleObjects, renderDemoObjects, renderGatewayFile } from './demo-files.ts';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

export type ServiceName = 'policy' | 'authn' | 'flowlog' | 'gateway';
export const serviceNames: readonly ServiceName[] = ['policy', 'authn', 'flowlog', 'gateway'];

export interface ClusterPorts {
  gateway: number;
  /** The exposedPort the walkthrough's service uses (registered at the demo IdP). */
  walkthrough: number;
  /** The exposedPort of the console behind the gateway, with single sign-on (deploy/demo/console.yaml). */
  console: number;
  idp: number;
  app: number;
  policy: number;
  authn: number;
  flowlog: number;
  gatewayAdmin: number;
  /** Our own NATS and Redis (TLS); not the machine's usual 4222 and 6379, which run without credentials. */
  nats: number;
  redis: number;
}

export const defaultPorts: ClusterPorts = {
  gateway: 8443,
  walkthrough: 9443,
  console: 8444,
  idp: 9400,
  app: 3000,
  policy: 7070,
  authn: 7071,
  flowlog: 7080,
  gatewayAdmin: 7090,
  nats: 4223,
  redis: 6380,
};

/** The services the demo application plays (`aud` of their assertions): the demo's own and the walkthrough's. */
export const DEMO_APP_AUDIENCES = ['/acme/team-b/dev/private-app/private-app', '/acme/team-c/walkthrough/nginx'];

export interface Replica {
  /** `authn#2` */
  key: string;
  /** Its health/API port. */
  port: number;
  url: string;
  /** For a gateway replica: its HTTPS origin by address (send Host: localhost). */
  gatewayUrl?: string;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  dataDir: string;
  ports?: Partial<ClusterPorts>;
  /** Tests: free ports and private NATS/Redis. */
  isolated?: boolean;
  natsUrl?: string;
  redisUrl?: string;
  /** Where service output goes: a directory of log files (default dataDir/logs). */
  logDir?: string;
  /** Extra environment for every service. */
  env?: Record<string, string>;
  /** Extra environment for the demo IdP (token lifetimes, refresh-token rotation, …). */
  idpEnv?: Record<string, string>;
  /** Extra environment for the demo application (how it verifies identity assertions, …). */
  appEnv?: Record<string, string>;
  logLevel?: string;
  /**
   * More ports the gateway's file allows than the cluster's own (the gateway and walkthrough ports, the demo
   * app's port): for tests that put another application, or another exposed port, behind the gateway.
   */
  gatewayPorts?: { exposed?: number[]; application?: number[] };
  /**
   * Extra Node.js options per service (before the entry file), e.g. `{ gateway: ['--cpu-prof'] }`.
   * Read at every start, so a caller may change it before `startService` (benchmarks profiling one run).
   */
  nodeArgs?: Partial<Record<ServiceName, string[]>>;
}

export interface Cluster {
  ports: ClusterPorts;
  natsUrl: string;
  /** Where Redis is (no credentials in it; `redisOptions` has them). */
  redisUrl: string;
  /** The generated credentials (seeds, passwords, CA) in <dataDir>/secrets. */
  credentials: CredentialSet;
  /** How to connect to NATS as one identity (default `admin`: everything), for `Bus.connect({ connection })`. */
  natsConnection(identity?: BusIdentity): NatsConnection;
  /** ioredis options for one Redis user (default `admin`), TLS included. */
  redisOptions(identity?: RedisIdentity): RedisConnection;
  gatewayUrl: string;
  /** The console through the gateway, with single sign-on (`https://localhost:<console port>`). */
  consoleUrl: string;
  idpUrl: string;
  appUrl: string;
  flowlogUrl: string;
  policyUrl: string;
  clientSecret: string;
  /** The bootstrap admin API token the policy service generated. */
  adminToken: string;
  logDir: string;
  stopService(name: ServiceName | 'idp' | 'app'): Promise<void>;
  startService(name: ServiceName | 'idp' | 'app'): Promise<void>;
  /** Stop and start NATS or Redis (fault tests): same port, same data. Only for servers the cluster started. */
  stopServer(name: 'nats' | 'redis'): Promise<void>;
  startServer(name: 'nats' | 'redis'): Promise<void>;
  /**
   * Start replica number `replica` (2, 3, …) of a service beside the first, on its own health port;
   * a gateway replica listens on 127.0.0.<replica+1> with the same exposed ports. `extra` adds environment.
   */
  startReplica(name: ServiceName, replica: number, extra?: Record<string, string>): Promise<Replica>;
  /** The process id of a running service (`gateway`, `authn#2`, `idp`, `app`), for CPU and memory readings. */
  pid(key: string): number | undefined;
  stop(): Promise<void>;
}

async function resolvePorts(options: ClusterOptions): Promise<ClusterPorts> {
  const ports = { ...defaultPorts, ...options.ports };
  if (options.isolated) for (const key of Object.keys(ports) as (keyof ClusterPorts)[]) if (options.ports?.[key] === undefined) ports[key] = await freePort();
  return ports;
}

async function loadOrCreateSecret(file: string): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch {
    const secret = randomBytes(24).toString('base64url');
    await writeFile(file, secret, { mode: 0o600 });
    return secret;
  }
}

async function httpOk(url: string): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(1_000) });
  return res.ok;
}

/** A gateway is ready when its /readyz says so and, with several workers (GATEWAY_WORKERS), every one is. */
async function gatewayReady(url: string): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
  if (!res.ok) return false;
  const body = (await res.json()) as { workers?: Array<{ ready: boolean }> };
  return (body.workers ?? []).every((w) => w.ready);
}

export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const dataDir = resolve(options.dataDir);
  const logDir = resolve(options.logDir ?? join(dataDir, 'logs'));
  await mkdir(join(dataDir, 'demo'), { recursive: true, mode: 0o700 });
  await mkdir(logDir, { recursive: true });
  const ports = await resolvePorts(options);
  const isolated = Boolean(options.isolated);

  const servers: RunningServer[] = [];
  const children = new Map<string, ChildProcess>();
  // Never leave services behind when this process ends, however it ends.
  process.once('exit', () => {
    for (const child of children.values()) child.kill('SIGTERM');
  });
  const stopAll = async () => {
    await Promise.all([...children.keys()].map((name) => stopChild(name)));
    await Promise.all(servers.map((s) => s.stop()));
  };

  const stopChild = (name: string) =>
    new Promise<void>((done) => {
      const child = children.get(name);
      children.delete(name);
      if (!child || child.exitCode !== null || child.signalCode !== null) return done();
      const kill = setTimeout(() => child.kill('SIGKILL'), 15_000);
      child.once('exit', () => {
        clearTimeout(kill);
        done();
      });
      child.kill('SIGTERM');
    });

  try {
    const credentials = await ensureCredentials(join(dataDir, 'secrets'));
    const nats = await startNats({ url: options.natsUrl, dataDir, isolated, defaultPort: ports.nats, secure: credentials });
    servers.push(nats);
    const redis = await startRedis({ url: options.redisUrl, dataDir, isolated, defaultPort: ports.redis, secure: credentials });
    servers.push(redis);
    // Servers we started trust our CA; given ones bring their own (NATS_TLS_CA_FILE, REDIS_TLS_CA_FILE in our environment).
    const natsCa: Record<string, string> =
      nats.origin === 'process' ? { NATS_TLS_CA_FILE: credentials.tls.caFile } : pick(process.env, ['NATS_TLS_CA', 'NATS_TLS_CA_FILE']);
    const redisCa: Record<string, string> =
      redis.origin === 'process' ? { REDIS_TLS_CA_FILE: credentials.tls.caFile } : pick(process.env, ['REDIS_TLS_CA', 'REDIS_TLS_CA_FILE']);
    const busIdentity = (identity: BusIdentity) => ({ NATS_URL: nats.url, NATS_NKEY_SEED_FILE: credentials.nats.seedFiles[identity], ...natsCa });
    const redisUser = (identity: RedisIdentity) => ({
      REDIS_URL: redis.url,
      REDIS_USERNAME: identity,
      REDIS_PASSWORD_FILE: credentials.redis.passwordFiles[identity],
      ...redisCa,
    });

    const idpUrl = `http://localhost:${ports.idp}`;
    const gatewayUrl = `https://localhost:${ports.gateway}`;
    const clientSecret = await loadOrCreateSecret(join(dataDir, 'demo', 'client-secret'));
    const objectsFile = join(dataDir, 'demo', 'objects.yaml');
    await renderDemoObjects(repoRoot, ports, idpUrl, clientSecret, objectsFile);
    const consoleObjectsFile = join(dataDir, 'demo', 'console.yaml');
    await renderConsoleObjects(repoRoot, ports, idpUrl, clientSecret, consoleObjectsFile);
    const consoleUrl = `https://localhost:${ports.console}`;
    const gatewayFile = join(dataDir, 'demo', 'gateway.yaml');
    await renderGatewayFile(repoRoot, ports, options.gatewayPorts, gatewayFile);

    const common = {
      MICROSEG_DATA_DIR: dataDir,
      LOG_LEVEL: options.logLevel ?? 'info',
      ...options.env,
    };
    const envs: Record<string, Record<string, string>> = {
      idp: {
        DEMO_IDP_PORT: String(ports.idp),
        DEMO_CLIENT_SECRET: clientSecret,
        DEMO_REDIRECT_URI: `${gatewayUrl}/aporeto/oidc/callback`,
        DEMO_WALKTHROUGH_REDIRECT_URI: `https://localhost:${ports.walkthrough}/aporeto/oidc/callback`,
        DEMO_CONSOLE_REDIRECT_URI: `${consoleUrl}/aporeto/oidc/callback`,
        ...options.idpEnv,
      },
      app: {
        DEMO_APP_PORT: String(ports.app),
        // The demo app verifies microseg's identity assertions against the gateway's key set, over TLS, trusting
        // the certificate the gateway generates for localhost (read when the key set is fetched).
        DEMO_APP_JWKS_URL: `${gatewayUrl}/.well-known/microseg/jwks.json`,
        DEMO_APP_JWKS_CA_FILE: join(dataDir, 'gateway', 'certs', 'localhost.crt'),
        DEMO_APP_ASSERTION_AUDIENCES: DEMO_APP_AUDIENCES.join(','),
        ...(options.env?.POLICY_ASSERTION_ISSUER ? { DEMO_APP_ASSERTION_ISSUER: options.env.POLICY_ASSERTION_ISSUER } : {}),
        ...options.appEnv,
      },
      policy: {
        ...busIdentity('policy'),
        ...common,
        POLICY_PORT: String(ports.policy),
        POLICY_BOOTSTRAP_FILES: `${objectsFile},${consoleObjectsFile}`,
        OTEL_SERVICE_NAME: 'microseg-policy',
      },
      authn: { ...busIdentity('authn'), ...redisUser('authn'), ...common, AUTHN_PORT: String(ports.authn), OTEL_SERVICE_NAME: 'microseg-authn' },
      flowlog: { ...busIdentity('flowlog'), ...redisUser('flowlog'), ...common, FLOWLOG_PORT: String(ports.flowlog), OTEL_SERVICE_NAME: 'microseg-flowlog' },
      gateway: {
        ...busIdentity('gateway'),
        // One process unless the caller asks for workers (env: { GATEWAY_WORKERS }): the default, one per CPU,
        // would make every test's gateway a cluster.
        GATEWAY_WORKERS: '1',
        ...common,
        GATEWAY_ID: isolated ? `test-${ports.gateway}` : 'local',
        GATEWAY_PROCESSING_UNITS: gatewayFile,
        GATEWAY_LISTEN_HOST: '127.0.0.1',
        GATEWAY_ADMIN_PORT: String(ports.gatewayAdmin),
        OTEL_SERVICE_NAME: 'microseg-gateway',
      },
    };
    const readiness: Record<string, () => Promise<boolean>> = {
      idp: () => httpOk(`${idpUrl}/.well-known/openid-configuration`),
      app: () => isListening('127.0.0.1', ports.app),
      policy: () => httpOk(`http://127.0.0.1:${ports.policy}/readyz`),
      authn: () => httpOk(`http://127.0.0.1:${ports.authn}/readyz`),
      flowlog: () => httpOk(`http://127.0.0.1:${ports.flowlog}/readyz`),
      gateway: () => gatewayReady(`http://127.0.0.1:${ports.gatewayAdmin}/readyz`),
    };
    const entry = (name: string) =>
      name === 'idp' || name === 'app'
        ? [join(repoRoot, 'packages/demo/src/main.ts'), name]
        : [...serviceNodeArgs(name as ServiceName), join(repoRoot, `services/${name}/src/main.ts`)];

    /** `key` names the process (`authn`, or `authn#2` for a replica); `name` is the service it runs. */
    const startChild = async (key: string, name = key, env: Record<string, string> = envs[name]!, ready: () => Promise<boolean> = readiness[name]!) => {
      const log = createWriteStream(join(logDir, `${key}.log`), { flags: 'a' });
      const child = spawn(process.execPath, [...(options.nodeArgs?.[name as ServiceName] ?? []), ...entry(name)], {
        cwd: repoRoot,
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...pickOtel(process.env), ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child.stdout.pipe(log, { end: false });
      child.stderr.pipe(log, { end: false });
      let exited = false;
      child.once('exit', () => (exited = true));
      children.set(key, child);
      await waitFor(
        `${key} to be ready (log: ${join(logDir, `${key}.log`)})`,
        async () => {
          if (exited) throw new Error(`${key} exited with code ${child.exitCode}; see ${join(logDir, `${key}.log`)}`);
          return ready();
        },
        30_000,
      ).catch((err: Error) => {
        if (exited) throw new Error(`${key} exited with code ${child.exitCode}; see ${join(logDir, `${key}.log`)}`);
        throw err;
      });
    };

    /** Another process of a service on its own ports (a gateway replica listens on another loopback address). */
    const startReplica = async (name: ServiceName, replica: number, extra: Record<string, string> = {}): Promise<Replica> => {
      const key = `${name}#${replica}`;
      const port = await freePort();
      const own: Record<string, Record<string, string>> = {
        policy: { POLICY_PORT: String(port) },
        authn: { AUTHN_PORT: String(port) },
        flowlog: { FLOWLOG_PORT: String(port) },
        gateway: { GATEWAY_ADMIN_PORT: String(port), GATEWAY_ID: `${envs.gateway!.GATEWAY_ID}-${replica}`, GATEWAY_LISTEN_HOST: `127.0.0.${1 + replica}` },
      };
      const readyz = `http://127.0.0.1:${port}/readyz`;
      await startChild(key, name, { ...envs[name]!, ...own[name], ...extra }, () => (name === 'gateway' ? gatewayReady(readyz) : httpOk(readyz)));
      return {
        key,
        port,
        url: `http://127.0.0.1:${port}`,
        gatewayUrl: name === 'gateway' ? `https://127.0.0.${1 + replica}:${ports.gateway}` : undefined,
        stop: () => stopChild(key),
      };
    };

    await Promise.all([startChild('idp'), startChild('app')]);
    await startChild('policy');
    await Promise.all([startChild('authn'), startChild('flowlog')]);
    await startChild('gateway');

    const adminToken = (await readFile(join(dataDir, 'policy', 'admin-token'), 'utf8')).trim();
    return {
      ports,
      adminToken,
      natsUrl: nats.url,
      redisUrl: redis.url,
      credentials,
      natsConnection: (identity = 'admin') =>
        natsConnection({
          NATS_URL: nats.url,
          NATS_NKEY_SEED: credentials.nats.seeds[identity],
          NATS_TLS_CA: nats.origin === 'process' ? credentials.tls.ca : undefined,
        }),
      redisOptions: (identity = 'admin') =>
        redisConnection({
          REDIS_URL: redis.url,
          REDIS_USERNAME: identity,
          REDIS_PASSWORD: credentials.redis.passwords[identity],
          REDIS_TLS_CA: redis.origin === 'process' ? credentials.tls.ca : undefined,
          REDIS_SENTINELS: [],
          REDIS_SENTINEL_NAME: '',
        }),
      gatewayUrl,
      consoleUrl,
      idpUrl,
      appUrl: `http://127.0.0.1:${ports.app}`,
      flowlogUrl: `http://127.0.0.1:${ports.flowlog}`,
      policyUrl: `http://127.0.0.1:${ports.policy}`,
      clientSecret,
      logDir,
      stopService: (name) => stopChild(name),
      startService: (name) => startChild(name),
      startReplica,
      pid: (key) => children.get(key)?.pid,
      stopServer: (name) => (name === 'nats' ? nats : redis).stop(),
      async startServer(name) {
        const server = name === 'nats' ? nats : redis;
        if (!server.start) throw new Error(`${name} was not started by the cluster (it is ${server.origin}); it cannot be restarted`);
        await server.start();
      },
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

function pickOtel(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[0].startsWith('OTEL_') && typeof e[1] === 'string'));
}

/**
 * Node's arguments for each service, as the container image's entrypoint gives them (deploy/docker/entrypoint.sh;
 * test/deploy checks that both agree). The gateway: a small young generation and a bounded old one (its caches
 * are bounded; bench/results: RSS with 10,000 live sessions), and telemetry without the ES module loader hook.
 */
export function serviceNodeArgs(name: ServiceName): string[] {
  if (name === 'gateway') return [...GATEWAY_V8_FLAGS, '--import', '@microseg/telemetry/start'];
  return ['--import', '@microseg/telemetry/register'];
}

export const GATEWAY_V8_FLAGS = ['--max-semi-space-size=4', '--max-old-space-size=256'];

function pick(env: NodeJS.ProcessEnv, names: readonly string[]): Record<string, string> {
  return Object.fromEntries(names.flatMap((n) => (env[n] ? [[n, env[n]]] : [])));
}
