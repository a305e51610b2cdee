// API tokens (admins only, SPEC §9): list, create, read and revoke under `/apitokens`, within the caller's
// subtree. A token's secret is shown once, in the answer that creates it; the stored hash never.
import type { FastifyPluginAsync } from 'fastify';
import { z } from '@microseg/config';
import { isNamespacePath, withinSubtree } from '@microseg/contracts';
import { MicrosegError } from '@microseg/errors';
import type { ChangeAudit } from '../change-audit.ts';
import { validationFailed } from '../object-rules.ts';
import { idParams, parsePart } from '../request-schemas.ts';
import { roles, type TokenRecord, type TokenStore } from '../tokens.ts';
import { callerOf, requireAccess } from './auth.ts';

export interface ApiTokensOptions {
  tokens: Pick<TokenStore, 'list' | 'get' | 'create' | 'revoke'>;
  audit: ChangeAudit;
}

/** A new token: its name and role, and the subtree it may act on (the request's namespace by default). */
const tokenBody = z.preprocess(
  // Any body that is not an object names nothing: every attribute is reported missing.
  (body) => (body && typeof body === 'object' && !Array.isArray(body) ? body : {}),
  z.object({
    name: z.string({ error: 'is required' }).min(1, 'is required'),
    role: z.enum(roles, { error: `must be one of ${roles.join(', ')}` }),
    // Only a string names a namespace; anything else is as if it were left out.
    namespace: z.preprocess(
      (v) => (typeof v === 'string' ? v : undefined),
      z.string().refine(isNamespacePath, 'must be a namespace path such as /acme/team-b').optional(),
    ),
  }),
);

const withoutHash = ({ secretHash: _hash, ...shown }: TokenRecord) => shown;

export const apiTokenRoutes: FastifyPluginAsync<ApiTokensOptions> = async (api, { tokens, audit }) => {
  /** A token of the caller's subtree by ID or name; 404 for any other, as for one that does not exist. */
  const tokenIn = (root: string, id: string) => {
    const record = tokens.get(id);
    if (!record || !withinSubtree(record.namespace, root)) throw new MicrosegError('NOT_FOUND', 'no such token');
    return record;
  };

  api.get('/apitokens', async (req) => {
    const { namespace } = requireAccess(req, 'admin');
    return tokens
      .list()
      .filter((t) => withinSubtree(t.namespace, namespace))
      .map(withoutHash);
  });

  api.post('/apitokens', async (req, reply) => {
    const parsed = tokenBody.safeParse(req.body);
    if (!parsed.success) throw validationFailed(parsed.error.issues.map((issue) => ({ attribute: issue.path.join('.'), message: issue.message })));
    const { name, role } = parsed.data;
    const namespace = parsed.data.namespace ?? callerOf(req).namespace;
    const { principal } = requireAccess(req, 'admin', { namespace });
    const { record, token } = await tokens.create(name, role, namespace);
    audit(principal, 'created', { kind: 'apitoken', ID: record.ID, name: record.name, namespace });
    return reply.code(201).send({ ...withoutHash(record), token });
  });

  api.get('/apitokens/:id', async (req) => {
    const { principal } = requireAccess(req, 'admin');
    return withoutHash(tokenIn(principal.namespace, parsePart(idParams, req.params).id));
  });

  api.delete('/apitokens/:id', async (req) => {
    const { principal } = requireAccess(req, 'admin');
    const record = tokenIn(principal.namespace, parsePart(idParams, req.params).id);
    await tokens.revoke(record.ID);
    audit(principal, 'deleted', { kind: 'apitoken', ID: record.ID, name: record.name, namespace: record.namespace });
    return withoutHash(record);
  });
};
