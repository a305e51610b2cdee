import { commonSchema, fields, redisSchema, z } from '@microseg/config';

export const authnConfigSchema = z.object({
  ...commonSchema,
  ...redisSchema,
  AUTHN_HOST: z.string().default('127.0.0.1'),
  /** Health probes only; the work arrives over NATS. */
  AUTHN_PORT: fields.port(7071),
  /** Bound on calls to the policy service. */
  BUS_TIMEOUT_MS: fields.milliseconds(1_500),
  /** Bound on each call to an identity provider. */
  AUTHN_IDP_TIMEOUT_MS: fields.milliseconds(5_000),
  /** How long a login may take between the redirect to the IdP and the callback. */
  AUTHN_LOGIN_TTL_SECONDS: z.coerce.number().int().min(60).max(3600).default(600),
  /** How long a gateway may reuse a session lookup before asking again (a revocation reaches it sooner, by broadcast). */
  AUTHN_LOOKUP_CACHE_MS: z.coerce.number().int().min(0).max(60_000).default(10_000),
});

export type AuthnConfig = z.output<typeof authnConfigSchema>;
