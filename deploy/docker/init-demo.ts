// `init-demo [--secrets DIR] [--credentials STORE OUT] [--render TEMPLATE OUT] [--copy FROM TO]…` — what
// the demo needs before it starts.
//
// --credentials STORE OUT  the installation's credentials (an nkey per service, Redis ACL users, a CA and
//                 the NATS and Redis servers' certificates; @microseg/credentials), generated once into
//                 STORE and handed out as one directory per consumer under OUT (OUT/gateway, OUT/authn, …,
//                 OUT/nats-server, OUT/redis-server): compose mounts each into that container only. The
//                 servers' certificates name the hosts of --nats-hosts and --redis-hosts (comma-separated).
// --copy FROM TO  one file (a secret just generated) into a consumer's directory (0600).
// --secrets DIR   the demo's secrets as files in DIR, one per secret (0600). A value in the
//                 environment wins (compose's .env); otherwise an existing file is kept; otherwise a
//                 new value is generated, so the first start needs no manual step and no real secret
//                 is ever in the repository.
// --render T OUT  the import file T with every ${NAME} replaced by the variable NAME (a secret just
//                 read counts as set), written to OUT (0600) for POLICY_BOOTSTRAP_FILES. A NAME
//                 without a value is an error; nothing is written then.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { readIfExists } from '../../packages/credentials/src/generate.ts';
import { run as writeCredentials } from '../../packages/credentials/src/main.ts';
import { newToken } from '../../services/policy/src/api/tokens.ts';
import { policyConfigSchema } from '../../services/policy/src/config.ts';

export interface SecretSpec {
  /** File name in the secrets directory. */
  file: string;
  /** The variable that carries it (and that a service reads, or reads as <variable>_FILE). */
  variable: string;
  generate(): string;
  /** A problem with a value given in the environment, or undefined. */
  check?(value: string): string | undefined;
}

export const demoSecrets: readonly SecretSpec[] = [
  { file: 'demo-client-secret', variable: 'DEMO_CLIENT_SECRET', generate: () => randomBytes(24).toString('base64url') },
  // The policy service's own token format, from its own generator.
  { file: 'admin-token', variable: 'POLICY_ADMIN_TOKEN', generate: () => newToken().token },
  {
    file: 'secrets-key',
    variable: 'POLICY_SECRETS_KEY',
    generate: () => randomBytes(32).toString('base64'),
    check: (value) => {
      const result = policyConfigSchema.shape.POLICY_SECRETS_KEY.safeParse(value);
      return result.success ? undefined : result.error.issues.map((i) => i.message).join('; ');
    },
  },
];

type Env = Record<string, string | undefined>;

/** Write through a temporary file, so a reader never sees half a secret. */
async function writeSecretFile(file: string, value: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${value}\n`, { mode: 0o600 });
  await rename(tmp, file);
}

/** Ensure every secret has a file in `dir`; returns the values by variable name. */
export async function ensureSecrets(dir: string, env: Env, log: (msg: string, fields?: object) => void = () => undefined): Promise<Record<string, string>> {
  const values: Record<string, string> = {};
  const problems: string[] = [];
  for (const spec of demoSecrets) {
    const file = join(dir, spec.file);
    const given = env[spec.variable]?.trim();
    if (given) {
      const problem = spec.check?.(given);
      if (problem) {
        problems.push(`${spec.variable}: ${problem}`);
        continue;
      }
      if ((await readIfExists(file)) !== given) {
        await writeSecretFile(file, given);
        log('secret taken from the environment', { file, variable: spec.variable });
      }
      values[spec.variable] = given;
      continue;
    }
    const existing = await readIfExists(file);
    if (existing) {
      values[spec.variable] = existing;
      continue;
    }
    const generated = spec.generate();
    await writeSecretFile(file, generated);
    log('secret generated', { file, variable: spec.variable });
    values[spec.variable] = generated;
  }
  if (problems.length > 0) throw new Error(`invalid secrets in the environment:\n  - ${problems.join('\n  - ')}`);
  return values;
}

/** `${NAME}` → env.NAME; throws naming every NAME without a value. */
export function renderTemplate(template: string, env: Env): string {
  const missing = new Set<string>();
  const out = template.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_all, name: string) => {
    const value = env[name];
    if (value === undefined || value === '') {
      missing.add(name);
      return '';
    }
    return value;
  });
  if (missing.size > 0) throw new Error(`no value for ${[...missing].map((n) => `\${${n}}`).join(', ')} (set the variable, or its _FILE)`);
  return out;
}

const USAGE = 'init-demo [--secrets DIR] [--credentials STORE OUT [--nats-hosts a,b] [--redis-hosts a,b]] [--render TEMPLATE OUT] [--copy FROM TO]';

function hostsFlag(argv: readonly string[], flag: string): string {
  const at = argv.indexOf(flag);
  return at !== -1 && argv[at + 1] ? argv[at + 1]! : 'localhost,127.0.0.1,::1';
}

export async function run(argv: readonly string[], env: Env): Promise<void> {
  const log = (msg: string, fields: object = {}) =>
    process.stdout.write(`${JSON.stringify({ level: 'info', time: new Date().toISOString(), service: 'init-demo', msg, ...fields })}\n`);
  const values: Env = { ...env };
  let i = 0;
  let did = false;
  while (i < argv.length) {
    const flag = argv[i];
    if (flag === '--secrets' && argv[i + 1]) {
      Object.assign(values, await ensureSecrets(argv[i + 1]!, env, log));
      i += 2;
    } else if (flag === '--credentials' && argv[i + 1] && argv[i + 2]) {
      const [store, out] = [argv[i + 1]!, argv[i + 2]!];
      const hosts = ['--nats-hosts', hostsFlag(argv, '--nats-hosts'), '--redis-hosts', hostsFlag(argv, '--redis-hosts')];
      // The servers run as users of their own images: their files are readable to them (only they mount them).
      await writeCredentials(['--store', store, '--out', out, '--only', 'nats-server,redis-server', '--mode', '0644', ...hosts]);
      await writeCredentials(['--store', store, '--out', out, '--only', 'gateway,authn,policy,flowlog', '--mode', '0600', ...hosts]);
      log('credentials handed out', { store, out });
      i += 3;
    } else if ((flag === '--nats-hosts' || flag === '--redis-hosts') && argv[i + 1]) {
      i += 2;
      continue;
    } else if (flag === '--copy' && argv[i + 1] && argv[i + 2]) {
      const [from, to] = [argv[i + 1]!, argv[i + 2]!];
      await writeSecretFile(to, (await readFile(from, 'utf8')).trim());
      i += 3;
    } else if (flag === '--render' && argv[i + 1] && argv[i + 2]) {
      const [template, out] = [argv[i + 1]!, argv[i + 2]!];
      const rendered = renderTemplate(await readFile(template, 'utf8'), values);
      await writeSecretFile(out, rendered.trimEnd());
      log('rendered', { template, out });
      i += 3;
    } else {
      throw new Error(`usage: ${USAGE} (at "${flag}")`);
    }
    did = true;
  }
  if (!did) throw new Error(`usage: ${USAGE}`);
}

if (import.meta.main) {
  await run(process.argv.slice(2), process.env).catch((err: Error) => {
    process.stderr.write(`init-demo: ${err.message}\n`);
    process.exit(2);
  });
}
