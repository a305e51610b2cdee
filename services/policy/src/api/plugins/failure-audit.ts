// Every refused API request is an audit event (level Warning): who (the token's name when it was
// valid, else the client address), what (method and route pattern, never the query string or a
// header), and why (the error code; our own message for 403 and 422). Never the presented token.
// Refusals for too many failed attempts (429) are reported at the first one, then once a minute
// per address with their count, so a scanner cannot flood the event store. Not encapsulated
// (fastify-plugin): the hook covers every route of the scope it is registered in.
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Bus } from '@microseg/bus';
import { objectKinds, pluralOf, type EventKind } from '@microseg/contracts';
import type { AuthFailureLimiter } from '../auth-failures.ts';

const AUDITED: Record<number, { kind: EventKind; withMessage: boolean }> = {
  400: { kind: 'apiRequestRefused', withMessage: false },
  401: { kind: 'apiAuthenticationFailed', withMessage: false },
  403: { kind: 'apiAccessDenied', withMessage: true },
  413: { kind: 'apiRequestRefused', withMessage: false },
  422: { kind: 'apiChangeRefused', withMessage: true },
  429: { kind: 'apiClientRateLimited', withMessage: false },
};

const plurals = new Set<string>([...objectKinds.map(pluralOf), 'apitokens']);

/** Anything shaped like a credential, in case one ever reaches a message. */
export function redactCredentials(text: string): string {
  return text
    .replace(/mst_[A-Za-z0-9_-]{8,}/g, 'mst_[redacted]')
    .replace(/eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g, '[redacted JWT]')
    .replace(/\b(Bearer|Basic)\s+\S+/gi, '$1 [redacted]');
}

/** Set on the route that answers requests no other route matches (api/index.ts). */
export interface UnknownRouteConfig {
  unknownRoute?: boolean;
}

/** `DELETE /services/:id`: the route's pattern with the kind filled in, or `an unknown route`. */
export function describeRoute(req: FastifyRequest): string {
  const pattern = req.routeOptions?.url;
  if (!pattern || (req.routeOptions.config as UnknownRouteConfig | undefined)?.unknownRoute) return `${req.method} (an unknown route)`;
  const plural = (req.params as { plural?: unknown } | undefined)?.plural;
  const kind = typeof plural === 'string' && plurals.has(plural.toLowerCase()) ? plural.toLowerCase() : undefined;
  return `${req.method} ${kind ? pattern.replace(':plural', kind) : pattern}`;
}

function errorOf(payload: unknown): { code: string; message: string } {
  if (typeof payload !== 'string') return { code: '', message: '' };
  try {
    const body = JSON.parse(payload) as { code?: unknown; message?: unknown };
    return { code: typeof body.code === 'string' ? body.code : '', message: typeof body.message === 'string' ? body.message : '' };
  } catch {
    return { code: '', message: '' };
  }
}

export interface FailureAuditOptions {
  bus: Pick<Bus, 'emitEvent'>;
  authFailures: Pick<AuthFailureLimiter, 'refused'>;
}

export const failureAudit = fp<FailureAuditOptions>(
  async (api, { bus, authFailures: limiter }) => {
    api.addHook('onSend', async (req, reply, payload) => {
      const audited = AUDITED[reply.statusCode];
      if (!audited) return payload;
      let refusedCount = 1;
      if (reply.statusCode === 429) {
        const due = limiter.refused(req.ip);
        if (due === undefined) return payload;
        refusedCount = due;
      }
      const { code, message } = errorOf(payload);
      const who = req.principal ? `token ${req.principal.name}` : 'a client without a valid token';
      const why = audited.withMessage && message ? `: ${redactCredentials(message).slice(0, 500)}` : '';
      const count = reply.statusCode === 429 ? ` (${refusedCount} request${refusedCount === 1 ? '' : 's'} refused since the last report)` : '';
      bus.emitEvent(audited.kind, {
        content: `${describeRoute(req)} by ${who} from ${req.ip}: ${reply.statusCode} ${code || 'refused'}${why}${count}.`,
        targetIdentity: req.principal ? 'apitoken' : 'api',
        targetId: req.principal?.tokenID ?? '',
        namespace: req.namespace ?? '/',
      });
      return payload;
    });
  },
  { name: 'policy-api-failure-audit', fastify: '5.x' },
);
