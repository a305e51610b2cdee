import { commonSchema, fields, z } from '@microseg/config';

export const flowlogConfigSchema = z.object({
  ...commonSchema,
  REDIS_URL: z.string().default('redis://127.0.0.1:6379'),
  FLOWLOG_HOST: z.string().default('127.0.0.1'),
  FLOWLOG_PORT: fields.port(7080),
  /** How long flows and events are kept. */
  FLOWLOG_RETENTION_HOURS: z.coerce.number().positive().default(24),
});

export type FlowlogConfig = z.output<typeof flowlogConfigSchema>;
