// Real NATS (with JetStream) and Redis for the local cluster (and, through the test kit, for tests):
//   1. an explicit URL (NATS_URL / REDIS_URL) is used as it is;
//   2. otherwise a server process of our own from the installed binaries — with `secure`, the
//      configuration microseg runs in: TLS, one identity per service with least privilege (NATS nkeys
//      and permissions, Redis ACL users), anonymous clients refused;
//   3. otherwise (plain servers only) the server already running at the usual local address.
// When none is possible, the error says exactly what to install. (The test kit adds containers: it
// runs a plain server in Docker when an engine answers, before falling back to these.)
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { execFileSync } from 'node:child_process';
import { renderServerConfig, type CredentialSet } from '@microseg/credentials';
import { freePort, isListening, waitFor } from './ports.ts';

export interface RunningServer {
  url: string;
  /** How it was obtained, for logs: "env", "container" (the test kit's), "process", "existing". */
  origin: 'env' | 'container' | 'process' | 'existing';
  stop(): Promise<void>;
  /** Start again on the same port with the same data (fault tests); only for servers we started as processes. */
  start?(): Promise<void>;
}

const INSTALL = {
  nats: 'apt-get update && apt-get install -y nats-server',
  redis: 'apt-get update && apt-get install -y redis-server',
};

export function which(binary: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/usr/bin', '/usr/local/bin', '/usr/local/sbin'])) {
    try {
      execFileSync('test', ['-x', join(dir, binary)]);
      return join(dir, binary);
    } catch {
      // not here
    }
  }
  return undefined;
}

function processServer(spawnIt: () => ChildProcess, url: string, port: number): RunningServer {
  let child = spawnIt();
  process.once('exit', () => child.kill('SIGTERM'));
  return {
    url,
    origin: 'process',
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
    async start() {
      if (child.exitCode === null && child.signalCode === null) return;
      child = spawnIt();
      await waitFor(`server on port ${port}`, () => isListening('127.0.0.1', port));
    },
  };
}

export interface ServerOptions {
  /** Use this URL as it is. */
  url?: string;
  /** Store for a server process we start. */
  dataDir: string;
  /** Prefer a private server on a free port (tests) over the usual local one (the demo). */
  isolated: boolean;
  /** Port for a process we start when not isolated. */
  defaultPort: number;
  /** Run our own server with these credentials (TLS, users, permissions); never an existing or container one. */
  secure?: CredentialSet;
}

export async function startNats(options: ServerOptions): Promise<RunningServer> {
  if (options.url) return { url: options.url, origin: 'env', stop: async () => undefined };
  if (options.secure) return startSecureNats(options, options.secure);
  if (!options.isolated && (await isListening('127.0.0.1', options.defaultPort))) {
    return { url: `nats://127.0.0.1:${options.defaultPort}`, origin: 'existing', stop: async () => undefined };
  }
  const binary = which('nats-server');
  if (!binary) {
    if (await isListening('127.0.0.1', 4222)) return { url: 'nats://127.0.0.1:4222', origin: 'existing', stop: async () => undefined };
    throw new Error(`NATS is not running and nats-server is not installed. Install it with: ${INSTALL.nats}`);
  }
  const port = options.isolated ? await freePort() : options.defaultPort;
  const store = join(options.dataDir, 'nats');
  await mkdir(store, { recursive: true });
  const server = processServer(
    () => spawn(binary, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', store], { stdio: 'ignore' }),
    `nats://127.0.0.1:${port}`,
    port,
  );
  await waitFor(`nats-server on port ${port}`, () => isListening('127.0.0.1', port));
  return server;
}

export async function startRedis(options: ServerOptions): Promise<RunningServer> {
  if (options.url) return { url: options.url, origin: 'env', stop: async () => undefined };
  if (options.secure) return startSecureRedis(options, options.secure);
  if (!options.isolated && (await isListening('127.0.0.1', options.defaultPort))) {
    return { url: `redis://127.0.0.1:${options.defaultPort}`, origin: 'existing', stop: async () => undefined };
  }
  const binary = which('redis-server');
  if (!binary) {
    if (await isListening('127.0.0.1', 6379)) return { url: 'redis://127.0.0.1:6379', origin: 'existing', stop: async () => undefined };
    throw new Error(`Redis is not running and redis-server is not installed. Install it with: ${INSTALL.redis}`);
  }
  const port = options.isolated ? await freePort() : options.defaultPort;
  const dir = join(options.dataDir, 'redis');
  await mkdir(dir, { recursive: true });
  const server = processServer(
    () => spawn(binary, ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' }),
    `redis://127.0.0.1:${port}`,
    port,
  );
  await waitFor(`redis-server on port ${port}`, () => isListening('127.0.0.1', port));
  return server;
}

function required(binary: string, install: string): string {
  const path = which(binary);
  if (!path) throw new Error(`${binary} is not installed; microseg runs its own with TLS and per-service credentials. Install it with: ${install}`);
  return path;
}

/** nats-server with TLS, JetStream and the credentials' users; `tls://127.0.0.1:<port>`. */
async function startSecureNats(options: ServerOptions, credentials: CredentialSet): Promise<RunningServer> {
  const binary = required('nats-server', INSTALL.nats);
  const port = options.isolated ? await freePort() : options.defaultPort;
  const dir = join(options.dataDir, 'nats');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const configFile = join(dir, 'nats-server.conf');
  await writeFile(
    configFile,
    renderServerConfig({
      host: '127.0.0.1',
      port,
      storeDir: join(dir, 'store'),
      authorizationFile: relative(dir, credentials.nats.authorizationFile),
      tls: credentials.tls.nats,
    }),
    { mode: 0o600 },
  );
  const server = processServer(
    () => spawn(binary, ['-c', configFile, '-l', join(dir, 'nats-server.log')], { stdio: 'ignore' }),
    `tls://127.0.0.1:${port}`,
    port,
  );
  await waitFor(`nats-server on port ${port} (log: ${join(dir, 'nats-server.log')})`, () => isListening('127.0.0.1', port));
  return server;
}

/** redis-server on TLS only, with the credentials' ACL users (the default user off); `rediss://127.0.0.1:<port>`. */
async function startSecureRedis(options: ServerOptions, credentials: CredentialSet): Promise<RunningServer> {
  const binary = required('redis-server', INSTALL.redis);
  const port = options.isolated ? await freePort() : options.defaultPort;
  const dir = join(options.dataDir, 'redis');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const args = [
    '--bind',
    '127.0.0.1',
    '--port',
    '0',
    '--tls-port',
    String(port),
    '--tls-cert-file',
    credentials.tls.redis.certFile,
    '--tls-key-file',
    credentials.tls.redis.keyFile,
    '--tls-ca-cert-file',
    credentials.tls.caFile,
    '--tls-auth-clients',
    'no',
    '--aclfile',
    credentials.redis.aclFile,
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    dir,
    '--logfile',
    join(dir, 'redis-server.log'),
  ];
  const server = processServer(() => spawn(binary, args, { stdio: 'ignore' }), `rediss://127.0.0.1:${port}`, port);
  await waitFor(`redis-server on port ${port} (log: ${join(dir, 'redis-server.log')})`, () => isListening('127.0.0.1', port));
  return server;
}
