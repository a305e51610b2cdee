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
  /**
   * Networks (CIDRs or addresses, comma-separated) where an identity provider may be although they are
   * private, loopback, link-local or otherwise special: an IdP on an internal network. Empty: none.
   */
  AUTHN_IDP_ALLOWED_NETWORKS: fields.networks(),
  /**
   * Hosts (`host` for port 443, or `host:port`; comma-separated) where an identity provider's token
   * endpoint and JWKS may be besides the provider's own origin; https only. accounts.google.com's API
   * hosts are allowed without being listed.
   */
  AUTHN_IDP_ENDPOINT_HOSTS: fields
    .list()
    .refine(
      (hosts) => hosts.every((h) => /^[A-Za-z0-9.-]+(:\d{1,5})?$/.test(h)),
      'must be host names, each optionally with :port (idp-api.example.com,keys.example.com:8443)',
    ),
  /** How long a login may take between the redirect to the IdP and the callback. */
  AUTHN_LOGIN_TTL_SECONDS: z.coerce.number().int().min(60).max(3600).default(600),
  /**
   * Logins one client address (an IPv6 /64) may start per AUTHN_LOGIN_TTL_SECONDS; past it 429. High enough
   * for an office behind one NAT address arriving in the morning; it bounds what one address holds in Redis
   * (about 0.5 KB per login state).
   */
  AUTHN_LOGIN_STARTS_PER_ADDRESS: z.coerce.number().int().min(1).max(1_000_000).default(1_000),
  /**
   * The longest a bearer token may live (exp − iat); a longer-lived one is refused. A user's revoked
   * bearer tokens are remembered this long, so a revocation outlives every token it covers.
   */
  AUTHN_BEARER_MAX_LIFETIME_SECONDS: z.coerce
    .number()
    .int()
    .min(60)
    .max(30 * 86400)
    .default(86_400),
  /** How long a gateway may reuse a session lookup before asking again (a revocation reaches it sooner, by broadcast). */
  AUTHN_LOOKUP_CACHE_MS: z.coerce.number().int().min(0).max(60_000).default(10_000),
});

export type AuthnConfig = z.output<typeof authnConfigSchema>;
