// SPEC §3.6, the user: from microseg's cookie (an opaque ticket; sent twice, ignored) or, where the service
// accepts them, a bearer token — through the session cache, so that the steady state asks authn nothing.
// authn unable to answer is not "no session": the request goes on as unknown, and only a public endpoint
// may then be served (the decision stage answers 503 to the rest).
import { cookies } from '@microseg/contracts';
import type { ServiceRoute } from '@microseg/proto/policy';
import type { AuthnClient } from '../clients/authn.ts';
import { Unavailable } from '../clients/unavailable.ts';
import { BEARER_ANSWERS, type CachedSession } from '../session-cache.ts';
import { singleCookie } from './cookies.ts';
import type { Stage } from './context.ts';
import { refuse } from './outcome.ts';
import type { ErrorReply } from './responses.ts';

/** What a credential is cached under: the whole credential and the service (a cookie of one service is nothing for another). */
export const credentialKey = (serviceId: string, credential: string): string => `${serviceId}\0${credential}`;

/** A session cookie's cache key at a route: an answer with the access token (passAccessToken) is another answer. */
export const ticketKey = (route: Pick<ServiceRoute, 'id' | 'passAccessToken'>, ticket: string): string =>
  credentialKey(route.passAccessToken ? `${route.id}\0access-token` : route.id, ticket);

/** How long the gateway keeps a bearer token's answer at most (revocations are broadcast as well). */
const BEARER_ANSWER_MS = 10_000;

const INVALID_BEARER: ErrorReply = {
  code: 'GATEWAY_UNAUTHENTICATED',
  message: 'The bearer token is invalid, expired, or not issued for this application.',
  headers: { 'www-authenticate': 'Bearer error="invalid_token"' },
};

export const resolveSession: Stage = async (deps, ctx) => {
  const route = ctx.route!;
  if (route.authorizationType !== 'OIDC') return false;
  const ticket = singleCookie(ctx.req.headers.cookie, cookies.session);
  const bearer = !ticket && route.acceptBearerTokens ? bearerToken(ctx.req.headers.authorization) : '';
  if (!ticket && !bearer) return false;
  const authn = deps.authn;
  try {
    const session = ticket
      ? await deps.sessions.get(ticketKey(route, ticket), () => lookupTicket(authn, route, ticket))
      : await deps.sessions.get(credentialKey(route.id, `bearer ${bearer}`), () => verifyBearer(authn, route, bearer));
    // The cached object itself, the same for every request of the session until its entry is renewed: the
    // identity assertion made for it is kept with it (assertion/).
    if (session) ctx.session = session;
    else if (bearer) return refuse(deps, ctx, INVALID_BEARER, 'token');
  } catch (err) {
    if (!(err instanceof Unavailable)) throw err;
    ctx.sessionUnknown = true;
  }
  return false;
};

type Route = Pick<ServiceRoute, 'id' | 'passAccessToken'>;

/** A session ticket's answer from authn, for the session cache. */
export async function lookupTicket(authn: AuthnClient, route: Route, ticket: string): Promise<{ value: CachedSession | undefined; until: number }> {
  const reply = await authn.lookupSession(route.id, ticket, route.passAccessToken);
  if (!reply.found) return { value: undefined, until: 0 };
  const session: CachedSession = {
    sessionId: reply.sessionId,
    subject: subjectOf(reply.tags, reply.subject),
    tags: reply.tags,
    expiresAtMs: Number(reply.expiresAtMs),
  };
  if (route.passAccessToken && reply.accessToken) session.accessToken = reply.accessToken;
  return { value: session, until: Number(reply.cacheUntilMs) };
}

/** A bearer token's answer from authn, for the session cache. */
export async function verifyBearer(authn: AuthnClient, route: Route, token: string): Promise<{ value: CachedSession | undefined; until: number }> {
  const reply = await authn.verifyBearer(route.id, token);
  if (!reply.valid) return { value: undefined, until: 0 };
  return {
    // The bearer token is the access token: kept only for a service that passes it on.
    value: {
      sessionId: BEARER_ANSWERS,
      subject: subjectOf(reply.tags, reply.subject),
      tags: reply.tags,
      expiresAtMs: Number(reply.expiresAtMs),
      ...(route.passAccessToken ? { accessToken: token } : {}),
    },
    until: Math.min(Date.now() + BEARER_ANSWER_MS, Number(reply.expiresAtMs)),
  };
}

/** The token of `Authorization: Bearer <JWT>` (three dot-separated parts), else ''. */
export function bearerToken(header: string | undefined): string {
  const m = /^Bearer +([A-Za-z0-9._~+/=-]+)$/i.exec(header ?? '');
  return m && m[1]!.split('.').length === 3 ? m[1]! : '';
}

/** The user's name for logs, flows and pages: the email claim when there is one. */
export function subjectOf(tags: readonly string[], subject: string): string {
  return tags.find((t) => t.startsWith('email='))?.slice('email='.length) ?? subject;
}
