// Every log event microseg records, as one catalogue: who emits it, its level, category and title. The
// emitters (`Bus.emitEvent`) take a kind from here and add only what varies (the text, the object, the
// namespace), so an event's title and level cannot drift between the places that raise it, and
// docs/architecture.md lists them all (a test keeps the two in step). `content` is for people: never a
// token, code, cookie, secret or value of a bucket entry.

export type EventLevel = 'Debug' | 'Info' | 'Warning' | 'Error' | 'Critical';
export type EventOrigin = 'gateway' | 'authn' | 'policy' | 'flowlog';

export interface EventSpec {
  readonly origin: EventOrigin;
  readonly level: EventLevel;
  /** What the Event logs view filters on. */
  readonly category: string;
  readonly title: string;
}

const spec = (origin: EventOrigin, level: EventLevel, category: string, title: string): EventSpec => Object.freeze({ origin, level, category, title });

export const eventCatalogue = Object.freeze({
  // authn: sign-in and sessions
  loginSucceeded: spec('authn', 'Info', 'authn', 'Login succeeded'),
  loginFailed: spec('authn', 'Warning', 'authn', 'Login failed'),
  /** The operator must act: the IdP cannot be reached at all (network policy, refused address). */
  loginFailedIdpUnreachable: spec('authn', 'Error', 'authn', 'Login failed'),
  loginStartsLimited: spec('authn', 'Warning', 'authn', 'Login starts limited'),
  idpDiscoveryFailed: spec('authn', 'Error', 'authn', 'Identity provider discovery failed'),
  idpBlockedByNetworkPolicy: spec('authn', 'Error', 'authn', 'Identity provider blocked by network policy'),
  idpAddressRefused: spec('authn', 'Error', 'authn', 'Identity provider address refused'),
  sessionRefreshFailed: spec('authn', 'Warning', 'authn', 'Session refresh failed'),
  logout: spec('authn', 'Info', 'authn', 'Logout'),
  backchannelLogout: spec('authn', 'Info', 'authn', 'Back-channel logout'),
  backchannelLogoutRefused: spec('authn', 'Warning', 'authn', 'Back-channel logout refused'),
  sessionRevoked: spec('authn', 'Warning', 'authn', 'Session revoked'),
  bearerTokensRevoked: spec('authn', 'Warning', 'authn', 'Bearer tokens revoked'),
  // policy: objects, the API, stored data
  objectCreated: spec('policy', 'Info', 'crud', 'Object created'),
  objectUpdated: spec('policy', 'Info', 'crud', 'Object updated'),
  objectDeleted: spec('policy', 'Info', 'crud', 'Object deleted'),
  apiRequestRefused: spec('policy', 'Warning', 'crud', 'API request refused'),
  apiChangeRefused: spec('policy', 'Warning', 'crud', 'API change refused'),
  apiAuthenticationFailed: spec('policy', 'Warning', 'auth', 'API authentication failed'),
  apiAccessDenied: spec('policy', 'Warning', 'auth', 'API access denied'),
  apiClientRateLimited: spec('policy', 'Warning', 'auth', 'API client rate limited'),
  secretsResealed: spec('policy', 'Info', 'crud', 'Secrets re-sealed'),
  secretUnreadable: spec('policy', 'Error', 'crud', 'Secret cannot be decrypted'),
  assertionKeysRotated: spec('policy', 'Warning', 'crud', 'Assertion keys rotated'),
  malformedEntrySkipped: spec('policy', 'Error', 'crud', 'Malformed entry skipped'),
  processingUnitRegistered: spec('policy', 'Info', 'processingunit', 'Processing unit registered'),
  serviceNotServedPortAndHostTaken: spec('policy', 'Error', 'crud', 'Service not served: port and host taken'),
  serviceNotServedPortNotAllowed: spec('policy', 'Error', 'crud', 'Service not served: port not allowed'),
  networkAccessDenied: spec('policy', 'Warning', 'network', 'Network access denied'),
  // gateway: what it cannot serve
  serviceNotServedPortCannotOpen: spec('gateway', 'Error', 'service', 'Service not served: its port cannot be opened'),
  serviceNotServedCertificateUnusable: spec('gateway', 'Error', 'service', 'Service not served: its certificate cannot be used'),
  serviceServedAgain: spec('gateway', 'Info', 'service', 'Service served again'),
});

export type EventKind = keyof typeof eventCatalogue;

/** What an emitter gives of an event: the catalogue gives the rest. */
export interface EventInput {
  /** For people: never a token, code, cookie or secret. */
  content: string;
  /** The kind of object it is about (`service`, `apitoken`, …) and its ID. */
  targetIdentity: string;
  targetId: string;
  /** Whose administrators see it. */
  namespace: string;
  /** A title more precise than the catalogue's (`service created`); the kind stays the catalogue's. */
  title?: string;
  /** The trace of the request it belongs to. */
  traceId?: string;
}
