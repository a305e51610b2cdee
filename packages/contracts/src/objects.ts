// The policy object model, with the field names of the original API so that
// existing YAML works unchanged (SPEC §2).

/** An OR of AND-lists of `key=value` tags. */
export type TagExpression = string[][];

export type HTTPMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'OPTIONS';
export const httpMethods: readonly HTTPMethod[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

interface BaseObject {
  ID: string;
  name: string;
  namespace: string;
  description?: string;
  associatedTags: string[];
  propagate: boolean;
  createTime?: string;
  updateTime?: string;
}

export interface NamespaceObject extends BaseObject {
  kind: 'namespace';
  defaultPUIncomingTrafficAction: 'Allow' | 'Reject' | 'Inherit';
  defaultPUOutgoingTrafficAction: 'Allow' | 'Reject' | 'Inherit';
}

export interface ProcessingUnitObject extends BaseObject {
  kind: 'processingunit';
  address: string;
  status: 'Running' | 'Stopped';
  lastSeen?: string;
  gatewayID?: string;
  /** The application ports services may forward to (its gateway's file). None: no service is served. */
  applicationPorts?: number[];
  /** The ports its gateway may open for services (its gateway's file). */
  exposedPorts?: number[];
  /** What its gateway could not do with the services it was given (a port it cannot bind, a bad certificate). */
  serviceProblems?: Array<{ serviceID: string; message: string }>;
}

export interface ClaimMapping {
  claimName: string;
  targetHTTPHeader: string;
}

/** Azure AD's sign-in hosts (public and national clouds). */
const AZURE_LOGIN_HOSTS = new Set(['login.microsoftonline.com', 'login.microsoftonline.us', 'login.partner.microsoftonline.cn', 'login.chinacloudapi.cn']);

/**
 * Azure AD's multi-tenant endpoints (`/common`, `/organizations`, `/consumers`): users of any tenant
 * (anyone may create one) sign in there, so a service using one must list the tenants it accepts
 * (`OIDCAllowedTenants`).
 */
export function isAzureMultiTenantProvider(providerUrl: string): boolean {
  let url: URL;
  try {
    url = new URL(providerUrl);
  } catch {
    return false;
  }
  const first = url.pathname.split('/')[1]?.toLowerCase() ?? '';
  return AZURE_LOGIN_HOSTS.has(url.hostname.toLowerCase()) && ['common', 'organizations', 'consumers'].includes(first);
}

export interface ServiceObject extends BaseObject {
  kind: 'service';
  type: 'HTTP';
  authorizationType: 'None' | 'OIDC';
  OIDCProviderURL?: string;
  OIDCClientID?: string;
  /** Write-only: never returned by the API. */
  OIDCClientSecret?: string;
  OIDCCallbackURL?: string;
  OIDCScopes: string[];
  OIDCProviderProfile: 'auto' | 'generic' | 'google' | 'azure' | 'okta' | 'keycloak';
  /** Tenant ids (`tid`) whose users are accepted; required for Azure AD's multi-tenant endpoints. Empty: no `tid` check. (Absent in objects stored before it existed.) */
  OIDCAllowedTenants?: string[];
  acceptBearerTokens: boolean;
  /** Served through an ingress that asks the gateway's forward-auth port (docs/forward-auth.md). (Absent in objects stored before it existed: false.) */
  forwardAuth?: boolean;
  /** The user's access token goes to the application in `Authorization: Bearer`. (Absent in objects stored before it existed.) */
  passAccessToken?: boolean;
  sessionIdleTimeoutSeconds: number;
  sessionMaxLifetimeSeconds: number;
  hosts: string[];
  port: number;
  exposedPort: number;
  exposedServiceIsTLS: boolean;
  /** How the gateway speaks to the application (absent in objects stored before it existed: HTTP/1.1). */
  applicationProtocol?: 'HTTP/1.1' | 'HTTP/2';
  /** PEM certificates the application's TLS certificate must chain to; absent: the system's CAs. */
  applicationCA?: string;
  selectors: TagExpression;
  exposedAPIs: TagExpression;
  claimsToHTTPHeaderMappings: ClaimMapping[];
  redirectURLOnAuthorizationFailure?: string;
  TLSCertificate?: string;
  /** Write-only. */
  TLSCertificateKey?: string;
  disabled: boolean;
}

export interface Endpoint {
  URI: string;
  methods: HTTPMethod[];
  public: boolean;
  allowedScopes: TagExpression;
}

export interface HTTPResourceSpecObject extends BaseObject {
  kind: 'httpresourcespec';
  endpoints: Endpoint[];
}

export interface ExternalNetworkObject extends BaseObject {
  kind: 'externalnetwork';
  /** CIDRs, IP addresses, DNS names and `*.domain` wildcards. */
  entries: string[];
  /** `tcp/443`, `tcp/80:100`, `udp/53`, `any`. The older `protocols` + `ports` are normalised into this. */
  servicePorts: string[];
}

export interface NetworkAccessPolicyObject extends BaseObject {
  kind: 'networkaccesspolicy';
  subject: TagExpression;
  object: TagExpression;
  action: 'Allow' | 'Reject';
  applyPolicyMode: 'OutgoingTraffic' | 'IncomingTraffic' | 'Bidirectional';
  logsEnabled: boolean;
  disabled: boolean;
}

/** The console roles an apiauthorizationpolicy may give, in the original product's spelling. */
export const consoleRoleIdentities = Object.freeze({
  '@auth:role=namespace.viewer': 'viewer',
  '@auth:role=namespace.editor': 'editor',
} as const);
export type ConsoleRoleIdentity = keyof typeof consoleRoleIdentities;
export type ConsoleRole = (typeof consoleRoleIdentities)[ConsoleRoleIdentity];

/**
 * Who may use the console, signed in through the gateway (SPEC §9.6): users whose tags match `subject` get
 * the roles of `authorizedIdentities` on `authorizedNamespace` (and below it when `propagate`).
 */
export interface APIAuthorizationPolicyObject extends BaseObject {
  kind: 'apiauthorizationpolicy';
  /** A tag expression over the user's tags (claims), as the identity assertion carries them. */
  subject: TagExpression;
  /** The policy's own namespace or one below it. */
  authorizedNamespace: string;
  authorizedIdentities: ConsoleRoleIdentity[];
  disabled: boolean;
}

export type PolicyObject =
  | NamespaceObject
  | ProcessingUnitObject
  | ServiceObject
  | HTTPResourceSpecObject
  | ExternalNetworkObject
  | NetworkAccessPolicyObject
  | APIAuthorizationPolicyObject;
export type ObjectKind = PolicyObject['kind'];
export const objectKinds: readonly ObjectKind[] = [
  'namespace',
  'processingunit',
  'service',
  'httpresourcespec',
  'externalnetwork',
  'networkaccesspolicy',
  'apiauthorizationpolicy',
];

/** The plural used in import documents and API paths: `services`, `networkaccesspolicies`. */
export function pluralOf(kind: ObjectKind): string {
  return kind.endsWith('y') ? `${kind.slice(0, -1)}ies` : `${kind}s`;
}
