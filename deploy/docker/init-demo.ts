// `init-demo [--secrets DIR] [--render TEMPLATE OUT]` — what the demo needs before it starts.
//
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

async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

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

export async function run(argv: readonly string[], env: Env): Promise<void> {
  const log = (msg: string, fields: object = {}) => process.stdout.write(`${JSON.stringify({ level: 'info', time: new Date().toISOString(), service: 'init-demo', msg, ...fields })}\n`);
  const values: Env = { ...env };
  let i = 0;
  let did = false;
  while (i < argv.length) {
    const flag = argv[i];
    if (flag === '--secrets' && argv[i + 1]) {
      Object.assign(values, await ensureSecrets(argv[i + 1]!, env, log));
      i += 2;
    } else if (flag === '--render' && argv[i + 1] && argv[i + 2]) {
      const [template, out] = [argv[i + 1]!, argv[i + 2]!];
      const rendered = renderTemplate(await readFile(template, 'utf8'), values);
      await writeSecretFile(out, rendered.trimEnd());
      log('rendered', { template, out });
      i += 3;
    } else {
      throw new Error(`usage: init-demo [--secrets DIR] [--render TEMPLATE OUT] (at "${flag}")`);
    }
    did = true;
  }
  if (!did) throw new Error('usage: init-demo [--secrets DIR] [--render TEMPLATE OUT]');
}

if (import.meta.main) {
  await run(process.argv.slice(2), process.env).catch((err: Error) => {
    process.stderr.write(`init-demo: ${err.message}\n`);
    process.exit(2);
  });
}
