// The image's HEALTHCHECK: `node deploy/docker/healthcheck.ts [URL]` exits 0 when the service this
// container runs is ready. Without a URL it finds the service among the container's processes (the
// entry point runs services/<name>/src/main.ts or the demo) and asks its readiness URL, on the port
// its configuration gives (the services' own schemas, so defaults never drift).
import { readdirSync, readFileSync } from 'node:fs';
import { authnConfigSchema } from '../../services/authn/src/config.ts';
import { flowlogConfigSchema } from '../../services/flowlog/src/config.ts';
import { gatewayConfigSchema } from '../../services/gateway/src/config.ts';
import { policyConfigSchema } from '../../services/policy/src/config.ts';

type Env = Record<string, string | undefined>;

/** 0.0.0.0 and :: accept connections on loopback too. */
function probeHost(host: string): string {
  return host === '0.0.0.0' || host === '::' || host === '' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
}

/** The readiness URL of a program the entry point runs, from its environment. */
export function readinessUrl(program: string, env: Env): string | undefined {
  switch (program) {
    case 'gateway': {
      const s = gatewayConfigSchema.shape;
      return `http://${probeHost(s.GATEWAY_ADMIN_HOST.parse(env.GATEWAY_ADMIN_HOST))}:${s.GATEWAY_ADMIN_PORT.parse(env.GATEWAY_ADMIN_PORT)}/readyz`;
    }
    case 'authn': {
      const s = authnConfigSchema.shape;
      return `http://${probeHost(s.AUTHN_HOST.parse(env.AUTHN_HOST))}:${s.AUTHN_PORT.parse(env.AUTHN_PORT)}/readyz`;
    }
    case 'policy': {
      const s = policyConfigSchema.shape;
      return `http://${probeHost(s.POLICY_HOST.parse(env.POLICY_HOST))}:${s.POLICY_PORT.parse(env.POLICY_PORT)}/readyz`;
    }
    case 'flowlog': {
      const s = flowlogConfigSchema.shape;
      return `http://${probeHost(s.FLOWLOG_HOST.parse(env.FLOWLOG_HOST))}:${s.FLOWLOG_PORT.parse(env.FLOWLOG_PORT)}/readyz`;
    }
    // The demo's defaults are those of packages/demo/src/main.ts.
    case 'idp':
      return `http://127.0.0.1:${env.DEMO_IDP_PORT || 9400}/.well-known/openid-configuration`;
    case 'app':
      return `http://127.0.0.1:${env.DEMO_APP_PORT || 3000}/public/hello`;
    default:
      return undefined;
  }
}

/** `gateway`, `idp`, … from a command line the entry point starts; undefined for anything else. */
export function programOf(argv: readonly string[]): string | undefined {
  for (const [i, arg] of argv.entries()) {
    const service = /(?:^|\/)services\/([a-z]+)\/src\/main\.ts$/.exec(arg);
    if (service) return service[1];
    if (/(?:^|\/)packages\/demo\/src\/main\.ts$/.test(arg)) return argv[i + 1];
  }
  return undefined;
}

/** The first process of this container that runs a service (PID 1 unless an init runs first). */
function findProgram(): { program: string; env: Env } | undefined {
  const pids = readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .map(Number)
    .sort((a, b) => a - b);
  for (const pid of pids) {
    try {
      const program = programOf(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0'));
      if (!program) continue;
      const env = Object.fromEntries(
        readFileSync(`/proc/${pid}/environ`, 'utf8')
          .split('\0')
          .filter(Boolean)
          .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
      );
      return { program, env };
    } catch {
      // The process ended meanwhile, or is not ours to read.
    }
  }
  return undefined;
}

async function main(): Promise<number> {
  let url = process.argv[2];
  if (!url) {
    const found = findProgram();
    // A one-shot command (init-demo, msctl) has nothing to probe.
    if (!found) return 0;
    url = readinessUrl(found.program, found.env);
    if (!url) return 0;
  }
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2_500) });
    if (res.ok) return 0;
    process.stderr.write(`${url}: HTTP ${res.status}\n`);
  } catch (err) {
    process.stderr.write(`${url}: ${(err as Error).message}\n`);
  }
  return 1;
}

if (import.meta.main) process.exitCode = await main();
