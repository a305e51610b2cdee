// The one place where every NATS subject, stream, consumer, KV bucket, Redis key
// and cookie name of microseg is defined. Services import names from here and
// never spell them out themselves.

/** Request/reply subjects, served in queue groups so replicas share the work. */
export const subjects = Object.freeze({
  authnLoginStart: 'svc.authn.v1.login.start',
  authnLoginCallback: 'svc.authn.v1.login.callback',
  authnSessionLookup: 'svc.authn.v1.session.lookup',
  authnLogout: 'svc.authn.v1.logout',
  authnBackchannelLogout: 'svc.authn.v1.backchannel_logout',
  authnBearerVerify: 'svc.authn.v1.bearer.verify',
  authnSessionList: 'svc.authn.v1.sessions.list',
  authnSessionRevoke: 'svc.authn.v1.sessions.revoke',
  /** Core-NATS broadcast: a session was deleted, revoked or refreshed; gateways drop their copy. */
  sessionInvalidated: 'bcast.authn.v1.session.invalidated',
  policyDecide: 'svc.policy.v1.decide',
  policyGatewaySync: 'svc.policy.v1.gateway.sync',
  policyOidcClient: 'svc.policy.v1.service.oidc',
  policyFlowCheck: 'svc.policy.v1.flow.check',
  /** Who an API token stands for (flowlog checks its callers with it). */
  policyTokenVerify: 'svc.policy.v1.token.verify',
  /** Processing units, services, external networks, policies and namespace defaults of a subtree. */
  policyInventory: 'svc.policy.v1.inventory',
  /** The public halves of the identity assertions' keys and their issuer (flowlog verifies the console's assertions). */
  policyAssertionKeys: 'svc.policy.v1.assertion.keys',
  /** The console roles a user's tags give (apiauthorizationpolicy objects), for flowlog. */
  policyConsoleRoles: 'svc.policy.v1.console.roles',
  /** Decision events, one per request the gateway decides. */
  gatewayDecision: 'evt.gateway.v1.decision',
  /** Every stored event (flows and log events), for live subscribers on core NATS. */
  allEvents: 'evt.>',
  /** Log events of one origin service: `evt.authn.v1.event`. */
  logEvent: (origin: 'gateway' | 'authn' | 'policy' | 'flowlog') => `evt.${origin}.v1.event`,
  /** Core-NATS broadcast (not stored): objects changed, gateways resync. */
  policyChanged: 'bcast.policy.v1.changed',
});

/** Queue group names, one per service. */
export const queues = Object.freeze({
  authn: 'microseg-authn',
  policy: 'microseg-policy',
  /** Policy replicas share the watch for rejected flows (one event per denial). */
  policyDenials: 'microseg-policy-denials',
});

/** JetStream streams and consumers. */
export const streams = Object.freeze({
  events: {
    name: 'MICROSEG_EVENTS',
    subjects: ['evt.>'],
    /** Durable consumer shared by every flowlog replica. */
    flowlogConsumer: 'flowlog',
    /** JetStream de-duplication window for Nats-Msg-Id (ms). */
    duplicateWindowMs: 120_000,
    maxAgeMs: 7 * 24 * 3600_000,
  },
});

/** JetStream key-value buckets. */
export const buckets = Object.freeze({
  /** Policy objects, key `<kind>.<id>`. */
  objects: 'microseg_objects',
  /** API tokens: `<id>` → role, namespace and the SHA-256 of the secret (never the secret). */
  apiTokens: 'microseg_tokens',
  /**
   * The keys that sign identity assertions (key `ring`): public halves in clear, private halves sealed with
   * policy's secrets keys. Only policy reads and writes it; gateways get the keys in their sync reply.
   */
  assertionKeys: 'microseg_assertion_keys',
});

/**
 * Every Redis key microseg writes. Each service's keys share a prefix (`microseg:authn:`, `microseg:flowlog:`):
 * its Redis ACL user may touch those and nothing else (access.ts).
 */
export const redisKeys = Object.freeze({
  /** Login state (nonce, PKCE verifier, return path): single use, 10 minutes. */
  loginState: (state: string) => `microseg:authn:login:${state}`,
  /** Encrypted session, by session id. */
  session: (id: string) => `microseg:authn:session:${id}`,
  /** What may be known of a session without its secret (for listing and revocation): no token. */
  sessionMeta: (id: string) => `microseg:authn:session-meta:${id}`,
  /** Present while the session is not idle; expires after the idle timeout. */
  sessionActive: (id: string) => `microseg:authn:session-active:${id}`,
  /** Session ids by hash of issuer + subject, and of issuer + sid (back-channel logout). */
  sessionsBySubject: (hash: string) => `microseg:authn:sessions-by-sub:${hash}`,
  sessionsBySid: (hash: string) => `microseg:authn:sessions-by-sid:${hash}`,
  /** Session ids by hash of the user's name (email claim) and of the subject: revocation by user. */
  sessionsByName: (hash: string) => `microseg:authn:sessions-by-name:${hash}`,
  /** Set once the by-name index holds every session (sessions older than the index are added once). */
  sessionsByNameComplete: 'microseg:authn:sessions-by-name:complete',
  /** Sorted set of session ids by expiry. */
  sessionIndex: 'microseg:authn:sessions',
  /** Held by the one replica refreshing a session. */
  refreshLock: (id: string) => `microseg:authn:refresh-lock:${id}`,
  /**
   * A user's revoked bearer tokens, by hash of the user's name (email or subject, as the revocation named
   * them): namespace subtree → revocation time. Tokens issued before it are refused.
   */
  bearerRevoked: (hash: string) => `microseg:authn:bearer-revoked:${hash}`,
  /** Login starts from one client address (hash) in the current window. */
  loginStarts: (hash: string) => `microseg:authn:login-starts:${hash}`,
  /** Logout token ids already used (replay protection). */
  logoutTokenSeen: (jti: string) => `microseg:authn:logout-jti:${jti}`,
  /** Flow aggregates: one hash per aggregate key. */
  flow: (aggregateKey: string) => `microseg:flowlog:flow:${aggregateKey}`,
  /** Sorted set of flow aggregate keys by last-seen time. */
  flowIndex: 'microseg:flowlog:flows',
  /** Sorted set of log events (JSON) by time. */
  eventIndex: 'microseg:flowlog:events',
  /** Event ids already counted (redelivery protection). */
  seenEvent: (id: string) => `microseg:flowlog:seen:${id}`,
});

/** Cookies set by the gateway on the protected application's host. */
export const cookies = Object.freeze({
  /** The session ticket. `__Host-` forces Secure, Path=/ and no Domain. */
  session: '__Host-microseg',
  /** Binds a login in progress to the browser that started it. */
  loginBinding: '__Host-microseg-login',
});

/** Paths the gateway owns on every protected host. */
export const paths = Object.freeze({
  callback: '/aporeto/oidc/callback',
  logout: '/aporeto/oidc/logout',
  /** OIDC Back-Channel Logout: the IdP POSTs a logout token here. */
  backchannelLogout: '/aporeto/oidc/backchannel-logout',
  /** The public keys of the identity assertions (a JWK Set), on every service host. */
  assertionKeys: '/.well-known/microseg/jwks.json',
});

/** Headers microseg sets towards the application; client-sent copies are always removed. */
export const headers = Object.freeze({
  requestId: 'x-request-id',
  /** Prefix of microseg's own headers. */
  ownPrefix: 'x-microseg-',
  /** The signed identity assertion (a JWT, ES256) on every request forwarded with a user. */
  assertion: 'x-microseg-jwt-assertion',
});
