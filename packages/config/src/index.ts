// One config schema per service, parsed once at start. Every problem is
// reported together; the result is deeply frozen. Nothing else reads process.env.
import { z } from 'zod';

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
  const result = schema.safeParse(env);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const name = issue.path.join('.') || '(root)';
      return `${name}: ${issue.message}`;
    });
    throw new ConfigError(problems);
  }
  return deepFreeze(result.data);
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

// Reusable field types, with messages that say how to fix the value.
export const fields = {
  port: (fallback: number) =>
    z.coerce.number({ message: 'must be a TCP port number' }).int().min(1, 'must be a TCP port (1-65535)').max(65535, 'must be a TCP port (1-65535)').default(fallback),
  url: (fallback: string, protocols: string[]) =>
    z
      .string()
      .default(fallback)
      .refine((v) => {
        try {
          return protocols.includes(new URL(v).protocol);
        } catch {
          return false;
        }
      }, `must be a URL with scheme ${protocols.join(' or ')}`),
  milliseconds: (fallback: number) => z.coerce.number({ message: 'must be a number of milliseconds' }).int().positive('must be > 0').default(fallback),
  logLevel: () => z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  boolean: (fallback: boolean) =>
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'must be true or false' })
      .optional()
      .transform((v) => (v === undefined ? fallback : ['true', '1', 'yes'].includes(v))),
  string: (fallback: string) => z.string().min(1, 'must not be empty').default(fallback),
  optionalString: () => z.string().min(1).optional(),
};

/** Settings every service shares. */
export const commonSchema = {
  NATS_URL: z.string().default('nats://127.0.0.1:4222'),
  LOG_LEVEL: fields.logLevel(),
  MICROSEG_DATA_DIR: z.string().default('.data'),
  SHUTDOWN_GRACE_MS: fields.milliseconds(10_000),
};

/**
 * Where Redis is: one URL, or a Sentinel group (REDIS_SENTINELS=host:port,host:port and
 * REDIS_SENTINEL_NAME) for automatic failover. Redis Cluster is not supported: microseg's
 * atomic scripts touch several keys that would need to share a hash slot.
 */
export const redisSchema = {
  REDIS_URL: z.string().default('redis://127.0.0.1:6379'),
  REDIS_SENTINELS: z
    .string()
    .default('')
    .refine((v) => v === '' || v.split(',').every((s) => /^[^:\s]+:\d{1,5}$/.test(s.trim())), 'must be host:port[,host:port…]')
    .transform((v) => (v ? v.split(',').map((s) => ({ host: s.trim().split(':')[0]!, port: Number(s.trim().split(':')[1]) })) : [])),
  REDIS_SENTINEL_NAME: z.string().default('mymaster'),
};

export interface RedisSettings {
  REDIS_URL: string;
  REDIS_SENTINELS: Array<{ host: string; port: number }>;
  REDIS_SENTINEL_NAME: string;
}

/** The first argument(s) of `new Redis(...)`: the URL, or Sentinel options (the password still comes from the URL). */
export function redisTarget(settings: RedisSettings): { url?: string; sentinel?: { sentinels: Array<{ host: string; port: number }>; name: string; password?: string; db?: number } } {
  if (settings.REDIS_SENTINELS.length === 0) return { url: settings.REDIS_URL };
  const url = new URL(settings.REDIS_URL);
  return {
    sentinel: {
      sentinels: settings.REDIS_SENTINELS,
      name: settings.REDIS_SENTINEL_NAME,
      password: url.password ? decodeURIComponent(url.password) : undefined,
      db: url.pathname.length > 1 ? Number(url.pathname.slice(1)) : undefined,
    },
  };
}
