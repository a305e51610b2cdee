// Validation of policy objects, with the original API's field names. Every bad
// attribute is reported at once; defaults follow SPEC §2.
import { z } from '@microseg/config';
import { httpMethods, type HTTPMethod, type ObjectKind } from '@microseg/contracts';

const tag = z.string().regex(/^[^=\s]+=.*$/, 'must be a tag of the form key=value');
const userTag = tag.refine((t) => !/^[$@+]/.test(t), 'keys starting with $, @ or + are reserved for the system');
const tagExpression = z.array(z.array(tag));
const namespacePath = z.string().regex(/^\/([A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*)?$/, 'must be a namespace path such as /acme/team-b');
const name = z.string().min(1, 'is required').max(256);
const port = z.preprocess(
  (v) => (typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v),
  z.number({ message: 'is required: a TCP port (1-65535)' }).int('must be a TCP port (1-65535)').min(1, 'must be a TCP port (1-65535)').max(65535, 'must be a TCP port (1-65535)'),
);

const base = {
  ID: z.string().optional(),
  name,
  namespace: namespacePath,
  description: z.string().max(1024).optional(),
  associatedTags: z.array(userTag).default([]),
  propagate: z.boolean().default(false),
};

const method = z
  .string()
  .transform((m) => m.toUpperCase())
  .refine((m): m is HTTPMethod => (httpMethods as readonly string[]).includes(m), `must be one of ${httpMethods.join(', ')}`);

const endpoint = z
  .object({
    URI: z.string().startsWith('/', 'must start with /'),
    methods: z.array(method).min(1, 'needs at least one method'),
    public: z.boolean().default(false),
    allowedScopes: tagExpression.optional(),
    /** Input alias of allowedScopes, as the walkthrough writes it. */
    scopes: tagExpression.optional(),
  })
  .transform(({ scopes, allowedScopes, ...rest }) => ({ ...rest, allowedScopes: allowedScopes ?? scopes ?? [] }));

function isLoopbackHost(hostname: string): boolean {
  // URL() writes every IPv4 form as a dotted quad; a name such as `127.evil.example` is not loopback.
  return hostname === 'localhost' || hostname === '[::1]' || /^127(\.\d{1,3}){3}$/.test(hostname);
}

const providerURL = z.string().refine((v) => {
  try {
    const u = new URL(v);
    return u.protocol === 'https:' || (u.protocol === 'http:' && isLoopbackHost(u.hostname));
  } catch {
    return false;
  }
}, 'must be an https URL (http is accepted only for localhost during development)');

export const objectSchemas = {
  namespace: z.object({
    ...base,
    defaultPUIncomingTrafficAction: z.enum(['Allow', 'Reject', 'Inherit']).default('Inherit'),
    defaultPUOutgoingTrafficAction: z.enum(['Allow', 'Reject', 'Inherit']).default('Inherit'),
  }),
  processingunit: z.object({
    ...base,
    address: z.string().min(1, 'is required'),
    status: z.enum(['Running', 'Stopped']).default('Running'),
    lastSeen: z.string().optional(),
    gatewayID: z.string().optional(),
  }),
  service: z
    .object({
      ...base,
      type: z.literal('HTTP').default('HTTP'),
      authorizationType: z.enum(['None', 'OIDC']).default('None'),
      OIDCProviderURL: providerURL.optional(),
      OIDCClientID: z.string().min(1).optional(),
      OIDCClientSecret: z.string().min(1).optional(),
      OIDCCallbackURL: z.string().url().optional(),
      OIDCScopes: z.array(z.string().min(1)).default([]),
      hosts: z.array(z.string().min(1)).min(1, 'needs at least one host name'),
      port: port,
      exposedPort: port,
      exposedServiceIsTLS: z.boolean().default(false),
      selectors: tagExpression.default([]),
      exposedAPIs: tagExpression.default([]),
      claimsToHTTPHeaderMappings: z
        .array(z.object({ claimName: z.string().min(1), targetHTTPHeader: z.string().regex(/^[A-Za-z0-9-]+$/, 'must be an HTTP header name') }))
        .default([]),
      redirectURLOnAuthorizationFailure: z.string().url().optional(),
      TLSCertificate: z.string().optional(),
      TLSCertificateKey: z.string().optional(),
      disabled: z.boolean().default(false),
    })
    // Runs even when other attributes are bad (`when`), so every problem is reported at once.
    .superRefine((s, ctx) => {
      if (s.authorizationType === 'OIDC') {
        for (const field of ['OIDCProviderURL', 'OIDCClientID', 'OIDCClientSecret'] as const) {
          if (!s[field]) ctx.addIssue({ code: 'custom', path: [field], message: 'is required when authorizationType is OIDC' });
        }
      }
      if (Boolean(s.TLSCertificate) !== Boolean(s.TLSCertificateKey)) {
        ctx.addIssue({ code: 'custom', path: ['TLSCertificateKey'], message: 'TLSCertificate and TLSCertificateKey go together' });
      }
    }, { when: (payload) => typeof payload.value === 'object' && payload.value !== null }),
  httpresourcespec: z.object({
    ...base,
    endpoints: z.array(endpoint).default([]),
  }),
} satisfies Record<ObjectKind, z.ZodType>;

export interface AttributeError {
  attribute: string;
  message: string;
}

export function validateObject(kind: ObjectKind, input: unknown): { ok: true; value: Record<string, unknown> } | { ok: false; errors: AttributeError[] } {
  const result = objectSchemas[kind].safeParse(input);
  if (result.success) return { ok: true, value: result.data as Record<string, unknown> };
  return {
    ok: false,
    errors: result.error.issues.map((i) => ({ attribute: attributePath(i.path) || kind, message: i.message })),
  };
}

/** `endpoints[0].methods[1]`: the way users write it. */
export function attributePath(path: ReadonlyArray<PropertyKey>): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`)).join('');
}
