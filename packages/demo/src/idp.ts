import { createServer, type IncomingMessage, type RequestListener } from 'node:http';
import Provider, { errors, type ClientMetadata, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import { PAGE_CONTENT_SECURITY_POLICY } from './html.ts';
import { createDemoAdminHandler, isDemoAdminPath, trackStats } from './idp-admin.ts';
import { accountClaimsFor, claimsConfigFor, extraParamsFor, isDemoIdpBehaviour, issuerPathFor, routesFor, type DemoIdpBehaviour } from './idp-behaviours.ts';
import { createInteractionHandler, isInteractionPath } from './idp-interactions.ts';
import { renderErrorPage, renderLogoutConfirmationPage, renderSignedOutPage } from './idp-pages.ts';
import { demoIdpFetch } from './loopback-fetch.ts';
import { createMemoryStore, type MemoryStore } from './memory-adapter.ts';
import { closeServer, listen } from './server-lifecycle.ts';
import { generateCookieKeys, generateRs256SigningJwk } from './signing-key.ts';
import { DEFAULT_DEMO_USERS, findUserBySub, type DemoUser } from './users.ts';

export type { DemoUser } from './users.ts';
export type { DemoIdpBehaviour } from './idp-behaviours.ts';
export { DEMO_AZURE_GROUPS_LIMIT, DEMO_AZURE_TENANT_ID, DEMO_IDP_BEHAVIOURS, isDemoIdpBehaviour } from './idp-behaviours.ts';
export type { BackchannelLogoutResult, DemoIdpStats } from './idp-admin.ts';
export { DEFAULT_DEMO_USERS } from './users.ts';

export type DemoIdpClient = {
  clientId: string;
  clientSecret: string;
  redirectUris: string[];
  postLogoutRedirectUris?: string[];
  /**
   * OIDC Back-Channel Logout 1.0: where the IdP POSTs a logout token (with `sid`) when the user signs
   * out at the IdP. The client's ID tokens then carry `sid`. A loopback target (localhost, 127.0.0.1,
   * ::1) may use a self-signed certificate; any other is verified.
   */
  backchannelLogoutUri?: string;
};

export type DemoIdpTtl = {
  /** Default 3600. */
  idTokenSeconds?: number;
  /** Default 3600. */
  accessTokenSeconds?: number;
  /** Default 14 days. */
  refreshTokenSeconds?: number;
};

export type DemoIdpOptions = {
  /** Port to listen on; 0 picks a free one (the issuer then names the chosen port). */
  port: number;
  /**
   * Defaults to `http://localhost:<port>` followed by the path `behaveLike` gives it (Okta:
   * `/oauth2/default`, Keycloak: `/realms/demo`, Azure AD: `/<tenant id>/v2.0`). An issuer with a
   * path serves discovery and the protocol endpoints under that path; the login pages and `/_demo/`
   * stay at the root.
   */
  issuer?: string;
  clients: DemoIdpClient[];
  /** Listen address, default 127.0.0.1. */
  host?: string;
  /** Defaults to alice@example.com / alice and bob@example.com / bob. */
  users?: DemoUser[];
  /** Token lifetimes; each one left out keeps its default. */
  ttl?: DemoIdpTtl;
  /** Every refresh returns a new refresh token and the used one stops working (default false). */
  rotateRefreshTokens?: boolean;
  /**
   * Imitate where a real IdP bends the standard (default 'standard'):
   * - google: the `offline_access` scope is refused with `invalid_scope`; a refresh token comes only
   *   with `access_type=offline` and `prompt=consent`.
   * - keycloak: issuer `/realms/demo`; ID tokens carry `realm_access.roles` and
   *   `resource_access.<client>.roles` (alice: admin, user and editor; bob: user).
   * - azure: issuer `/<tenant id>/v2.0`; ID tokens carry `tid`; a user with more than one group gets
   *   a groups overage (`_claim_names` / `_claim_sources`) instead of `groups`.
   * - okta: issuer `/oauth2/default` with Okta's `/v1/…` endpoint paths.
   * Keycloak, Azure AD and Okta issue a refresh token for `offline_access` without `prompt=consent`;
   * the standard IdP (like oidc-provider) only with it.
   */
  behaveLike?: DemoIdpBehaviour;
};

export type DemoIdp = {
  issuer: string;
  close(): Promise<void>;
};

const MINUTE = 60;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

function clientMetadataFor(client: DemoIdpClient): ClientMetadata {
  const backchannelLogout: Pick<ClientMetadata, 'backchannel_logout_uri' | 'backchannel_logout_session_required'> = client.backchannelLogoutUri
    ? { backchannel_logout_uri: client.backchannelLogoutUri, backchannel_logout_session_required: true }
    : {};
  return {
    ...backchannelLogout,
    client_id: client.clientId,
    client_secret: client.clientSecret,
    redirect_uris: client.redirectUris,
    post_logout_redirect_uris: client.postLogoutRedirectUris ?? [],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    // oidc-provider 9 accepts client_secret_post as well for a client registered with client_secret_basic.
    token_endpoint_auth_method: 'client_secret_basic',
  };
}

function sendProviderHtml(ctx: KoaContextWithOIDC, html: string): void {
  ctx.type = 'html';
  ctx.set('Content-Security-Policy', PAGE_CONTENT_SECURITY_POLICY);
  ctx.body = html;
}

function lifetime(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value <= 0) throw new Error(`ttl.${name} must be a positive whole number of seconds, got ${value}`);
  return value;
}

function providerConfiguration(
  users: readonly DemoUser[],
  store: MemoryStore,
  options: Pick<DemoIdpOptions, 'clients' | 'ttl' | 'rotateRefreshTokens'>,
  behaviour: DemoIdpBehaviour,
): Configuration {
  const { clients, ttl = {} } = options;
  const routes = routesFor(behaviour);
  return {
    ...(routes ? { routes } : {}),
    adapter: store.adapterFactory,
    clients: clients.map(clientMetadataFor),
    clientAuthMethods: ['client_secret_basic', 'client_secret_post'],
    responseTypes: ['code'],
    scopes: ['openid', 'email', 'profile', 'offline_access'],
    claims: claimsConfigFor(behaviour),
    extraParams: extraParamsFor(behaviour),
    // Put the scope's claims (email, name, groups) in the ID token itself, not only in userinfo.
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    // A JWT access token names its user as the ID token does (email, groups: the tags microseg makes).
    extraTokenClaims(ctx, token) {
      if (token.kind !== 'AccessToken' || !('accountId' in token) || !token.resourceServer) return undefined;
      const user = findUserBySub(users, String(token.accountId));
      if (!user) return undefined;
      const { sub: _sub, ...claims } = accountClaimsFor(behaviour, user, token.clientId);
      return claims;
    },
    findAccount(ctx, sub) {
      const user = findUserBySub(users, sub);
      if (!user) return undefined;
      const clientId = ctx.oidc?.client?.clientId;
      return { accountId: user.sub, claims: () => accountClaimsFor(behaviour, user, clientId) };
    },
    jwks: { keys: [generateRs256SigningJwk()] },
    cookies: { keys: generateCookieKeys() },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    features: {
      devInteractions: { enabled: false },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource(ctx, form) {
          sendProviderHtml(ctx, renderLogoutConfirmationPage(ctx.host, form));
        },
        postLogoutSuccessSource(ctx) {
          const client = ctx.oidc.client;
          sendProviderHtml(ctx, renderSignedOutPage(client ? (client.clientName ?? client.clientId) : undefined));
        },
      },
      revocation: { enabled: true },
      // JWT access tokens (RFC 9068, `typ: at+jwt`) for an API client that names the application it calls
      // (`resource`: the origin of one of the client's redirect URIs), with `aud` the client id — what
      // microseg's gateway accepts as a bearer token. Without `resource`, the access token stays opaque
      // and good for userinfo (as Auth0 does without `audience`).
      resourceIndicators: {
        enabled: true,
        useGrantedResource: () => true,
        getResourceServerInfo(_ctx, resource, client) {
          const origins = (client.redirectUris ?? []).map((uri) => new URL(uri).origin);
          if (!origins.includes(new URL(resource).origin))
            throw new errors.InvalidTarget("the resource must be the origin of one of the client's redirect URIs");
          return { scope: 'openid email profile offline_access', audience: client.clientId, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } };
        },
      },
      // The end_session confirmation ("Yes, sign me out") notifies the session's clients that have a
      // backchannel_logout_uri; the ID tokens of those clients carry `sid`.
      backchannelLogout: { enabled: true },
    },
    // Outgoing requests (logout tokens): self-signed certificates accepted on loopback only.
    fetch: demoIdpFetch,
    // oidc-provider's default rotates only once 70% of the refresh token's lifetime has passed.
    rotateRefreshToken: options.rotateRefreshTokens === true,
    renderError(ctx, out) {
      sendProviderHtml(ctx, renderErrorPage({ error: out.error, error_description: out.error_description }));
    },
    clientBasedCORS: () => false,
    ttl: {
      AccessToken: lifetime('accessTokenSeconds', ttl.accessTokenSeconds, HOUR),
      AuthorizationCode: MINUTE,
      IdToken: lifetime('idTokenSeconds', ttl.idTokenSeconds, HOUR),
      RefreshToken: lifetime('refreshTokenSeconds', ttl.refreshTokenSeconds, 14 * DAY),
      Interaction: HOUR,
      Session: 14 * DAY,
      Grant: 14 * DAY,
    },
  };
}

/**
 * oidc-provider mounted under the issuer's path: the request goes on with the path stripped and
 * `originalUrl` / `baseUrl` set as Express would set them, from which oidc-provider builds its URLs.
 * False for a request outside the path.
 */
function mountUnder(request: IncomingMessage, mountPath: string): boolean {
  if (!mountPath) return true;
  const url = request.url ?? '/';
  const rest = url.slice(mountPath.length);
  if (!url.startsWith(mountPath) || (rest !== '' && !rest.startsWith('/') && !rest.startsWith('?'))) return false;
  const mounted = request as IncomingMessage & { originalUrl?: string; baseUrl?: string };
  mounted.originalUrl = url;
  mounted.baseUrl = mountPath;
  request.url = rest.startsWith('/') ? rest : `/${rest}`;
  return true;
}

/**
 * Starts a real OpenID Provider (oidc-provider) for demos and tests: authorization code flow with
 * PKCE (S256) for confidential clients, its own login page, automatic consent, RP-initiated logout,
 * back-channel logout, and demo-only endpoints: `GET /_demo/stats` (grant and logout counters) and
 * `POST /_demo/backchannel-logout` with `{ "email": … }` (ends the user's sessions everywhere).
 */
export async function startDemoIdp(options: DemoIdpOptions): Promise<DemoIdp> {
  const host = options.host ?? '127.0.0.1';
  const users = options.users ?? DEFAULT_DEMO_USERS;
  const store = createMemoryStore();
  let handleRequest: RequestListener | undefined;

  const server = createServer((request, response) => {
    if (!handleRequest) {
      response.statusCode = 503;
      response.end();
      return;
    }
    handleRequest(request, response);
  });
  const behaviour = options.behaveLike ?? 'standard';
  if (!isDemoIdpBehaviour(behaviour)) throw new Error(`behaveLike must be one of standard, google, keycloak, azure, okta; got ${String(behaviour)}`);
  const port = await listen(server, options.port, host);
  const issuer = options.issuer ?? `http://localhost:${port}${issuerPathFor(behaviour)}`;
  const mountPath = new URL(issuer).pathname.replace(/\/+$/, '');

  try {
    const provider = new Provider(issuer, providerConfiguration(users, store, options, behaviour));
    provider.on('server_error', (_ctx: unknown, error: Error) => {
      console.error(JSON.stringify({ level: 'error', msg: 'demo idp server error', error: error.message }));
    });
    const stats = trackStats(provider);
    const handleInteraction = createInteractionHandler(provider, users);
    const handleAdmin = createDemoAdminHandler(provider, store, stats, users);
    const handleProtocol = provider.callback();
    handleRequest = (request, response) => {
      const pathname = new URL(request.url ?? '/', 'http://idp.invalid').pathname;
      if (isInteractionPath(pathname)) void handleInteraction(request, response, pathname);
      else if (isDemoAdminPath(pathname)) void handleAdmin(request, response, pathname);
      else if (mountUnder(request, mountPath)) void handleProtocol(request, response);
      else {
        response.statusCode = 404;
        response.end();
      }
    };
  } catch (error) {
    await closeServer(server);
    throw error;
  }

  return {
    issuer,
    close: () => closeServer(server),
  };
}
