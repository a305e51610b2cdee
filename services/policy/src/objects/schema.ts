// Validation of policy objects, with the original API's field names. Every bad
// attribute is reported at once; defaults follow SPEC §2.
//
// Why over 300 lines: one schema per kind of the original API, side by side, so that a field's rules and its
// neighbours' read together; the shared pieces (ports, URLs) are defined once at the top, tags and tag
// expressions in tag-expressions.ts.
import { isIP } from 'node:net';
import { z } from '@microseg/config';
import { httpMethods, isAzureMultiTenantProvider, isNamespacePath, type HTTPMethod, type ObjectKind } from '@microseg/contracts';
import { normalisePattern } from '@microseg/paths';
import { apiAuthorizationPolicySchema } from './api-authorization.ts';
import { certificateBundleProblem } from './certificates.ts';
import { storedTagExpression, tagExpression, userTag, type TagExpressionSchema } from './tag-expressions.ts';
const isDotSegment = (segment: string) => segment === '.' || segment === '..';
const namespacePath = z
  .string()
  // The shape first, dot segments aside: they have their own message.
  .refine(
    (v) =>
      isNamespacePath(
        v
          .split('/')
          .map((segment) => (isDotSegment(segment) ? '_' : segment))
          .join('/'),
      ),
    'must be a namespace path such as /acme/team-b',
  )
  .refine((v) => !v.split('/').some(isDotSegment), 'must not contain dot segments (. or ..)');
const name = z.string().min(1, 'is required').max(256);
const port = z.preprocess(
  (v) => (typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v),
  z
    .number({ message: 'is required: a TCP port (1-65535)' })
    .int('must be a TCP port (1-65535)')
    .min(1, 'must be a TCP port (1-65535)')
    .max(65535, 'must be a TCP port (1-65535)'),
);

/**
 * What the API shows but nobody sets: accepted in input, so that an object read with `msctl api get -o yaml`
 * can be sent back as it is, and dropped (the API and the store set them).
 */
const readOnly = {
  ID: z.string().optional(),
  kind: z.string().optional(),
  createTime: z.string().optional(),
  updateTime: z.string().optional(),
  /** A service's serving status (service-status.ts). */
  servingStatus: z.string().optional(),
  servingProblems: z.array(z.string()).optional(),
};
export const readOnlyAttributes = Object.keys(readOnly);

const base = {
  ...readOnly,
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

const endpoint = (tagExpression: TagExpressionSchema) =>
  z
    .strictObject({
      /** Stored as the gateway spells request paths (`/caf%c3%a9/*` → `/caf%C3%A9/*`), so GET shows what is matched. */
      URI: z.string().transform((uri, ctx) => {
        const normalised = normalisePattern(uri);
        if (normalised.ok) return normalised.pattern;
        ctx.addIssue({ code: 'custom', message: normalised.message });
        return z.NEVER;
      }),
      methods: z.array(method).min(1, 'needs at least one method'),
      public: z.boolean().default(false),
      allowedScopes: tagExpression.optional(),
      /** Input alias of allowedScopes, as the walkthrough writes it. */
      scopes: tagExpression.optional(),
    })
    .transform(({ scopes, allowedScopes, ...rest }) => ({ ...rest, allowedScopes: allowedScopes ?? scopes ?? [] }));

const PORT_RANGE = /^(\d{1,5})(:(\d{1,5}))?$/;

function validPortRange(text: string): boolean {
  const m = PORT_RANGE.exec(text);
  if (!m) return false;
  const from = Number(m[1]);
  const to = m[3] === undefined ? from : Number(m[3]);
  return from >= 1 && to <= 65535 && from <= to;
}

const servicePort = z
  .string()
  .transform((v) => v.trim().toLowerCase())
  .refine((v) => v === 'any' || (/^(tcp|udp)\/.+$/.test(v) && validPortRange(v.split('/')[1]!)), 'must be any, or tcp/PORT, tcp/FROM:TO, udp/PORT');

const networkEntry = z.string().refine((v) => {
  if (v.includes('/')) {
    const [ip, bits] = v.split('/');
    const max = isIP(ip ?? '') === 4 ? 32 : isIP(ip ?? '') === 6 ? 128 : -1;
    return max > 0 && /^\d{1,3}$/.test(bits ?? '') && Number(bits) <= max;
  }
  return isIP(v) !== 0 || /^(\*\.)?([A-Za-z0-9-]+\.)*[A-Za-z0-9-]+$/.test(v);
}, 'must be a CIDR (10.0.0.0/8), an IP address, a DNS name or *.domain');

function legacyServicePorts(protocols: string[] | undefined, ports: string[] | undefined): string[] {
  if (!protocols && !ports) return ['any'];
  const protos = !protocols || protocols.includes('any') ? ['tcp', 'udp'] : protocols;
  if (!ports || ports.length === 0) return protocols?.includes('any') || !protocols ? ['any'] : protos.map((p) => `${p}/1:65535`);
  return protos.flatMap((p) => ports.map((port) => `${p}/${port}`));
}

/** A DNS name (FQDN or a single label such as localhost) or an IP address, as users type it in a browser. */
const hostName = z
  .string()
  .refine(
    (v) => isIP(v) !== 0 || /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/.test(v),
    'must be a host name such as app.example.com',
  );

function httpUrl(protocols: string[], message: string) {
  return z.string().refine((v) => {
    try {
      return protocols.includes(new URL(v).protocol);
    } catch {
      return false;
    }
  }, message);
}

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

/** The schemas, with the tag expressions of input or of stored objects (tag-expressions.ts). */
const schemasWith = (tagExpression: TagExpressionSchema) =>
  ({
    namespace: z.strictObject({
      ...base,
      defaultPUIncomingTrafficAction: z.enum(['Allow', 'Reject', 'Inherit']).default('Inherit'),
      defaultPUOutgoingTrafficAction: z.enum(['Allow', 'Reject', 'Inherit']).default('Inherit'),
    }),
    processingunit: z.strictObject({
      ...base,
      address: z.string().min(1, 'is required'),
      status: z.enum(['Running', 'Stopped']).default('Running'),
      lastSeen: z.string().optional(),
      gatewayID: z.string().optional(),
      applicationPorts: z.array(port).optional(),
      exposedPorts: z.array(port).optional(),
      serviceProblems: z
        .array(z.strictObject({ serviceID: z.string(), message: z.string().max(1024) }))
        .max(1000)
        .optional(),
    }),
    service: z
      .strictObject({
        ...base,
        type: z.literal('HTTP').default('HTTP'),
        authorizationType: z.enum(['None', 'OIDC']).default('None'),
        OIDCProviderURL: providerURL.optional(),
        OIDCClientID: z.string().min(1).optional(),
        OIDCClientSecret: z.string().min(1).optional(),
        OIDCCallbackURL: httpUrl(['https:'], 'must be the https URL users reach the application at, such as https://app.example.com').optional(),
        OIDCScopes: z.array(z.string().min(1)).default([]),
        /** Provider quirks; `auto` chooses from the issuer (accounts.google.com → google, …). */
        OIDCProviderProfile: z.enum(['auto', 'generic', 'google', 'azure', 'okta', 'keycloak']).default('auto'),
        /** Tenant ids (`tid`) whose users are accepted; required for Azure AD's multi-tenant endpoints. */
        OIDCAllowedTenants: z
          .array(z.string().regex(/^[A-Za-z0-9._-]{1,100}$/, 'must be a tenant id such as 72f988bf-86f1-41af-91ab-2d7cd011db47'))
          .default([]),
        /** Accept `Authorization: Bearer <JWT>` from the IdP for this client in place of a session cookie. */
        acceptBearerTokens: z.boolean().default(false),
        /** Served through an ingress (nginx, Traefik, Envoy) that asks the gateway's forward-auth port about each request to its hosts. */
        forwardAuth: z.boolean().default(false),
        /** The user's access token goes to the application in `Authorization: Bearer` (SPEC §8.5). */
        passAccessToken: z.boolean().default(false),
        /** A session unused for this long ends (seconds). */
        sessionIdleTimeoutSeconds: z
          .number()
          .int()
          .min(60, 'must be at least 60 seconds')
          .max(30 * 86400)
          .default(2 * 3600),
        /** No session lives longer, refresh or not (seconds). */
        sessionMaxLifetimeSeconds: z
          .number()
          .int()
          .min(60, 'must be at least 60 seconds')
          .max(90 * 86400)
          .default(12 * 3600),
        hosts: z.array(hostName).min(1, 'needs at least one host name'),
        port: port,
        exposedPort: port,
        exposedServiceIsTLS: z.boolean().default(false),
        /** How the gateway speaks to the application: HTTP/2 is h2c, or h2 by ALPN with exposedServiceIsTLS. */
        applicationProtocol: z.enum(['HTTP/1.1', 'HTTP/2'], { message: 'must be HTTP/1.1 or HTTP/2' }).default('HTTP/1.1'),
        /** PEM certificates the application's certificate must chain to (with exposedServiceIsTLS); else the system's CAs. */
        applicationCA: z
          .string()
          .superRefine((v, ctx) => {
            const problem = certificateBundleProblem(v);
            if (problem) ctx.addIssue({ code: 'custom', message: problem });
          })
          .optional(),
        selectors: tagExpression.default([]),
        exposedAPIs: tagExpression.default([]),
        claimsToHTTPHeaderMappings: z
          .array(z.strictObject({ claimName: z.string().min(1), targetHTTPHeader: z.string().regex(/^[A-Za-z0-9-]+$/, 'must be an HTTP header name') }))
          .default([]),
        redirectURLOnAuthorizationFailure: httpUrl(['https:', 'http:'], 'must be an http or https URL').optional(),
        TLSCertificate: z.string().optional(),
        TLSCertificateKey: z.string().optional(),
        disabled: z.boolean().default(false),
      })
      // Runs even when other attributes are bad (`when`), so every problem is reported at once.
      .superRefine(
        (s, ctx) => {
          if (s.authorizationType === 'OIDC') {
            for (const field of ['OIDCProviderURL', 'OIDCClientID', 'OIDCClientSecret'] as const) {
              if (!s[field]) ctx.addIssue({ code: 'custom', path: [field], message: 'is required when authorizationType is OIDC' });
            }
            if (s.OIDCProviderURL && isAzureMultiTenantProvider(s.OIDCProviderURL) && !s.OIDCAllowedTenants?.length) {
              ctx.addIssue({
                code: 'custom',
                path: ['OIDCAllowedTenants'],
                message:
                  "is required with Azure AD's multi-tenant endpoint (/common, /organizations, /consumers), where anyone's tenant can sign in: list the tenant ids (tid) whose users may",
              });
            }
          }
          if (s.applicationCA && !s.exposedServiceIsTLS) {
            ctx.addIssue({
              code: 'custom',
              path: ['applicationCA'],
              message: 'applies only to an application that speaks TLS: set exposedServiceIsTLS to true',
            });
          }
          if (Boolean(s.TLSCertificate) !== Boolean(s.TLSCertificateKey)) {
            ctx.addIssue({ code: 'custom', path: ['TLSCertificateKey'], message: 'TLSCertificate and TLSCertificateKey go together' });
          }
        },
        { when: (payload) => typeof payload.value === 'object' && payload.value !== null },
      ),
    httpresourcespec: z.strictObject({
      ...base,
      endpoints: z.array(endpoint(tagExpression)).default([]),
    }),
    externalnetwork: z
      .strictObject({
        ...base,
        entries: z.array(networkEntry).min(1, 'needs at least one entry: a CIDR, an IP address, a DNS name or *.domain'),
        servicePorts: z.array(servicePort).optional(),
        /** The older form: protocols + ports. */
        protocols: z
          .array(
            z
              .string()
              .transform((p) => p.toLowerCase())
              .pipe(z.enum(['tcp', 'udp', 'any'], { message: 'must be tcp, udp or any' })),
          )
          .optional(),
        ports: z
          .array(z.union([z.string(), z.number()]).transform(String).pipe(z.string().refine(validPortRange, 'must be a port (1-65535) or a range like 80:100')))
          .optional(),
      })
      .transform(({ protocols, ports, servicePorts, ...rest }) => ({
        ...rest,
        servicePorts: servicePorts ?? legacyServicePorts(protocols, ports),
      })),
    networkaccesspolicy: z.strictObject({
      ...base,
      subject: tagExpression.min(1, 'is required: a tag expression such as [["$identity=processingunit", "app=web"]]'),
      object: tagExpression.min(1, 'is required: a tag expression such as [["ext:name=idp"]]'),
      action: z.enum(['Allow', 'Reject']).default('Allow'),
      applyPolicyMode: z.enum(['OutgoingTraffic', 'IncomingTraffic', 'Bidirectional']).default('Bidirectional'),
      logsEnabled: z.boolean().default(false),
      disabled: z.boolean().default(false),
    }),
    apiauthorizationpolicy: apiAuthorizationPolicySchema(base, namespacePath, tagExpression),
  }) satisfies Record<ObjectKind, z.ZodType>;

export const objectSchemas = schemasWith(tagExpression);
const storedObjectSchemas = schemasWith(storedTagExpression);

export interface AttributeError {
  attribute: string;
  message: string;
}

/**
 * Input (the API, imports, bootstrap files) must not hold attributes microseg does not know: they are
 * refused. What is already stored is read with `unknownAttributes: 'drop'`: an attribute a newer version
 * wrote during a rolling upgrade is ignored rather than the whole object lost (a lost Reject policy would
 * open traffic). For the same reason `source: 'stored'` reads tag expressions without the rules on
 * patterns that came later (tag-expressions.ts).
 */
export function validateObject(
  kind: ObjectKind,
  input: unknown,
  options: { unknownAttributes?: 'refuse' | 'drop'; source?: 'input' | 'stored' } = {},
): { ok: true; value: Record<string, unknown> } | { ok: false; errors: AttributeError[] } {
  const schema = (options.source === 'stored' ? storedObjectSchemas : objectSchemas)[kind];
  let candidate = input;
  let result = schema.safeParse(candidate);
  // Each round removes the unknown attributes zod reported (nested ones surface once their parent parses).
  for (let round = 0; options.unknownAttributes === 'drop' && !result.success && round < 5; round++) {
    const unknown = result.error.issues.filter((i) => i.code === 'unrecognized_keys');
    if (unknown.length === 0) break;
    candidate = withoutKeys(
      candidate,
      unknown.map((i) => ({ path: i.path, keys: (i as { keys: string[] }).keys })),
    );
    result = schema.safeParse(candidate);
  }
  if (result.success) {
    const value = { ...(result.data as Record<string, unknown>) };
    for (const attribute of readOnlyAttributes) delete value[attribute];
    return { ok: true, value };
  }
  return { ok: false, errors: result.error.issues.flatMap((i) => issueErrors(kind, i)) };
}

/** A deep copy of `value` without the given keys at the given paths. */
function withoutKeys(value: unknown, removals: Array<{ path: ReadonlyArray<PropertyKey>; keys: string[] }>): unknown {
  const copy = structuredClone(value) as Record<PropertyKey, unknown>;
  for (const { path, keys } of removals) {
    let at: unknown = copy;
    for (const step of path) at = (at as Record<PropertyKey, unknown> | undefined)?.[step];
    if (at && typeof at === 'object') for (const key of keys) delete (at as Record<string, unknown>)[key];
  }
  return copy;
}

/**
 * An attribute microseg does not know is refused, not dropped: ignoring it could make an object broader
 * than the YAML that created it (a policy's `ports`, a service's `IPs`, `negateSubject`).
 */
function issueErrors(kind: ObjectKind, issue: z.core.$ZodIssue): AttributeError[] {
  if (issue.code === 'unrecognized_keys') {
    const where = issue.path.length === 0 ? `a ${kind}` : `this part of a ${kind}`;
    return issue.keys.map((key) => ({
      attribute: attributePath([...issue.path, key]),
      message: `is not an attribute of ${where}; microseg does not support it (remove it, or check its spelling)`,
    }));
  }
  return [{ attribute: attributePath(issue.path) || kind, message: issue.message }];
}

/** `endpoints[0].methods[1]`: the way users write it. */
export function attributePath(path: ReadonlyArray<PropertyKey>): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`)).join('');
}
