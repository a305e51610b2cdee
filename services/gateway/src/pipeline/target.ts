// SPEC §3.2: the request target through the one normaliser (`@microseg/paths`, which policy uses for endpoint
// patterns too). The path that is matched is the path that is forwarded; anything ambiguous is a 400.
import { parseRequestTarget } from '@microseg/paths';
import type { Stage } from './context.ts';
import { badRequest } from './outcome.ts';

export const normaliseTarget: Stage = (deps, ctx) => {
  const target = parseRequestTarget(ctx.req.url ?? '');
  if (!target.ok) return badRequest(deps, ctx, `The request target is ambiguous: ${target.reason}.`);
  ctx.path = target.path;
  ctx.query = target.query;
  return false;
};
