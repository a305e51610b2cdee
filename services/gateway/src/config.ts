import { availableParallelism, hostname } from 'node:os';
import { commonSchema, fields, z } from '@microseg/config';

/** Bounds GATEWAY_WORKERS (and the values of the `worker` label of its metrics). */
export const MAX_WORKERS = 64;

export const gatewayConfigSchema = z
  .object({
    ...commonSchema,
    /** Identifies this gateway when it registers its processing units. */
    GATEWAY_ID: z.string().min(1).default(hostname()),
    /** YAML file listing the processing units this gateway fronts. */
    GATEWAY_PROCESSING_UNITS: z.string().min(1, 'must name a YAML file of processing units, e.g. deploy/demo/gateway.yaml'),
    /** Address the protected services' exposedPorts listen on. */
    GATEWAY_LISTEN_HOST: z.string().default('0.0.0.0'),
    /** Health probes. */
    GATEWAY_ADMIN_HOST: z.string().default('127.0.0.1'),
    GATEWAY_ADMIN_PORT: fields.port(7090),
    /**
     * Proxies in front of the gateway (load balancers, ingresses), as CIDRs or addresses, comma-separated. From
     * these peers only, X-Forwarded-For is read from the right, skipping trusted hops, to find the client's
     * address. Empty (the default): the TCP peer is the client.
     */
    GATEWAY_TRUSTED_PROXIES: fields.networks(),
    /**
     * Peers (CIDRs or addresses) that must start each connection with a PROXY protocol header (v1 or v2), as
     * layer-4 load balancers do; the address it gives is the connection's peer. Empty (the default): off.
     */
    GATEWAY_PROXY_PROTOCOL_SOURCES: fields.networks(),
    /** The exposed ports the PROXY protocol is required on for those peers (comma-separated); empty: every one. */
    GATEWAY_PROXY_PROTOCOL_PORTS: fields.list().pipe(
      z.array(
        z
          .string()
          .regex(/^\d{1,5}$/, 'must list TCP port numbers, e.g. 443,8443')
          .transform(Number)
          .pipe(z.number().int().min(1, 'must list TCP ports (1-65535)').max(65535, 'must list TCP ports (1-65535)')),
      ),
    ),
    /** How long such a peer has to send its whole PROXY header; then the connection is closed. */
    GATEWAY_PROXY_PROTOCOL_TIMEOUT_MS: fields.milliseconds(5_000),
    /** Bound on each question to authn or policy; past it the request gets 503. */
    BUS_TIMEOUT_MS: fields.milliseconds(1_000),
    /** Bound on the application's answer (headers); past it 504. */
    UPSTREAM_TIMEOUT_MS: fields.milliseconds(30_000),
    /**
     * While the policy service is away, the last good decision for the same request
     * stands for this long after the policy service was last heard from; then 503.
     * 0 fails closed at once.
     */
    GATEWAY_DECISION_GRACE_MS: z.coerce.number().int().min(0).max(600_000).default(30_000),
    /** How long a decision is reused without asking policy (cleared on every policy change); 0 asks every time. */
    GATEWAY_DECISION_CACHE_MS: z.coerce.number().int().min(0).max(600_000).default(60_000),
    /** Identical decisions within this window travel as one flow event with a count (0: one event per request). */
    GATEWAY_FLOW_WINDOW_MS: z.coerce.number().int().min(0).max(60_000).default(1_000),
    /** WebSockets this gateway carries at most; past it an upgrade gets 503. */
    GATEWAY_WEBSOCKETS_MAX: z.coerce.number().int().min(1).max(1_000_000).default(10_000),
    /** WebSockets one session (or bearer token) may hold open on this gateway; past it an upgrade gets 429. */
    GATEWAY_WEBSOCKETS_PER_SESSION: z.coerce.number().int().min(1).max(10_000).default(50),
    /** How often the gateway re-registers its processing units (heartbeat). */
    GATEWAY_SYNC_INTERVAL_MS: fields.milliseconds(30_000),
    /** Forward-auth (docs/forward-auth.md): the port where ingresses ask for decisions; 0 (the default) turns it off. */
    GATEWAY_FORWARD_AUTH_PORT: z.coerce.number({ message: 'must be a TCP port number' }).int().min(0).max(65535, 'must be a TCP port (1-65535)').default(0),
    /** The address the forward-auth port listens on. */
    GATEWAY_FORWARD_AUTH_HOST: z.string().default('127.0.0.1'),
    /** The ingresses' addresses (CIDRs or addresses, comma-separated): only they may ask; nobody else is answered. */
    GATEWAY_FORWARD_AUTH_TRUSTED_PROXIES: fields.networks(),
    /**
     * Processes serving the exposed ports, all on the same ports (node:cluster; docs/operations.md, "Scaling").
     * `auto`: as many as the CPUs Node may use (os.availableParallelism(): CPU affinity and a container's CPU
     * limit), at most 64; 1: one process, no cluster.
     */
    GATEWAY_WORKERS: z
      .string()
      .trim()
      .refine((v) => v === 'auto' || /^\d{1,3}$/.test(v), 'must be auto or a number of processes, e.g. 4')
      .default('auto')
      .transform((v) => (v === 'auto' ? Math.min(availableParallelism(), MAX_WORKERS) : Number(v)))
      .pipe(z.number().int().min(1, `must be 1-${MAX_WORKERS} or auto`).max(MAX_WORKERS, `must be 1-${MAX_WORKERS} or auto`)),
  })
  .superRefine((c, ctx) => {
    if (c.GATEWAY_FORWARD_AUTH_PORT === 0) return;
    // Fail closed and say so at start: a forward-auth port that trusts nobody would refuse every ingress.
    if (c.GATEWAY_FORWARD_AUTH_TRUSTED_PROXIES.length === 0)
      ctx.addIssue({
        code: 'custom',
        path: ['GATEWAY_FORWARD_AUTH_TRUSTED_PROXIES'],
        message: 'is required with GATEWAY_FORWARD_AUTH_PORT: list the addresses of the ingresses that may ask (CIDRs or addresses)',
      });
    if (c.GATEWAY_FORWARD_AUTH_PORT === c.GATEWAY_ADMIN_PORT)
      ctx.addIssue({ code: 'custom', path: ['GATEWAY_FORWARD_AUTH_PORT'], message: 'must differ from GATEWAY_ADMIN_PORT' });
  });

export type GatewayConfig = z.output<typeof gatewayConfigSchema>;
