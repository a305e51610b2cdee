// Token refresh (SPEC §6): a refreshable session renews the IdP's tokens ahead
// of their expiry. Exactly one replica refreshes a session at a time — a Redis
// lock with a lease renewed while the IdP call runs — and the session is read
// again once the lock is taken, so a refresh another replica just did is not
// repeated. A refresh that changes `sub`, `iss` or `aud`, or that the IdP
// refuses with invalid_grant, ends the session.
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import * as client from 'openid-client';
import { redisKeys } from '@microseg/contracts';
import { metrics, oauthErrorLabel } from '@microseg/telemetry';
import { profileFor, tagsFromClaims } from './providers.ts';
import type { LoadedSession, SessionRecord, SessionStore } from './sessions.ts';
import type { OidcClient } from './oidc-clients.ts';
import { checkIdToken } from './id-token.ts';

const LOCK_LEASE_MS = 10_000;
const LOCK_RENEW_MS = 3_000;
const LOCK_WAIT_MS = 15_000;
const LOCK_POLL_MS = 25;

const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;
const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`;

/** Refresh when less than a third of the tokens' lifetime is left (at most a minute ahead). */
export function refreshDueAtMs(record: SessionRecord): number {
  const lifetime = Math.max(0, record.tokensExpireAtMs - record.tokensIssuedAtMs);
  return record.tokensExpireAtMs - Math.floor(Math.min(60_000, lifetime / 3));
}

export type RefreshOutcome =
  | { kind: 'fresh'; record: SessionRecord }
  | { kind: 'ended'; reason: string }
  /** The IdP could not be asked now; the current tokens still hold. */
  | { kind: 'deferred'; record: SessionRecord; reason: string };

export interface RefreshDeps {
  redis: Redis;
  sessions: SessionStore;
  /** Sessions refreshed by this process, for tests and metrics. */
  counters: { refreshes: number; failures: number; lookups: number };
  onEnded(session: LoadedSession, reason: string): void;
  onRefreshed(session: LoadedSession): void;
  /** The refresh lock's lease and its renewal period (ms); tests shorten them. */
  lock?: { leaseMs: number; renewMs: number };
}

/**
 * The session as it may be used now, refreshing it if due. Returns undefined
 * when the session has ended. When the tokens are still valid, the caller gets
 * the current record at once and the refresh runs in the background.
 */
export async function usableSession(deps: RefreshDeps, session: LoadedSession, oidc: () => Promise<OidcClient>): Promise<SessionRecord | undefined> {
  const { record } = session;
  const now = Date.now();
  if (!record.refreshToken) return record.tokensExpireAtMs > now ? record : undefined;
  if (now < refreshDueAtMs(record)) return record;
  if (record.tokensExpireAtMs > now) {
    void refreshOnce(deps, session, oidc).catch(() => undefined);
    return record;
  }
  const outcome = await refreshOnce(deps, session, oidc);
  return outcome.kind === 'ended' || outcome.record.tokensExpireAtMs <= Date.now() ? undefined : outcome.record;
}

/** Take the lock and refresh, or wait for the replica that holds it. */
export async function refreshOnce(deps: RefreshDeps, session: LoadedSession, oidc: () => Promise<OidcClient>): Promise<RefreshOutcome> {
  const lock = redisKeys.refreshLock(session.id);
  const owner = randomBytes(12).toString('base64url');
  const { leaseMs, renewMs } = deps.lock ?? { leaseMs: LOCK_LEASE_MS, renewMs: LOCK_RENEW_MS };
  const taken = await deps.redis.set(lock, owner, 'PX', leaseMs, 'NX');
  if (!taken) return waitForOtherReplica(deps, session);

  const lease = setInterval(() => void deps.redis.eval(RENEW, 1, lock, owner, String(leaseMs)).catch(() => undefined), renewMs);
  lease.unref();
  try {
    // Another replica may have refreshed between our read and the lock.
    const current = await deps.sessions.reload(session.ticket);
    if (!current) return { kind: 'ended', reason: 'the session no longer exists' };
    if (!current.refreshToken || Date.now() < refreshDueAtMs(current)) return { kind: 'fresh', record: current };
    return await refreshWithIdp(deps, { ...session, record: current }, await oidc());
  } finally {
    clearInterval(lease);
    await deps.redis.eval(RELEASE, 1, lock, owner).catch(() => undefined);
  }
}

async function waitForOtherReplica(deps: RefreshDeps, session: LoadedSession): Promise<RefreshOutcome> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  while (Date.now() < deadline) {
    if (!(await deps.redis.exists(redisKeys.refreshLock(session.id)))) break;
    await new Promise((r) => setTimeout(r, LOCK_POLL_MS));
  }
  const current = await deps.sessions.reload(session.ticket);
  if (!current) return { kind: 'ended', reason: 'the session ended while another replica refreshed it' };
  return { kind: 'fresh', record: current };
}

async function refreshWithIdp(deps: RefreshDeps, session: LoadedSession, oidc: OidcClient): Promise<RefreshOutcome> {
  const record = session.record;
  let tokens;
  try {
    deps.counters.refreshes++;
    tokens = await client.refreshTokenGrant(oidc.config, record.refreshToken!);
    // A refreshed ID token is checked as at login; one that fails never changes the session.
    const refreshedClaims = tokens.claims();
    if (refreshedClaims && tokens.id_token) await checkIdToken(oidc, tokens.id_token, refreshedClaims);
    metrics.authnRefreshes().inc({ result: 'success' });
  } catch (err) {
    deps.counters.failures++;
    // The IdP chooses `error`: only a standard code becomes a label value (anything else would make a new series).
    metrics.authnRefreshes().inc({ result: err instanceof client.ResponseBodyError ? oauthErrorLabel(err.error) : 'error' });
    if (err instanceof client.ResponseBodyError && (err.error === 'invalid_grant' || err.error === 'unauthorized_client')) {
      return end(deps, session, `the identity provider refused the refresh token (${err.error})`);
    }
    const reason = `the identity provider could not refresh the tokens: ${(err as Error).message.slice(0, 200)}`;
    if (record.tokensExpireAtMs > Date.now()) return { kind: 'deferred', record, reason };
    return end(deps, session, reason);
  }

  const claims = tokens.claims();
  const now = Date.now();
  if (claims) {
    const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (claims.sub !== record.subject || claims.iss !== record.issuer || !audiences.includes(record.audience)) {
      return end(deps, session, 'the refreshed ID token names another subject, issuer or audience');
    }
  }
  const lifetimes = [record.absoluteExpiresAtMs];
  if (claims?.exp) lifetimes.push(claims.exp * 1000);
  const expiresIn = tokens.expiresIn();
  if (expiresIn !== undefined) lifetimes.push(now + expiresIn * 1000);
  const next: SessionRecord = {
    ...record,
    // Claims and tags follow the new ID token; without one, the old ones stand.
    tags: claims ? tagsFromClaims(profileFor(oidc.settings.providerUrl, oidc.settings.providerProfile), claims) : record.tags,
    sid: claims && typeof claims.sid === 'string' ? claims.sid : record.sid,
    idToken: tokens.id_token ?? record.idToken,
    accessToken: tokens.access_token,
    // A rotated refresh token replaces the old one in the same write.
    refreshToken: tokens.refresh_token ?? record.refreshToken,
    tokensIssuedAtMs: now,
    tokensExpireAtMs: Math.min(...lifetimes),
  };
  if (!(await deps.sessions.replace(session.ticket, next))) return { kind: 'ended', reason: 'the session was ended while it was being refreshed' };
  deps.onRefreshed({ ...session, record: next });
  return { kind: 'fresh', record: next };
}

async function end(deps: RefreshDeps, session: LoadedSession, reason: string): Promise<RefreshOutcome> {
  await deps.sessions.deleteById(session.id);
  deps.onEnded(session, reason);
  return { kind: 'ended', reason };
}
