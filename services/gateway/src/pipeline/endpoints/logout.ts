// SPEC §6.4: `/aporeto/oidc/logout`. Only a POST from a page of this very origin logs out; GET (a link, an
// `<img>`, the address bar, from anywhere) shows a page whose button makes that POST, and changes nothing.
import { cookies, paths } from '@microseg/contracts';
import { MicrosegError } from '@microseg/errors';
import { Unavailable } from '../../clients/unavailable.ts';
import type { PipelineDeps, RequestContext } from '../context.ts';
import { hostCookie, singleCookie } from '../cookies.ts';
import { isSameOriginRequest } from '../origin.ts';
import { refuse, unavailable } from '../outcome.ts';
import { redirect } from '../responses.ts';
import { ticketKey } from '../session.ts';

export async function logout(deps: Pick<PipelineDeps, 'authn' | 'sessions' | 'flows'>, ctx: RequestContext): Promise<true> {
  const method = ctx.req.method;
  if (method === 'GET' || method === 'HEAD') {
    confirmLogoutPage(ctx);
    return true;
  }
  if (method !== 'POST') return refuse(deps, ctx, { code: 'GATEWAY_BAD_REQUEST', message: 'Log out with POST from a page of this application.' }, 'invalid');
  if (!isSameOriginRequest(ctx.req.headers, ctx.host!)) {
    return refuse(
      deps,
      ctx,
      { code: 'GATEWAY_CROSS_ORIGIN_REQUEST', details: ['You are still signed in.', `To sign out, open ${paths.logout} on this site and confirm.`] },
      'invalid',
    );
  }
  const ticket = singleCookie(ctx.req.headers.cookie, cookies.session);
  let redirectUrl = '/';
  try {
    const reply = await deps.authn.logout({ serviceId: ctx.route!.id, ticket, clientIp: ctx.clientIp });
    if (reply.redirectUrl) redirectUrl = reply.redirectUrl;
  } catch (err) {
    // The session may still be live: say so (503, the cookie kept) rather than pretend the user is signed out.
    if (err instanceof Unavailable) return unavailable(deps, ctx);
    // authn refused (an unknown session, a service without OIDC): the cookie goes all the same, back to `/`.
    if (!(err instanceof MicrosegError)) throw err;
  }
  if (ticket) deps.sessions.invalidateCredential(ticketKey(ctx.route!, ticket));
  // The cookie goes in any case; the session is gone from Redis and every gateway.
  redirect(ctx.res, redirectUrl, { 'set-cookie': [hostCookie(cookies.session, '', 0), hostCookie(cookies.loginBinding, '', 0)] });
  return true;
}

const CONFIRM_PAGE = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign out</title>
<style>body{font-family:system-ui,sans-serif;max-width:30rem;margin:4rem auto;padding:0 1rem}button{padding:.5rem 1.2rem;font-size:1rem}</style></head>
<body><h1>Sign out?</h1><form method="post" action="${paths.logout}"><button type="submit">Sign out</button></form></body></html>`;

function confirmLogoutPage(ctx: RequestContext): void {
  ctx.res.writeHead(200, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    // No form-action: Chrome applies it to the redirect that follows (to the IdP's end_session_endpoint).
    'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
  });
  ctx.res.end(ctx.req.method === 'HEAD' ? undefined : CONFIRM_PAGE);
}
