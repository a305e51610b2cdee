// Debian's nginx on loopback with its own configuration, pid, logs and temp paths in a directory of ours: one
// worker, no access log. The site is a plain TLS reverse proxy in front of the demo app (HTTP/1.1 keep-alive to
// the upstream — the fair baseline), or any other `server` and `upstream` blocks (the forward-auth site).
import { spawn, type ChildProcess } from 'node:child_process';
import { chownSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { descendantsOf } from './proc.ts';
import { isListening, waitFor } from '@microseg/testkit';

export interface NginxOptions {
  binary: string;
  /** Directory for nginx.conf, the pid file, logs and temp files. */
  dir: string;
  /** Where the site listens (waited for at start). */
  port: number;
  /** What goes inside `http { … }` besides the common settings: `upstream` and `server` blocks. */
  site: string;
}

export interface RunningNginx {
  url: string;
  masterPid: number;
  /** The single worker's pid (the process that does the proxying). */
  workerPid(): number | undefined;
  stop(): Promise<void>;
}

/** nginx as a plain TLS reverse proxy of the app on `upstreamPort`, with the given certificate. */
export function plainProxySite(o: { port: number; upstreamPort: number; certFile: string; keyFile: string }): string {
  return `  upstream app {
    server 127.0.0.1:${o.upstreamPort};
    keepalive 64;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:${o.port} ssl;
    server_name localhost;
    ssl_certificate ${o.certFile};
    ssl_certificate_key ${o.keyFile};
    ssl_protocols TLSv1.2 TLSv1.3;
    # Like the gateway (Node keeps a client connection for any number of requests).
    keepalive_requests 1000000;
    keepalive_timeout 60s;
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_set_header X-Forwarded-Proto https;
    }
  }
`;
}

export function nginxConfig(o: Pick<NginxOptions, 'dir' | 'site'>, asRoot: boolean): string {
  const t = (name: string) => join(o.dir, name);
  return `# Written by bench/run.ts: loopback only.
${asRoot ? 'user nobody nogroup;\n' : ''}worker_processes 1;
daemon off;
master_process on;
pid ${t('nginx.pid')};
error_log ${t('error.log')} warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${t('client_body')};
  proxy_temp_path ${t('proxy')};
  fastcgi_temp_path ${t('fastcgi')};
  uwsgi_temp_path ${t('uwsgi')};
  scgi_temp_path ${t('scgi')};
${o.site}}
`;
}

export async function startNginx(o: NginxOptions): Promise<RunningNginx> {
  const asRoot = process.getuid?.() === 0;
  mkdirSync(o.dir, { recursive: true });
  for (const name of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) {
    const path = join(o.dir, name);
    mkdirSync(path, { recursive: true, mode: 0o700 });
    // As root the worker runs as nobody and must be able to write its temp files.
    if (asRoot) chownSync(path, 65534, 65534);
  }
  const conf = join(o.dir, 'nginx.conf');
  writeFileSync(conf, nginxConfig(o, asRoot));
  const check = spawn(o.binary, ['-t', '-q', '-p', o.dir, '-e', join(o.dir, 'error.log'), '-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let checkErr = '';
  check.stderr.on('data', (d: Buffer) => (checkErr += d.toString()));
  const checkCode = await new Promise<number | null>((resolve) => check.once('close', resolve));
  if (checkCode !== 0) throw new Error(`nginx -t refused ${conf}: ${checkErr.trim()}`);

  const child: ChildProcess = spawn(o.binary, ['-p', o.dir, '-e', join(o.dir, 'error.log'), '-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  let exited = false;
  child.once('exit', () => (exited = true));
  // Whatever happens to this process, nginx goes with it.
  const killOnExit = () => child.kill('SIGTERM');
  process.once('exit', killOnExit);

  const stop = () =>
    new Promise<void>((resolve) => {
      process.off('exit', killOnExit);
      if (exited || child.exitCode !== null || child.signalCode !== null) return resolve();
      const hard = setTimeout(() => {
        child.kill('SIGKILL');
        for (const pid of descendantsOf(child.pid!)) process.kill(pid, 'SIGKILL');
      }, 5_000);
      child.once('exit', () => {
        clearTimeout(hard);
        resolve();
      });
      // TERM: fast shutdown of the master and its worker.
      child.kill('SIGTERM');
    });

  try {
    await waitFor(
      `nginx to listen on 127.0.0.1:${o.port}`,
      async () => {
        if (exited) throw new Error(`nginx exited: ${stderr.trim() || readLog(join(o.dir, 'error.log'))}`);
        return isListening('127.0.0.1', o.port);
      },
      10_000,
      50,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    url: `https://localhost:${o.port}`,
    masterPid: child.pid!,
    workerPid: () => descendantsOf(child.pid!)[0],
    stop,
  };
}

function readLog(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-5).join('\n');
  } catch {
    return '(no error log)';
  }
}
