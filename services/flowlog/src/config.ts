import { commonSchema, fields, redisSchema, z } from '@microseg/config';
import { isNamespacePath } from '@microseg/contracts';

/** `<namespace>/<name>` of a service (`/microseg-console`, `/ops/console`): a namespace path with a name after it. */
const isServiceAudience = (v: string) => v.length > 1 && isNamespacePath(v);

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
  /**
   * The console's service behind the gateway, `<namespace>/<name>`: the `aud` its identity assertions carry.
   * Assertions for it sign a user in (her roles from apiauthorizationpolicy objects); empty: tokens only.
   */
  FLOWLOG_CONSOLE_AUDIENCE: z
    .string()
    .default('/microseg-console')
    .refine((v) => v === '' || isServiceAudience(v), 'must be <namespace>/<service name>, such as /microseg-console, or empty'),
  /** How often a live stream sends a comment: below the idle timeout of anything between flowlog and the browser. */
  FLOWLOG_STREAM_HEARTBEAT_MS: z.coerce
    .number({ message: 'must be a number of milliseconds' })
    .int()
    .min(200)
    .max(60_000, 'must be at most 60000: proxies close idle streams')
    .default(15_000),
});

export type FlowlogConfig = z.output<typeof flowlogConfigSchema>;
