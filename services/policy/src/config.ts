import { commonSchema, fields, z } from '@microseg/config';

export const policyConfigSchema = z.object({
  ...commonSchema,
  POLICY_HOST: z.string().default('127.0.0.1'),
  POLICY_PORT: fields.port(7070),
  /** Comma-separated YAML files (msctl import format) loaded at start; idempotent. */
  POLICY_BOOTSTRAP_FILES: z
    .string()
    .default('')
    .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean)),
  /** The administrator's API token (mst_…); without it one is generated into the data directory. */
  POLICY_ADMIN_TOKEN: z.string().optional(),
  /** Base64 of 32 bytes: encrypts write-only fields at rest. Without it, generated into the data directory. */
  /** Failed API authentications one client address may make in a row; past them 429 (README, "Admin API"). */
  POLICY_AUTH_FAILURE_BURST: z.coerce.number().int().min(1).max(1_000_000).default(20),
  /** …and then per minute. */
  POLICY_AUTH_FAILURES_PER_MINUTE: z.coerce.number().int().min(1).max(1_000_000).default(10),
  POLICY_SECRETS_KEY: z
    .string()
    .optional()
    .refine((v) => v === undefined || Buffer.from(v, 'base64').length === 32, 'must be the base64 of 32 random bytes (openssl rand -base64 32)'),
});

export type PolicyConfig = z.output<typeof policyConfigSchema>;
