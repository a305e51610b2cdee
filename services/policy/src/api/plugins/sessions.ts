// Sessions through the API (SPEC §6, revocation): the policy service owns the API and its tokens; authn owns
// the sessions and answers over NATS. `GET /sessions?user=…&recursive=true` lists them, `DELETE /sessions/<id>`
// ends one, `DELETE /sessions?user=…` every session (and the bearer tokens) of a user. Who is signed in is
// personal data: editors and admins only.
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { BusRequestError, type Bus } from '@microseg/bus';
import { requests } from '@microseg/contracts';
import { MicrosegError } from '@microseg/errors';
import type { SessionInfo } from '@microseg/proto/authn';
import { idParams, parsePart, sessionsQuery } from '../request-schemas.ts';
import { requireAccess } from './auth.ts';

export interface SessionsOptions {
  bus: Pick<Bus, 'request'>;
  /** How long authn has to answer. */
  timeoutMs?: number;
}

function view(s: SessionInfo) {
  return {
    ID: s.id,
    serviceID: s.serviceId,
    namespace: s.namespace,
    user: s.user,
    subject: s.subject,
    issuer: s.issuer,
    createTime: new Date(Number(s.createdAtMs)).toISOString(),
    expireTime: new Date(Number(s.expiresAtMs)).toISOString(),
    refreshable: s.refreshable,
  };
}

/** authn's answer; authn away or impaired (Redis) is 503, its refusals (an unknown session: 404) pass as they are. */
async function ask<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof BusRequestError) throw new MicrosegError('UNAVAILABLE', 'the authn service does not answer; retry', { cause: err });
    if (err instanceof MicrosegError && err.status >= 500)
      throw new MicrosegError('UNAVAILABLE', 'the authn service cannot answer right now; retry', { cause: err });
    throw err;
  }
}

export const sessionRoutes: FastifyPluginAsync<SessionsOptions> = async (api, { bus, timeoutMs = 3_000 }) => {
  api.get('/sessions', async (req) => {
    const { namespace } = requireAccess(req, 'write', { doing: 'list sessions' });
    const { user, recursive } = parsePart(sessionsQuery, req.query);
    const answer = await ask(() => bus.request(requests.authnSessionList, { namespace, recursive, user: user ?? '' }, timeoutMs));
    return answer.sessions.map(view);
  });

  /** What to revoke is read once the caller may revoke at all. */
  const revoke = async (req: FastifyRequest, what: () => { sessionId: string; user: string; recursive: boolean }) => {
    const { principal, namespace } = requireAccess(req, 'write', { doing: 'revoke sessions' });
    const { sessionId, user, recursive } = what();
    if (!sessionId && !user) throw new MicrosegError('BAD_REQUEST', 'name a session (DELETE /sessions/<id>) or a user (DELETE /sessions?user=<email>)');
    const answer = await ask(() => bus.request(requests.authnSessionRevoke, { namespace, recursive, sessionId, user, revokedBy: principal.name }, timeoutMs));
    return answer.revoked.map(view);
  };
  // One session by its ID, anywhere in the subtree.
  api.delete('/sessions/:id', async (req) => (await revoke(req, () => ({ sessionId: parsePart(idParams, req.params).id, user: '', recursive: true })))[0]);
  api.delete('/sessions', async (req) =>
    revoke(req, () => {
      const { user, recursive } = parsePart(sessionsQuery, req.query);
      return { sessionId: '', user: user ?? '', recursive };
    }),
  );
};
