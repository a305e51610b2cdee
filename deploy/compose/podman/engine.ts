// What checks.ts asks of the container engine and of compose: the Docker API over DOCKER_HOST's unix
// socket (podman's here, any Docker engine's elsewhere), and compose.sh.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

export interface Container {
  Id: string;
  Names: string[];
  State: string;
  Status: string;
  Labels: Record<string, string>;
}

/** GET a path of the Docker API (`/containers/json?all=1`), parsed. */
export function engine<T>(path: string, method = 'GET'): Promise<T> {
  const host = process.env['DOCKER_HOST'] ?? '';
  if (!host.startsWith('unix://')) throw new Error(`DOCKER_HOST must name a unix socket (it is "${host}")`);
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: host.slice('unix://'.length), path, method }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if ((res.statusCode ?? 500) >= 300) reject(new Error(`${method} ${path}: HTTP ${res.statusCode} ${text}`));
        else resolve((text ? JSON.parse(text) : undefined) as T);
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/** Query string for a label filter of the Docker API. */
export function labelFilter(...labels: string[]): string {
  return `filters=${encodeURIComponent(JSON.stringify({ label: labels }))}`;
}

/** The project's containers (stopped ones too), with their compose service. */
export async function projectContainers(project: string): Promise<(Container & { service: string })[]> {
  const list = await engine<Container[]>(`/containers/json?all=1&${labelFilter(`com.docker.compose.project=${project}`)}`);
  return list.map((c) => ({ ...c, service: c.Labels['com.docker.compose.service'] ?? '' }));
}

/** A container's health (`healthy`, `starting`, `unhealthy`), or undefined when it has no check. */
export async function healthOf(id: string): Promise<string | undefined> {
  const inspected = await engine<{ State: { Health?: { Status: string } } }>(`/containers/${id}/json`);
  return inspected.State.Health?.Status || undefined;
}

function run(file: string, args: readonly string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: timeoutMs, maxBuffer: 32 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${file} ${args.join(' ')}: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/** docker-compose ARGS for deploy/compose (compose.sh); its output. */
export function compose(args: readonly string[], timeoutMs = 240_000): Promise<string> {
  return run(join(here, 'compose.sh'), args, timeoutMs);
}

/** podman ARGS (the engine's own command line, for what the Docker API has no word for). */
export function podman(args: readonly string[], timeoutMs = 60_000): Promise<string> {
  return run('podman', args, timeoutMs);
}

/** Where netavark keeps the configuration of compose's DNS server (aardvark-dns), for a root podman. */
export const aardvarkConfig = '/run/containers/networks/aardvark-dns';

/**
 * Compose's DNS has caught up (health-loop.sh): its configuration names none of the containers `gone`,
 * and the DNS server was reloaded with it as it now reads. Always true outside this setup (no
 * MICROSEG_PODMAN_RUN_DIR: a real Docker engine, whose DNS needs no help).
 */
export async function dnsSettled(gone: readonly string[] = []): Promise<boolean> {
  const runDir = process.env['MICROSEG_PODMAN_RUN_DIR'];
  if (!runDir) return true;
  const config = await run('bash', ['-c', `cat ${aardvarkConfig}/* 2>/dev/null`], 10_000);
  if (gone.some((id) => config.includes(id))) return false;
  const signature = await run('bash', ['-c', `cat ${aardvarkConfig}/* 2>/dev/null | md5sum`], 10_000);
  const loaded = await readFile(`${runDir}/dns-loaded`, 'utf8').catch(() => '');
  return loaded.trim() === signature.trim();
}
