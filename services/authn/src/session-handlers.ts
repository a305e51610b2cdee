// The session life cycle served over NATS: lookup (with refresh), logout,
// back-channel logout, administrators' list and revoke. Every ended session is
// broadcast so that every gateway forgets it at once.
import type { MessageInitShape } from '@bufbuild/protobuf';
import * as client from 'openid-client';
import type { Redis } from 'ioredis';
import type { Bus } from '@microseg/bus';
import { subjects, withinSelection } from '@microseg/contracts';
import { MicrosegError } from '@microseg/errors';
import type {
  BackchannelLogoutRequest,
  BackchannelLogoutResponseSchema,
  LogoutRequest,
  LogoutResponseSchema,
  SessionInfoSchema,
  SessionListRequest,
  SessionListResponseSchema,
  SessionLookupRequest,
  SessionLookupResponseSchema,
  SessionRevokeRequest,
  SessionRevokeResponseSchema,
} from '@microseg/proto/authn';
import { SessionInvalidatedSchema } from '@microseg/proto/authn';
import type { AuthnEvents } from './events.ts';
import type { OidcClients } from './oidc-clients.ts';
import { refreshDueAtMs, usableSession, type RefreshDeps } from './refresh.ts';
import { sessionEndMs, type LoadedSession, type SessionMeta, type SessionStore } from './sessions.ts';
import { verifyLogoutToken } from './logout-token.ts';
import type { BearerRevocations } from './bearer-revocation.ts';

export interface SessionDeps {
  bus: Bus;
  redis: Redis;
  sessions: SessionStore;
  clients: OidcClients;
  revocations: Pick<BearerRevocations, 'revoke'>;
  events: AuthnEvents;
  lookupCacheMs: number;
  counters: RefreshDeps['counters'];
}

export function invalidate(deps: Pick<SessionDeps, 'bus'>, sessionId: string): void {
  deps.bus.broadcast(subjects.sessionInvalidated, SessionInvalidatedSchema, { sessionId });
}

function refreshDeps(deps: SessionDeps): RefreshDeps {
  return {
    redis: deps.redis,
    sessions: deps.sessions,
    counters: deps.counters,
    onRefreshed: (session) => invalidate(deps, session.id),
    onEnded: (session, reason) => {
      invalidate(deps, session.id);
      deps.events.emit('sessionRefreshFailed', {
        content: `The session of ${session.record.user} ended: ${reason}.`,
        targetIdentity: 'service',
        targetId: session.record.serviceId,
        namespace: session.record.namespace,
      });
    },
  };
}

export async function lookupSession(deps: SessionDeps, req: SessionLookupRequest): Promise<MessageInitShape<typeof SessionLookupResponseSchema>> {
  deps.counters.lookups++;
  const session = await deps.sessions.lookup(req.ticket);
  // A session is valid only for the service that created it.
  if (!session || session.record.serviceId !== req.serviceId) return { found: false };
  const record = await usableSession(refreshDeps(deps), session, () => deps.clients.get(req.serviceId));
  if (!record) return { found: false };
  const now = Date.now();
  // The gateway may reuse the answer until the next refresh is due (or the tokens end), never past the cache bound.
  const horizon = record.refreshToken ? Math.max(now, refreshDueAtMs(record)) : record.tokensExpireAtMs;
  return {
    found: true,
    tags: record.tags,
    subject: record.user,
    sessionId: session.id,
    expiresAtMs: BigInt(sessionEndMs(record)),
    cacheUntilMs: BigInt(Math.floor(Math.min(now + deps.lookupCacheMs, horizon, sessionEndMs(record)))),
    // Only when the gateway asks (a service with passAccessToken): the token valid until the next refresh at least.
    ...(req.includeAccessToken && record.accessToken ? { accessToken: record.accessToken } : {}),
  };
}

/** `/aporeto/oidc/logout`: delete the session, then continue to the IdP's end_session_endpoint when it has one. */
export async function logout(deps: SessionDeps, req: LogoutRequest): Promise<MessageInitShape<typeof LogoutResponseSchema>> {
  const oidc = await deps.clients.get(req.serviceId).catch(() => undefined);
  const home = oidc?.settings.postLogoutRedirectUri || '/';
  const ended = req.ticket ? await deps.sessions.deleteByCookie(req.ticket) : undefined;
  if (!ended || ended.record.serviceId !== req.serviceId) return { redirectUrl: home };
  invalidate(deps, ended.meta?.id ?? '');
  deps.events.emit('logout', {
    content: `${ended.record.user} logged out of ${oidc?.settings.name ?? req.serviceId} from ${req.clientIp || 'unknown address'}.`,
    targetIdentity: 'service',
    targetId: req.serviceId,
    namespace: ended.record.namespace,
  });
  if (!oidc || !oidc.config.serverMetadata().end_session_endpoint) return { redirectUrl: home };
  // The return URL is fixed: the service's own URL, registered at the IdP.
  const url = client.buildEndSessionUrl(oidc.config, {
    id_token_hint: ended.record.idToken,
    post_logout_redirect_uri: home,
    client_id: oidc.settings.clientId,
  });
  return { redirectUrl: url.href };
}

/** OIDC Back-Channel Logout 1.0: the IdP says a user or a session (`sid`) logged out. */
export async function backchannelLogout(deps: SessionDeps, req: BackchannelLogoutRequest): Promise<MessageInitShape<typeof BackchannelLogoutResponseSchema>> {
  const oidc = await deps.clients.get(req.serviceId);
  let claims;
  try {
    claims = await verifyLogoutToken(deps.redis, oidc, req.logoutToken);
  } catch (err) {
    deps.events.emit('backchannelLogoutRefused', {
      content: `A logout token for ${oidc.settings.name} was refused: ${(err as Error).message}.`,
      targetIdentity: 'service',
      targetId: req.serviceId,
      namespace: oidc.settings.namespace,
    });
    throw new MicrosegError('BAD_REQUEST', `invalid logout token: ${(err as Error).message}`);
  }
  const ids = claims.sid ? await deps.sessions.idsBySid(claims.iss, claims.sid) : await deps.sessions.idsBySubject(claims.iss, claims.sub!);
  let ended = 0;
  for (const id of ids) {
    const meta = await deps.sessions.meta(id);
    // Only this service's sessions, and for a sid the subject must agree when the token names one.
    if (!meta || meta.serviceId !== req.serviceId || (claims.sub && meta.subject !== claims.sub)) continue;
    await deps.sessions.deleteById(id);
    invalidate(deps, id);
    ended++;
  }
  deps.events.emit('backchannelLogout', {
    content: `The identity provider ended ${ended} session${ended === 1 ? '' : 's'} of ${oidc.settings.name}${claims.sid ? ' (by session id)' : ' (by subject)'}.`,
    targetIdentity: 'service',
    targetId: req.serviceId,
    namespace: oidc.settings.namespace,
  });
  return { sessionsEnded: ended };
}

/** A listing answers with at most this many sessions; a revocation ends every match. */
const LIST_LIMIT = 10_000;

function matchesUser(meta: SessionMeta, user: string): boolean {
  return !user || meta.user === user || meta.subject === user;
}

function info(meta: SessionMeta): MessageInitShape<typeof SessionInfoSchema> {
  return {
    id: meta.id,
    serviceId: meta.serviceId,
    namespace: meta.namespace,
    user: meta.user,
    subject: meta.subject,
    issuer: meta.issuer,
    createdAtMs: BigInt(meta.createdAtMs),
    expiresAtMs: BigInt(meta.expiresAtMs),
    refreshable: meta.refreshable,
  };
}

export async function listSessions(deps: SessionDeps, req: SessionListRequest): Promise<MessageInitShape<typeof SessionListResponseSchema>> {
  const found = await deps.sessions.list((m) => withinSelection(m.namespace, req.namespace, req.recursive) && matchesUser(m, req.user), LIST_LIMIT);
  return { sessions: found.map(info) };
}

export async function revokeSessions(deps: SessionDeps, req: SessionRevokeRequest): Promise<MessageInitShape<typeof SessionRevokeResponseSchema>> {
  if (!req.sessionId && !req.user) throw new MicrosegError('BAD_REQUEST', 'name a session id or a user to revoke');
  const candidates = req.sessionId ? [await deps.sessions.meta(req.sessionId)] : await deps.sessions.byName(req.user);
  const revoked: SessionMeta[] = [];
  for (const meta of candidates) {
    if (!meta || !withinSelection(meta.namespace, req.namespace, req.recursive || Boolean(req.sessionId))) continue;
    if (!req.sessionId && !matchesUser(meta, req.user)) continue;
    await deps.sessions.deleteById(meta.id);
    invalidate(deps, meta.id);
    revoked.push(meta);
    deps.events.emit('sessionRevoked', {
      content: `The session of ${meta.user} on service ${meta.serviceId} was revoked by ${req.revokedBy || 'an administrator'}.`,
      targetIdentity: 'session',
      targetId: meta.id,
      namespace: meta.namespace,
    });
  }
  if (req.sessionId && revoked.length === 0) throw new MicrosegError('NOT_FOUND', `no session ${req.sessionId} in ${req.namespace}`);
  if (!req.sessionId) {
    // The user's bearer tokens end too: recorded first, then every gateway drops the answers it cached.
    await deps.revocations.revoke(req.user, req.namespace, req.recursive);
    deps.bus.broadcast(subjects.sessionInvalidated, SessionInvalidatedSchema, { bearerAnswers: true });
    deps.events.emit('bearerTokensRevoked', {
      content: `The bearer tokens of ${req.user} issued until now are refused in ${req.namespace}${req.recursive ? ' and below' : ''}, revoked by ${req.revokedBy || 'an administrator'}.`,
      targetIdentity: 'namespace',
      targetId: req.namespace,
      namespace: req.namespace,
    });
  }
  return { revoked: revoked.map(info) };
}

export type { LoadedSession };
