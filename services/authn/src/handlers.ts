// Every request subject authn serves (the contracts' `requests` with its queue group), and the module that
// answers it: login.ts (login start and callback), session-handlers.ts (lookup, logout, back-channel logout,
// the API's list and revoke) and bearer.ts (bearer tokens). app.ts calls serveAuthn once Redis is reached.
import type { Redis } from 'ioredis';
import type { Bus } from '@microseg/bus';
import { requests } from '@microseg/contracts';
import { verifyBearer, type BearerDeps } from './bearer.ts';
import { completeLogin, startLogin, type LoginDeps } from './login.ts';
import { backchannelLogout, listSessions, logout, lookupSession, revokeSessions, type SessionDeps } from './session-handlers.ts';

export interface AuthnHandlerDeps {
  login: LoginDeps;
  sessions: SessionDeps;
  bearer: BearerDeps;
}

export function serveAuthn(bus: Pick<Bus, 'serve'>, { login, sessions, bearer }: AuthnHandlerDeps): void {
  bus.serve(requests.authnLoginStart, (req) => startLogin(login, req));
  bus.serve(requests.authnLoginCallback, (req) => completeLogin(login, req));
  bus.serve(requests.authnSessionLookup, (req) => lookupSession(sessions, req));
  bus.serve(requests.authnLogout, (req) => logout(sessions, req));
  bus.serve(requests.authnBackchannelLogout, (req) => backchannelLogout(sessions, req));
  bus.serve(requests.authnSessionList, (req) => listSessions(sessions, req));
  bus.serve(requests.authnSessionRevoke, (req) => revokeSessions(sessions, req));
  // Bearer tokens too: a revoked user's tokens are found in Redis.
  bus.serve(requests.authnBearerVerify, (req) => verifyBearer(bearer, req));
}

/**
 * Run `work` once, when Redis is first reached (at once if it is). Everything authn serves needs Redis: a
 * replica that starts while its Redis connection is still being made must not take requests from the queue
 * group that the other replicas would answer. (Once serving, a Redis outage is answered with an error: the
 * gateway fails closed with a 503.) Returns a cancel, for a close before Redis was ever reached.
 */
export function onceRedisReady(redis: Pick<Redis, 'status' | 'once' | 'off'>, work: () => void): () => void {
  if (redis.status === 'ready') {
    work();
    return () => undefined;
  }
  redis.once('ready', work);
  return () => void redis.off('ready', work);
}
