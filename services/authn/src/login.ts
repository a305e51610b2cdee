// Login start and callback (SPEC §4): authorization code flow, confidential
// client, state + nonce + PKCE S256 always, full ID token validation.
import * as client from 'openid-client';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { MicrosegError } from '@microseg/errors';
import { metrics } from '@microseg/telemetry';
import type { LoginCallbackRequest, LoginCallbackResponseSchema, LoginStartRequest, LoginStartResponseSchema } from '@microseg/proto/authn';
import { authorizationParameters, profileFor, tagsFromClaims, tenantProblem } from './providers.ts';
import { bindingFor, bindingMatches, hashBinding, safeReturnPath, type LoginStateStore } from './login-state.ts';
import { describeIdpError, idpUnavailable, networkDenial, type OidcClients } from './oidc-clients.ts';
import { checkIdToken } from './id-token.ts';
import type { SessionStore } from './sessions.ts';
import type { AuthnEvents } from './events.ts';
import type { AuthnConfig } from './config.ts';
import type { LoginStartLimiter } from './login-limit.ts';

export interface LoginDeps {
  clients: OidcClients;
  states: LoginStateStore;
  starts: Pick<LoginStartLimiter, 'count'>;
  sessions: SessionStore;
  events: AuthnEvents;
  config: Pick<AuthnConfig, 'AUTHN_LOGIN_TTL_SECONDS' | 'AUTHN_LOGIN_STARTS_PER_ADDRESS'>;
}

/** The service's namespace for an event ('' when even its settings cannot be had). */
async function namespaceOf(deps: LoginDeps, serviceId: string): Promise<string> {
  return (await deps.clients.settings(serviceId).catch(() => undefined))?.namespace ?? '';
}

export async function startLogin(deps: LoginDeps, req: LoginStartRequest): Promise<MessageInitShape<typeof LoginStartResponseSchema>> {
  // Counted before anything else: a flood from one address costs one Redis call per request, nothing more.
  const verdict = await deps.starts.count(req.clientIp);
  if (!verdict.allowed) {
    if (verdict.firstRefusal) {
      deps.events.emit('loginStartsLimited', {
        content: `${verdict.bucket} started more than ${deps.config.AUTHN_LOGIN_STARTS_PER_ADDRESS} logins within ${deps.config.AUTHN_LOGIN_TTL_SECONDS} s (last to service ${req.serviceId}); its next ones are refused with 429 for ${verdict.retryAfterSeconds} s.`,
        targetIdentity: 'service',
        targetId: req.serviceId,
        namespace: await namespaceOf(deps, req.serviceId),
      });
    }
    throw new MicrosegError(
      'AUTHN_LOGIN_RATE_LIMITED',
      `Too many sign-ins were started from your address. Please try again in ${verdict.retryAfterSeconds} seconds.`,
      { retryAfterSeconds: verdict.retryAfterSeconds },
    );
  }
  let oidc;
  try {
    oidc = await deps.clients.get(req.serviceId);
  } catch (err) {
    if (
      err instanceof MicrosegError &&
      (err.code === 'AUTHN_DISCOVERY_FAILED' || err.code === 'AUTHN_NETWORK_DENIED' || err.code === 'AUTHN_IDP_ADDRESS_REFUSED')
    ) {
      const kind =
        err.code === 'AUTHN_NETWORK_DENIED'
          ? 'idpBlockedByNetworkPolicy'
          : err.code === 'AUTHN_IDP_ADDRESS_REFUSED'
            ? 'idpAddressRefused'
            : 'idpDiscoveryFailed';
      deps.events.emit(kind, { content: err.message, targetIdentity: 'service', targetId: req.serviceId, namespace: await namespaceOf(deps, req.serviceId) });
    }
    throw err;
  }
  const state = client.randomState();
  const nonce = client.randomNonce();
  const codeVerifier = client.randomPKCECodeVerifier();
  const binding = bindingFor(req.binding);
  await deps.states.save(state, {
    serviceId: req.serviceId,
    nonce,
    codeVerifier,
    returnTo: safeReturnPath(req.returnTo),
    bindingHash: hashBinding(binding),
    startedAtMs: Date.now(),
  });
  const profile = profileFor(oidc.settings.providerUrl, oidc.settings.providerProfile);
  const url = client.buildAuthorizationUrl(oidc.config, {
    ...authorizationParameters(profile, oidc.settings.scopes),
    redirect_uri: oidc.settings.redirectUri,
    response_type: 'code',
    state,
    nonce,
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
  });
  return { authorizationUrl: url.href, binding, bindingMaxAgeSeconds: deps.config.AUTHN_LOGIN_TTL_SECONDS };
}

export async function completeLogin(deps: LoginDeps, req: LoginCallbackRequest): Promise<MessageInitShape<typeof LoginCallbackResponseSchema>> {
  const fail = (code: ConstructorParameters<typeof MicrosegError>[0], reason: string, namespace = '', cause?: unknown, publicMessage?: string): never => {
    // The operator must act when the IdP cannot be reached at all; the other failures are the user's or the IdP's.
    deps.events.emit(code === 'AUTHN_NETWORK_DENIED' || code === 'AUTHN_IDP_ADDRESS_REFUSED' ? 'loginFailedIdpUnreachable' : 'loginFailed', {
      content: `Login to service ${req.serviceId} from ${req.clientIp || 'unknown address'} failed: ${reason}`,
      targetIdentity: 'service',
      targetId: req.serviceId,
      namespace,
    });
    metrics.authnLogins().inc({ result: code });
    throw new MicrosegError(code, publicMessage, { cause });
  };

  const params = new URLSearchParams(req.query);
  const stateParam = params.get('state') ?? '';
  const state = await deps.states.take(stateParam);
  // The service's own namespace, so that its administrators see these failures too.
  if (!state) return fail('AUTHN_STATE_INVALID', 'unknown, expired or already used state', await namespaceOf(deps, req.serviceId));
  if (state.serviceId !== req.serviceId) return fail('AUTHN_STATE_INVALID', 'state belongs to another service', await namespaceOf(deps, req.serviceId));
  if (!bindingMatches(req.binding, state.bindingHash))
    return fail('AUTHN_STATE_BINDING', 'the login was started in another browser', await namespaceOf(deps, req.serviceId));

  const oidc = await deps.clients.get(req.serviceId);
  const namespace = oidc.settings.namespace;
  if (params.has('error')) {
    const error = (params.get('error') ?? '').replace(/[^\w.-]/g, '').slice(0, 64);
    return fail('AUTHN_IDP_ERROR', `the identity provider answered ${error}`, namespace);
  }

  let tokens;
  try {
    const callbackUrl = new URL(oidc.settings.redirectUri);
    callbackUrl.search = req.query;
    tokens = await client.authorizationCodeGrant(oidc.config, callbackUrl, {
      pkceCodeVerifier: state.codeVerifier,
      expectedState: stateParam,
      expectedNonce: state.nonce,
      idTokenExpected: true,
    });
  } catch (err) {
    const denied = networkDenial(err);
    if (denied) return fail(denied.code, denied.message, namespace, err, denied.message);
    const isTokenProblem =
      !idpUnavailable(err) &&
      (err instanceof client.ClientError || err instanceof client.ResponseBodyError || err instanceof client.AuthorizationResponseError);
    return fail(isTokenProblem ? 'AUTHN_TOKEN_INVALID' : 'AUTHN_DISCOVERY_FAILED', describeIdpError(err), namespace, err);
  }

  const claims = tokens.claims();
  if (!claims || !tokens.id_token) return fail('AUTHN_TOKEN_INVALID', 'no ID token in the token response', namespace);
  try {
    await checkIdToken(oidc, tokens.id_token, claims);
  } catch (err) {
    const denied = networkDenial(err);
    if (denied) return fail(denied.code, denied.message, namespace, err, denied.message);
    return fail('AUTHN_TOKEN_INVALID', (err as Error).message, namespace, err);
  }
  const tenant = tenantProblem(oidc.settings.allowedTenants, oidc.settings.providerUrl, claims);
  if (tenant) return fail('AUTHN_TOKEN_INVALID', tenant, namespace);
  const profile = profileFor(oidc.settings.providerUrl, oidc.settings.providerProfile);
  const tags = tagsFromClaims(profile, claims);
  const now = Date.now();
  const lifetimes = [claims.exp * 1000];
  const expiresIn = tokens.expiresIn();
  if (expiresIn !== undefined) lifetimes.push(now + expiresIn * 1000);
  const user = typeof claims.email === 'string' ? claims.email : claims.sub;
  const absoluteExpiresAtMs = now + (oidc.settings.sessionMaxLifetimeSeconds || 12 * 3600) * 1000;
  const session = await deps.sessions.create({
    v: 2,
    serviceId: req.serviceId,
    namespace,
    user,
    subject: claims.sub,
    issuer: claims.iss,
    audience: oidc.settings.clientId,
    sid: typeof claims.sid === 'string' ? claims.sid : undefined,
    tags,
    idToken: tokens.id_token,
    accessToken: tokens.access_token,
    refreshToken: tokens.refresh_token,
    createdAtMs: now,
    tokensIssuedAtMs: now,
    tokensExpireAtMs: Math.min(...lifetimes, absoluteExpiresAtMs),
    absoluteExpiresAtMs,
    idleTimeoutMs: (oidc.settings.sessionIdleTimeoutSeconds || 2 * 3600) * 1000,
  });
  const ticket = session.cookieValue;
  const expiresAtMs = session.refreshable ? absoluteExpiresAtMs : Math.min(...lifetimes, absoluteExpiresAtMs);
  metrics.authnLogins().inc({ result: 'success' });
  const who = typeof claims.email === 'string' ? claims.email : claims.sub;
  deps.events.emit('loginSucceeded', {
    content: `${who} logged in to ${oidc.settings.name} from ${req.clientIp || 'unknown address'}.`,
    targetIdentity: 'service',
    targetId: req.serviceId,
    namespace,
  });
  return { ticket, returnTo: state.returnTo, maxAgeSeconds: Math.max(1, Math.floor((expiresAtMs - now) / 1000)), subject: who };
}
