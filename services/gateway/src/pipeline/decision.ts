// SPEC §3.4, §3.5, §3.7 as one question to policy — the incoming network policy, the endpoint, the scopes —
// and what the gateway does with the answer: forward (ALLOW), send to sign in (LOGIN), or refuse (DENY).
// The decision cache (decision-cache.ts) holds the revision rules; here: a known decision is used at once and
// renewed in the background; a miss asks policy; policy away lets the last good decision for the very same
// request stand for the grace period; anything else fails closed with a 503.
import { cookies } from '@microseg/contracts';
import { MicrosegError } from '@microseg/errors';
import { Decision } from '@microseg/proto/policy';
import { metrics } from '@microseg/telemetry';
import type { DecideQuestion } from '../clients/policy.ts';
import { Unavailable } from '../clients/unavailable.ts';
import { DecisionCache, type DecisionKey } from '../decision-cache.ts';
import { hostCookie, singleCookie } from './cookies.ts';
import type { PipelineDeps, RequestContext, Stage } from './context.ts';
import { recordFlow, refuse, unavailable } from './outcome.ts';
import { isBrowserNavigation, redirect, withFailureMessage } from './responses.ts';

const NO_TAGS: string[] = [];

/** The question policy answers for a request (also what an open WebSocket's decision is asked again with). */
export function questionOf(ctx: RequestContext): DecideQuestion & DecisionKey {
  return {
    serviceId: ctx.route!.id,
    method: ctx.req.method ?? '',
    path: ctx.path,
    authenticated: Boolean(ctx.session),
    tags: ctx.session?.tags ?? NO_TAGS,
    clientIp: ctx.clientIp,
  };
}

export const decide: Stage = async (deps, ctx) => {
  const question = questionOf(ctx);
  const key = DecisionCache.key(question);
  const askedAt = Date.now();
  const known = deps.decisions.get(key, askedAt);
  metrics[known ? 'gatewayCacheHits' : 'gatewayCacheMisses']().inc({ cache: 'decision' });
  if (known) {
    ctx.verdict = known;
    // Renewed ahead of time, so that a steady stream of requests never waits for policy.
    if (deps.decisions.shouldRefresh(key, askedAt)) refreshInBackground(deps, key, question);
  } else {
    try {
      ctx.verdict = await deps.policy.decide(question);
      deps.decisions.remember(key, ctx.verdict, Date.now(), askedAt);
    } catch (err) {
      if (!(err instanceof Unavailable)) throw err;
      // policy away: the last good decision stands for a bounded time. policy that answered with an error
      // (a service it no longer knows: just removed) has no decision to fall back on.
      const last = err.answered ? undefined : deps.decisions.fallback(key);
      if (!last) return unavailable(deps, ctx);
      ctx.verdict = last;
    }
  }
  switch (ctx.verdict.decision) {
    case Decision.ALLOW:
      return false;
    case Decision.LOGIN:
      if (ctx.sessionUnknown) return unavailable(deps, ctx);
      return isBrowserNavigation(ctx.req) ? startLogin(deps, ctx) : refuse(deps, ctx, { code: 'GATEWAY_UNAUTHENTICATED' }, 'missingtoken');
    default:
      return deny(deps, ctx);
  }
};

function refreshInBackground(deps: Pick<PipelineDeps, 'policy' | 'decisions'>, key: string, question: DecideQuestion): void {
  const askedAt = Date.now();
  deps.policy
    .decide(question)
    .then(
      (verdict) => deps.decisions.remember(key, verdict, Date.now(), askedAt),
      // Not heard from: the cached decision ages out as it would have; the request in line then fails closed.
      () => undefined,
    )
    .finally(() => deps.decisions.refreshed(key));
}

/** SPEC §3.6: a browser navigation without a session goes to the IdP, and comes back to the same path. */
async function startLogin(deps: PipelineDeps, ctx: RequestContext): Promise<true> {
  let reply;
  try {
    reply = await deps.authn.startLogin({
      serviceId: ctx.route!.id,
      returnTo: ctx.query ? `${ctx.path}?${ctx.query}` : ctx.path,
      binding: singleCookie(ctx.req.headers.cookie, cookies.loginBinding),
      clientIp: ctx.clientIp,
    });
  } catch (err) {
    // authn away or impaired (Redis away): a fast 503, not an error page that invites retrying the login.
    if (err instanceof Unavailable) return unavailable(deps, ctx);
    if (!(err instanceof MicrosegError)) throw err;
    // Too many login starts from this address: a 429 page that says when to come back, not another redirect.
    if (err.code === 'AUTHN_LOGIN_RATE_LIMITED')
      return refuse(deps, ctx, { code: err.code, message: err.message, headers: { 'retry-after': String(err.retryAfterSeconds || 60) } }, 'missingtoken');
    return refuse(
      deps,
      ctx,
      { code: err.code, message: err.message, details: ['Sign-in is not possible right now. An error event was recorded for the administrator.'] },
      'missingtoken',
    );
  }
  redirect(ctx.res, reply.authorizationUrl, { 'set-cookie': hostCookie(cookies.loginBinding, reply.binding, reply.bindingMaxAgeSeconds) });
  recordFlow(deps, ctx, false, 'missingtoken', 302, undefined);
  return true;
}

/** SPEC §3.4, §3.5, §3.7: a network denial, an endpoint no rule covers, or scopes the user's tags do not satisfy. */
function deny(deps: PipelineDeps, ctx: RequestContext): true {
  const verdict = ctx.verdict!;
  if (verdict.reason === 'network-policy') {
    return refuse(deps, ctx, { code: 'GATEWAY_NETWORK_DENIED', details: [`Your address ${ctx.clientIp} may not reach this application.`] }, 'policy');
  }
  const failureUrl = ctx.route!.redirectUrlOnAuthorizationFailure;
  if (failureUrl && isBrowserNavigation(ctx.req)) {
    redirect(ctx.res, withFailureMessage(failureUrl, 'authorization'));
    recordFlow(deps, ctx, false, 'api', 302, ctx.session?.subject);
    return true;
  }
  const who = ctx.session ? `You are signed in as ${ctx.session.subject}.` : 'You are not signed in.';
  const why =
    verdict.reason === 'no-endpoint'
      ? `No rule of this application allows ${ctx.req.method} ${ctx.path}.`
      : `Your account does not satisfy the access rules for ${ctx.req.method} ${ctx.path}.`;
  return refuse(deps, ctx, { code: 'GATEWAY_FORBIDDEN', details: [who, why, 'If you need access, ask the administrator of this application.'] }, 'api');
}
