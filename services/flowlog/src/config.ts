import { commonSchema, fields, redisSchema, z } from '@microseg/config';

export const flowlogConfigSchema = z.object({
  ...commonSchema,
  ...redisSchema,
  FLOWLOG_HOST: z.string().default('127.0.0.1'),
  FLOWLOG_PORT: fields.port(7080),
  /** How long flows and events are kept. */
  FLOWLOG_RETENTION_HOURS: z.coerce.number().positive().default(24),
  /** How long a token's verdict is remembered; a revoked token works at most this long. */
  FLOWLOG_TOKEN_CACHE_MS: z.coerce
    .number({ message: 'must be a number of milliseconds' })
    .int()
    .min(0)
    .max(10_000, 'must be at most 10000: revocation must bite quickly')
    .default(3_000),
  /** Bound on each question to the policy service (tokens, inventory). */
  BUS_TIMEOUT_MS: fields.milliseconds(1_000),
});

export type FlowlogConfig = z.output<typeof flowlogConfigSchema>;
