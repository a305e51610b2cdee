import { commonSchema, fields, z } from '@microseg/config';

export const policyConfigSchema = z.object({
  ...commonSchema,
  POLICY_HOST: z.string().default('127.0.0.1'),
  POLICY_PORT: fields.port(7070),
  /** Comma-separated YAML files (msctl import format) loaded at start; idempotent. */
  POLICY_BOOTSTRAP_FILES: z
    .string()
    .default('')
    .transform((v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    ),
  /** The administrator's API token (mst_…); without it one is generated into the data directory. */
  POLICY_ADMIN_TOKEN: z.string().optional(),
  /** Failed API authentications one client address may make in a row; past them 429 (docs/api.md). */
  POLICY_AUTH_FAILURE_BURST: z.coerce.number().int().min(1).max(1_000_000).default(20),
  /** …and then per minute. */
  POLICY_AUTH_FAILURES_PER_MINUTE: z.coerce.number().int().min(1).max(1_000_000).default(10),
  /**
   * Base64 of 32 bytes: encrypts write-only fields at rest. The one-key form of POLICY_SECRETS_KEYS
   * (which comes first when both are set). Without either, generated into the data directory.
   */
  POLICY_SECRETS_KEY: z
    .string()
    .optional()
    .refine((v) => v === undefined || Buffer.from(v, 'base64').length === 32, 'must be the base64 of 32 random bytes (openssl rand -base64 32)'),
  /**
   * Comma-separated base64 keys of 32 bytes: the first seals, every one opens (key rotation:
   * put the new key first, run `msctl secrets reseal`, then drop the old one).
   */
  POLICY_SECRETS_KEYS: fields.list().superRefine((keys, ctx) => {
    keys.forEach((key, i) => {
      if (Buffer.from(key, 'base64').length !== 32)
        ctx.addIssue({ code: 'custom', message: `key ${i + 1} must be the base64 of 32 random bytes (openssl rand -base64 32)` });
    });
  }),
  /**
   * `iss` of the identity assertions gateways sign (SPEC §8.4): a name, or a URL such as the installation's
   * address. Applications check it.
   */
  POLICY_ASSERTION_ISSUER: z
    .string()
    .min(1)
    .max(256)
    .default('microseg')
    .refine((v) => !v.includes(':') || URL.canParse(v), 'must be a name without ":" or a URL (RFC 7519: StringOrURI)'),
  /** How long an identity assertion is valid (exp - iat); gateways reuse one until shortly before. */
  POLICY_ASSERTION_TTL_SECONDS: z.coerce.number().int().min(10).max(3600).default(60),
  /**
   * How long a new assertion key is published in the key set before it signs: longer than applications keep
   * a fetched key set, and than GATEWAY_SYNC_INTERVAL_MS (every gateway must have it).
   */
  POLICY_ASSERTION_KEY_PREPUBLISH_SECONDS: z.coerce
    .number()
    .int()
    .min(0)
    .max(7 * 86400)
    .default(3600),
  /** The signing key is replaced after this many days (the next one published ahead); 0: only by `msctl assertion-keys rotate`. */
  POLICY_ASSERTION_KEY_ROTATION_DAYS: z.coerce.number().int().min(0).max(365).default(30),
});

/** Every configured secrets key, the sealing one first. */
export function secretsKeysOf(config: Pick<PolicyConfig, 'POLICY_SECRETS_KEYS' | 'POLICY_SECRETS_KEY'>): string[] {
  return [...config.POLICY_SECRETS_KEYS, ...(config.POLICY_SECRETS_KEY ? [config.POLICY_SECRETS_KEY] : [])];
}

export type PolicyConfig = z.output<typeof policyConfigSchema>;
