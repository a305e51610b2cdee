// One config schema per service, parsed once at start. Every problem is
// reported together; the result is deeply frozen. Nothing else reads process.env.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { z } from 'zod';
import { NetworkSet } from './networks.ts';

export { NetworkSet, canonicalIp, normaliseIp } from './networks.ts';

export { z };

export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/**
 * Parse `env` with a schema whose keys are environment variable names.
 * Throws ConfigError naming every bad variable with what it expects.
 */
export function parseConfig<S extends z.ZodType>(schema: S, env: Record<string, string | undefined>): Readonly<z.output<S>> {
  const { env: resolved, problems: fileProblems } = withFileVariables(schema, env);
  const result = schema.safeParse(resolved);
  const problems = [...fileProblems];
  if (!result.success) {
    for (const issue of result.error.issues) problems.push(`${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  if (problems.length > 0 || !result.success) throw new ConfigError(problems);
  return deepFreeze(result.data);
}

/**
 * Secrets as files, for every variable of the schema: `NAME_FILE=/path` gives NAME the file's content
 * (trailing newline removed), so that secrets need not sit in the environment (Kubernetes Secret volumes,
 * compose secrets, the local cluster's generated credentials). NAME and NAME_FILE together are a mistake.
 */
function withFileVariables(schema: z.ZodType, env: Record<string, string | undefined>): { env: Record<string, string | undefined>; problems: string[] } {
  const shape = (schema as unknown as { shape?: Record<string, unknown> }).shape;
  if (!shape) return { env, problems: [] };
  const resolved = { ...env };
  const problems: string[] = [];
  for (const name of Object.keys(shape)) {
    const file = env[`${name}_FILE`];
    if (file === undefined || file === '') continue;
    if (env[name] !== undefined && env[name] !== '') {
      problems.push(`${name}_FILE: set ${name} or ${name}_FILE, not both`);
      continue;
    }
    try {
      resolved[name] = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      problems.push(`${name}_FILE: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  }
  return { env: resolved, problems };
}

/**
 * The start-up path of every service: parse, and on failure print every problem
 * and exit non-zero. With `--check-config`, print the verdict and exit.
 */
export function loadConfigOrExit<S extends z.ZodType>(service: string, schema: S, argv = process.argv, env = process.env): Readonly<z.output<S>> {
  try {
    const config = parseConfig(schema, env);
    if (argv.includes('--check-config')) {
      process.stdout.write(`${service}: configuration is valid\n`);
      process.exit(0);
    }
    return config;
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${service}: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}

/** A comma-separated list, blanks dropped (empty by default). */
function commaList() {
  return z
    .string()
    .default('')
    .transform((v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    );
}

// Reusable field types, with messages that say how to fix the value.
export const fields = {
  port: (fallback: number) =>
    z.coerce
      .number({ message: 'must be a TCP port number' })
      .int()
      .min(1, 'must be a TCP port (1-65535)')
      .max(65535, 'must be a TCP port (1-65535)')
      .default(fallback),
  url: (fallback: string, protocols: string[]) =>
    z
      .string()
      .default(fallback)
      .refine(
        (v) => {
          try {
            return protocols.includes(new URL(v).protocol);
          } catch {
            return false;
          }
        },
        `must be a URL with scheme ${protocols.join(' or ')}`,
      ),
  milliseconds: (fallback: number) => z.coerce.number({ message: 'must be a number of milliseconds' }).int().positive('must be > 0').default(fallback),
  logLevel: () => z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  boolean: (fallback: boolean) =>
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'must be true or false' })
      .optional()
      .transform((v) => (v === undefined ? fallback : ['true', '1', 'yes'].includes(v))),
  string: (fallback: string) => z.string().min(1, 'must not be empty').default(fallback),
  optionalString: () => z.string().min(1).optional(),
  /** A comma-separated list, blanks dropped (empty by default). */
  list: commaList,
  /** A comma-separated list of CIDRs or addresses (empty by default): each entry checked, the bad one named. */
  networks: () =>
    commaList().superRefine((entries, ctx) => {
      try {
        new NetworkSet(entries);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: `${(err as Error).message}; list CIDRs such as 10.20.0.0/16,fd00:1::/64` });
      }
    }),
};

/** A PEM block given inline (or through NAME_FILE). */
function pem(what: string) {
  return z
    .string()
    .refine(
      (v) => /-----BEGIN [A-Z ]+-----[\s\S]+-----END [A-Z ]+-----/.test(v),
      `must be ${what} in PEM form (-----BEGIN …); give the file with the _FILE form of this variable`,
    );
}

/** Settings every service shares. */
export const commonSchema = {
  /** `nats://` or `tls://` (TLS required); several servers comma-separated. */
  NATS_URL: z.string().default('nats://127.0.0.1:4222'),
  /** This service's nkey seed (`SU…`): its identity and so its permissions on the server (or NATS_NKEY_SEED_FILE). */
  NATS_NKEY_SEED: z
    .string()
    .regex(/^SU[A-Z2-7]{56}$/, 'must be an nkey user seed (SU followed by 56 characters), as written by the credentials generator')
    .optional(),
  /** PEM of the CA that signed the NATS server's certificate; when set, TLS is required (or NATS_TLS_CA_FILE). */
  NATS_TLS_CA: pem('a CA certificate').optional(),
  /** A client certificate and key for servers that verify clients (mutual TLS). */
  NATS_TLS_CERT: pem('a certificate').optional(),
  NATS_TLS_KEY: pem('a private key').optional(),
  LOG_LEVEL: fields.logLevel(),
  MICROSEG_DATA_DIR: z.string().default('.data'),
  SHUTDOWN_GRACE_MS: fields.milliseconds(10_000),
};

export interface NatsSettings {
  NATS_URL: string;
  NATS_NKEY_SEED?: string;
  NATS_TLS_CA?: string;
  NATS_TLS_CERT?: string;
  NATS_TLS_KEY?: string;
}

/** How a service connects to NATS: servers, its identity (nkey seed) and TLS. */
export interface NatsConnection {
  servers: string[];
  nkeySeed?: string;
  /** TLS required (a `tls://` URL or a CA given), with these PEMs. */
  tls?: { ca?: string; cert?: string; key?: string };
}

export function natsConnection(settings: NatsSettings): NatsConnection {
  const servers = settings.NATS_URL.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const wantsTls = Boolean(settings.NATS_TLS_CA || settings.NATS_TLS_CERT) || servers.some((s) => s.startsWith('tls://'));
  return {
    servers,
    ...(settings.NATS_NKEY_SEED ? { nkeySeed: settings.NATS_NKEY_SEED } : {}),
    ...(wantsTls ? { tls: { ca: settings.NATS_TLS_CA, cert: settings.NATS_TLS_CERT, key: settings.NATS_TLS_KEY } } : {}),
  };
}

/**
 * Where Redis is: one URL, or a Sentinel group (REDIS_SENTINELS=host:port,host:port and
 * REDIS_SENTINEL_NAME) for automatic failover. Redis Cluster is not supported: microseg's
 * atomic scripts touch several keys that would need to share a hash slot. `rediss://` requires TLS.
 * The service's ACL user and password come from the URL or, better, REDIS_USERNAME and REDIS_PASSWORD
 * (or REDIS_PASSWORD_FILE).
 */
export const redisSchema = {
  REDIS_URL: z
    .string()
    .default('redis://127.0.0.1:6379')
    .refine((v) => {
      try {
        return ['redis:', 'rediss:'].includes(new URL(v).protocol);
      } catch {
        return false;
      }
    }, 'must be a URL such as redis://host:6379 or rediss://host:6380 (TLS)'),
  REDIS_USERNAME: z.string().min(1).optional(),
  REDIS_PASSWORD: z.string().min(1).optional(),
  /** PEM of the CA that signed Redis's certificate (implies TLS). */
  REDIS_TLS_CA: pem('a CA certificate').optional(),
  REDIS_SENTINELS: z
    .string()
    .default('')
    .refine((v) => v === '' || v.split(',').every((s) => /^[^:\s]+:\d{1,5}$/.test(s.trim())), 'must be host:port[,host:port…]')
    .transform((v) => (v ? v.split(',').map((s) => ({ host: s.trim().split(':')[0]!, port: Number(s.trim().split(':')[1]) })) : [])),
  REDIS_SENTINEL_NAME: z.string().default('mymaster'),
};

export interface RedisSettings {
  REDIS_URL: string;
  REDIS_USERNAME?: string;
  REDIS_PASSWORD?: string;
  REDIS_TLS_CA?: string;
  REDIS_SENTINELS: Array<{ host: string; port: number }>;
  REDIS_SENTINEL_NAME: string;
}

/** The connection part of ioredis's options: one server, or a Sentinel group; the user, password, database and TLS. */
export interface RedisConnection {
  host?: string;
  port?: number;
  sentinels?: Array<{ host: string; port: number }>;
  name?: string;
  username?: string;
  password?: string;
  db?: number;
  tls?: { ca?: string; servername?: string };
  /** Sentinel mode: talk TLS to the master and replicas it names too. */
  enableTLSForSentinelMode?: boolean;
}

export function redisConnection(settings: RedisSettings): RedisConnection {
  const url = new URL(settings.REDIS_URL);
  const tls = url.protocol === 'rediss:' || Boolean(settings.REDIS_TLS_CA);
  const auth = {
    username: settings.REDIS_USERNAME ?? (url.username ? decodeURIComponent(url.username) : undefined),
    password: settings.REDIS_PASSWORD ?? (url.password ? decodeURIComponent(url.password) : undefined),
    db: url.pathname.length > 1 ? Number(url.pathname.slice(1)) : undefined,
  };
  const defined = <T extends object>(o: T) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
  if (settings.REDIS_SENTINELS.length > 0) {
    return defined({
      sentinels: settings.REDIS_SENTINELS,
      name: settings.REDIS_SENTINEL_NAME,
      ...auth,
      ...(tls ? { tls: defined({ ca: settings.REDIS_TLS_CA }), enableTLSForSentinelMode: true } : {}),
    });
  }
  return defined({
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: Number(url.port || 6379),
    ...auth,
    ...(tls ? { tls: defined({ ca: settings.REDIS_TLS_CA, servername: isIP(url.hostname.replace(/^\[|\]$/g, '')) ? undefined : url.hostname }) } : {}),
  });
}
