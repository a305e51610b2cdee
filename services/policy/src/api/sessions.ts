// Sessions through the API (SPEC §6, revocation): the policy service owns the
// API and its tokens; authn owns the sessions and answers over NATS.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Bus } from '@microseg/bus';
import { BusRequestError } from '@microseg/bus';
import { requests } from '@microseg/contracts';
import { MicrosegError } from '@microseg/errors';
import type { SessionInfo } from '@microseg/proto/authn';
import { allows, withinSubtree, type Principal } from './tokens.ts';

const TIMEOUT_MS = 3_000;

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


function access(req: FastifyRequest, write: boolean): { principal: Principal; namespace: string } {
  const principal = req.principal!;
  const namespace = req.namespace!;
  if (!withinSubtree(namespace, principal.namespace)) throw new MicrosegError('FORBIDDEN', `the token ${principal.name} is limited to ${principal.namespace} and cannot act on ${namespace}`);
  // Reading who is signed in is personal data: editors and admins only; revoking too.
  if (!allows(principal.role, 'write')) throw new MicrosegError('FORBIDDEN', `the token ${principal.name} has the role ${principal.role}, which cannot ${write ? 'revoke' : 'list'} sessions`);
  return { principal, namespace };
}

/** authn's answer; authn away or impaired (Redis) is 503, its refusals (an unknown session: 404) pass as they are. */
async function ask<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof BusRequestError) throw new MicrosegError('UNAVAILABLE', 'the authn service does not answer; retry', { cause: err });
    if (err instanceof MicrosegError && err.status >= 500) throw new MicrosegError('UNAVAILABLE', 'the authn service cannot answer right now; retry', { cause: err });
    throw err;
  }
}

export function registerSessionRoutes(app: FastifyInstance, bus: Bus): void {
  /** GET /sessions?user=alice@example.com&recursive=true */
  app.get('/sessions', async (req) => {
    const { namespace } = access(req, false);
    const q = req.query as { user?: string; recursive?: string };
    const answer = await ask(() => bus.request(requests.authnSessionList, { namespace, recursive: q.recursive === 'true', user: q.user ?? '' }, TIMEOUT_MS));
    return answer.sessions.map(view);
  });

  /** DELETE /sessions/<id>: one session; DELETE /sessions?user=…: every session of that user in the subtree. */
  const revoke = async (req: FastifyRequest, sessionId: string, user: string, recursive: boolean) => {
    const { principal, namespace } = access(req, true);
    if (!sessionId && !user) throw new MicrosegError('BAD_REQUEST', 'name a session (DELETE /sessions/<id>) or a user (DELETE /sessions?user=<email>)');
    const answer = await ask(() => bus.request(requests.authnSessionRevoke, { namespace, recursive, sessionId, user, revokedBy: principal.name }, TIMEOUT_MS));
    return answer.revoked.map(view);
  };
  app.delete('/sessions/:id', async (req) => (await revoke(req, (req.params as { id: string }).id, '', true))[0]);
  app.delete('/sessions', async (req) => {
    const q = req.query as { user?: string; recursive?: string };
    return revoke(req, '', q.user ?? '', q.recursive === 'true');
  });
}
