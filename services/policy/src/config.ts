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
});

export type PolicyConfig = z.output<typeof policyConfigSchema>;
