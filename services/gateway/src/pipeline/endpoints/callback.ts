// SPEC §4.3: `GET /aporeto/oidc/callback` completes a login — authn exchanges the code (bound to this browser
// by the login cookie), and the browser gets its session cookie and goes back to where it started.
import { cookies } from '@microseg/contracts';
import { MicrosegError } from '@microseg/errors';
import { Unavailable } from '../../clients/unavailable.ts';
import type { PipelineDeps, RequestContext } from '../context.ts';
import { hostCookie, singleCookie } from '../cookies.ts';
import { recordFlow, refuse, unavailable } from '../outcome.ts';
import { redirect } from '../responses.ts';

export async function completeLogin(deps: Pick<PipelineDeps, 'authn' | 'flows'>, ctx: RequestContext): Promise<true> {
  if (ctx.req.method !== 'GET') return refuse(deps, ctx, { code: 'GATEWAY_BAD_REQUEST', details: ['The login callback accepts GET only.'] }, 'invalid');
  let reply;
  try {
    reply = await deps.authn.completeLogin({
      serviceId: ctx.route!.id,
      query: ctx.query,
      binding: singleCookie(ctx.req.headers.cookie, cookies.loginBinding),
      clientIp: ctx.clientIp,
      requestId: ctx.requestId,
    });
  } catch (err) {
    if (err instanceof Unavailable) return unavailable(deps, ctx);
    if (!(err instanceof MicrosegError)) throw err;
    return refuse(
      deps,
      ctx,
      { code: err.code, message: err.message, details: ['No session was created. Open the application again to start a new login.'] },
      'token',
    );
  }
  redirect(ctx.res, localPath(reply.returnTo), { 'set-cookie': hostCookie(cookies.session, reply.ticket, reply.maxAgeSeconds) });
  recordFlow(deps, ctx, true, '', 302, reply.subject);
  return true;
}

/** Back to a path of this very origin only (`//host` is another origin): anything else goes to `/`. */
export const localPath = (returnTo: string): string => (returnTo.startsWith('/') && !returnTo.startsWith('//') ? returnTo : '/');
