// Who is calling and where: every API request carries `Authorization: Bearer <API token>` (SPEC §9) and acts
// in one namespace (X-Namespace, its token's own by default). Failed authentications are counted per client
// address (auth-failures.ts); past the limit every request from there is refused with 429 before its token
// is looked at. Not encapsulated (fastify-plugin): the hook covers every route of the scope it is registered
// in — the API's, not the health probes'.
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { withinSubtree } from '@microseg/contracts';
import { MicrosegError } from '@microseg/errors';
import type { AuthFailureLimiter } from '../auth-failures.ts';
import { namespaceHeaders, parsePart } from '../request-schemas.ts';
import { allows, type Principal, type TokenStore } from '../tokens.ts';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
    namespace?: string;
  }
}

export interface AuthOptions {
  tokens: Pick<TokenStore, 'authenticate'>;
  authFailures: Pick<AuthFailureLimiter, 'blockedForMs' | 'failed'>;
}

/** The bearer token of the request's one Authorization header; undefined when there is none, or several. */
function bearerOf(req: FastifyRequest): { token?: string; several: boolean } {
  // Node keeps only the first of two Authorization headers; a proxy in front may keep the last.
  const count = req.raw.rawHeaders.filter((name, i) => i % 2 === 0 && name.toLowerCase() === 'authorization').length;
  if (count !== 1) return { several: count > 1 };
  const match = /^Bearer +(\S+)$/i.exec(req.headers.authorization ?? '');
  return { token: match?.[1], several: false };
}

export const authentication = fp<AuthOptions>(
  async (api, { tokens, authFailures }) => {
    api.addHook('onRequest', async (req) => {
      // Too many failed attempts from this address: refused without looking at the token, so the answer
      // tells a right guess from a wrong one only after the wait.
      const waitMs = authFailures.blockedForMs(req.ip);
      if (waitMs > 0) {
        const seconds = Math.ceil(waitMs / 1000);
        throw new MicrosegError('RATE_LIMITED', `too many failed authentications from this address; retry in ${seconds} s`, { retryAfterSeconds: seconds });
      }
      const { token, several } = bearerOf(req);
      const principal = token ? tokens.authenticate(token) : undefined;
      if (!principal) {
        authFailures.failed(req.ip);
        throw new MicrosegError(
          'UNAUTHENTICATED',
          several ? 'send one Authorization header, not several' : 'a valid API token is required: send Authorization: Bearer <token>',
        );
      }
      req.principal = principal;
      req.namespace = parsePart(namespaceHeaders, req.headers)['x-namespace'] ?? principal.namespace;
    });
  },
  { name: 'policy-api-auth', fastify: '5.x' },
);

/** The caller and the namespace of an authenticated request; fails closed on a route outside the hook's scope. */
export function callerOf(req: FastifyRequest): { principal: Principal; namespace: string } {
  if (!req.principal || req.namespace === undefined) throw new MicrosegError('UNAUTHENTICATED');
  return { principal: req.principal, namespace: req.namespace };
}

export type Action = 'read' | 'write' | 'admin';

const cannot: Record<Action, string> = { read: 'read', write: 'change objects', admin: 'manage tokens' };

/**
 * The caller may `action` in `namespace` (the request's by default): inside its token's subtree, with a role
 * that allows it; 403 otherwise. `doing` names the action in the refusal when it is not the usual one.
 */
export function requireAccess(
  req: FastifyRequest,
  action: Action,
  options: { namespace?: string; doing?: string } = {},
): { principal: Principal; namespace: string } {
  const caller = callerOf(req);
  const { principal } = caller;
  const namespace = options.namespace ?? caller.namespace;
  if (!withinSubtree(namespace, principal.namespace))
    throw new MicrosegError('FORBIDDEN', `the token ${principal.name} is limited to ${principal.namespace} and cannot act on ${namespace}`);
  if (!allows(principal.role, action))
    throw new MicrosegError('FORBIDDEN', `the token ${principal.name} has the role ${principal.role}, which cannot ${options.doing ?? cannot[action]}`);
  return caller;
}
