// Sessions through the API (SPEC §6, revocation): the policy service owns the
// API and its tokens; authn owns the sessions and answers over NATS.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Bus } from '@microseg/bus';
import { BusRequestError } from '@microseg/bus';
import { subjects } from '@microseg/contracts';
import { SessionListRequestSchema, SessionListResponseSchema, SessionRevokeRequestSchema, SessionRevokeResponseSchema, type SessionInfo } from '@microseg/proto/authn';
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

class SessionsError extends Error {
  readonly statusCode: number;
  readonly code: string;
  constructor(statusCode: number, code: string, message: string) {
    super(message);
    this.statusCode = statusCode;
    this.code = code;
  }
}

function access(req: FastifyRequest, write: boolean): { principal: Principal; namespace: string } {
  const principal = req.principal!;
  const namespace = req.namespace!;
  if (!withinSubtree(namespace, principal.namespace)) throw new SessionsError(403, 'FORBIDDEN', `the token ${principal.name} is limited to ${principal.namespace} and cannot act on ${namespace}`);
  // Reading who is signed in is personal data: editors and admins only; revoking too.
  if (!allows(principal.role, 'write')) throw new SessionsError(403, 'FORBIDDEN', `the token ${principal.name} has the role ${principal.role}, which cannot ${write ? 'revoke' : 'list'} sessions`);
  return { principal, namespace };
}

async function ask<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof BusRequestError) throw new SessionsError(503, 'UNAVAILABLE', 'the authn service does not answer; retry');
    throw err;
  }
}

export function registerSessionRoutes(app: FastifyInstance, bus: Bus): void {
  const reply = (err: unknown) => {
    if (err instanceof SessionsError) return { status: err.statusCode, body: { code: err.code, message: err.message } };
    throw err;
  };

  /** GET /sessions?user=alice@example.com&recursive=true */
  app.get('/sessions', async (req, res) => {
    try {
      const { namespace } = access(req, false);
      const q = req.query as { user?: string; recursive?: string };
      const answer = await ask(() => bus.request(subjects.authnSessionList, SessionListRequestSchema, SessionListResponseSchema, { namespace, recursive: q.recursive === 'true', user: q.user ?? '' }, TIMEOUT_MS));
      if (answer.error) return res.code(502).send({ code: answer.error.code, message: answer.error.message });
      return answer.sessions.map(view);
    } catch (err) {
      const r = reply(err);
      return res.code(r.status).send(r.body);
    }
  });

  /** DELETE /sessions/<id>: one session; DELETE /sessions?user=…: every session of that user in the subtree. */
  const revoke = async (req: FastifyRequest, sessionId: string, user: string, recursive: boolean) => {
    const { principal, namespace } = access(req, true);
    if (!sessionId && !user) throw new SessionsError(400, 'BAD_REQUEST', 'name a session (DELETE /sessions/<id>) or a user (DELETE /sessions?user=<email>)');
    const answer = await ask(() =>
      bus.request(subjects.authnSessionRevoke, SessionRevokeRequestSchema, SessionRevokeResponseSchema, { namespace, recursive, sessionId, user, revokedBy: principal.name }, TIMEOUT_MS),
    );
    if (answer.error) throw new SessionsError(answer.error.code === 'NOT_FOUND' ? 404 : 400, answer.error.code, answer.error.message);
    return answer.revoked.map(view);
  };
  app.delete('/sessions/:id', async (req, res) => {
    try {
      const revoked = await revoke(req, (req.params as { id: string }).id, '', true);
      return revoked[0];
    } catch (err) {
      const r = reply(err);
      return res.code(r.status).send(r.body);
    }
  });
  app.delete('/sessions', async (req, res) => {
    try {
      const q = req.query as { user?: string; recursive?: string };
      return await revoke(req, '', q.user ?? '', q.recursive === 'true');
    } catch (err) {
      const r = reply(err);
      return res.code(r.status).send(r.body);
    }
  });
}
