// How a request ends, recorded once: the flow event (SPEC §9.1) and what the span and access log say; and
// the refusals every stage shares.
import type { DropReason } from '../flows.ts';
import type { PipelineDeps, RequestContext } from './context.ts';
import { sendError, type ErrorReply } from './responses.ts';

/** The request's one decision event; `user` as the flow should show it (not always the session's). */
export function recordFlow(
  deps: Pick<PipelineDeps, 'flows'>,
  ctx: RequestContext,
  accepted: boolean,
  dropReason: DropReason,
  statusCode: number,
  user: string | undefined,
): void {
  const verdict = ctx.verdict;
  ctx.outcome = { accepted, dropReason, policyId: verdict?.policyId ?? '' };
  deps.flows.record({
    route: ctx.route,
    clientIp: ctx.clientIp,
    method: ctx.req.method ?? '',
    path: ctx.path,
    accepted,
    dropReason,
    policyId: verdict?.policyId,
    policyName: verdict?.policyName,
    user,
    statusCode,
    requestId: ctx.requestId,
    port: ctx.port,
    byDefault: verdict?.byDefault ?? false,
  });
}

/** Answer with an error page or JSON, and record the rejected flow. */
export function refuse(deps: Pick<PipelineDeps, 'flows'>, ctx: RequestContext, reply: ErrorReply, dropReason: DropReason): true {
  sendError(ctx.req, ctx.res, ctx.requestId, reply);
  recordFlow(deps, ctx, false, dropReason, ctx.res.statusCode, ctx.session?.subject);
  return true;
}

const UNAVAILABLE: ErrorReply = { code: 'GATEWAY_DECISION_UNAVAILABLE', headers: { 'retry-after': '1' } };

/** The one answer when authn or policy cannot answer: 503, fail closed. */
export const unavailable = (deps: Pick<PipelineDeps, 'flows'>, ctx: RequestContext): true => refuse(deps, ctx, UNAVAILABLE, 'unavailable');

export const badRequest = (deps: Pick<PipelineDeps, 'flows'>, ctx: RequestContext, message: string): true =>
  refuse(deps, ctx, { code: 'GATEWAY_BAD_REQUEST', message }, 'invalid');
