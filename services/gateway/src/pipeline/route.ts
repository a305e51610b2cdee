// SPEC §3.1: the service is chosen by the listener's port and the exact Host (HTTP/2's `:authority`); none there
// is a 404 and nothing reaches any application.
import { requestAuthority } from '../http-exchange.ts';
import { hostnameOf } from '../state.ts';
import type { Stage } from './context.ts';
import { refuse } from './outcome.ts';

export const findService: Stage = (deps, ctx) => {
  const authority = requestAuthority(ctx.req);
  const host = hostnameOf(authority);
  const route = host ? deps.state().find(ctx.port, host) : undefined;
  if (!route) return refuse(deps, ctx, { code: 'GATEWAY_UNKNOWN_HOST' }, 'unknownhost');
  ctx.route = route;
  ctx.host = authority!;
  return false;
};
