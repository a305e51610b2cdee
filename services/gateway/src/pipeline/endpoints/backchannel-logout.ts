// SPEC §6.5, OIDC Back-Channel Logout 1.0: the IdP POSTs a `logout_token` (form-encoded) to
// `/aporeto/oidc/backchannel-logout`; authn checks it and ends the sessions it names.
import type { Readable } from 'node:stream';
import { MicrosegError } from '@microseg/errors';
import { Unavailable } from '../../clients/unavailable.ts';
import type { PipelineDeps, RequestContext } from '../context.ts';
import { refuse, unavailable } from '../outcome.ts';

/** A logout token is a JWT of a few hundred bytes; this bounds what the gateway reads into memory. */
export const MAX_LOGOUT_BODY = 16 * 1024;

export async function backchannelLogout(deps: Pick<PipelineDeps, 'authn' | 'flows'>, ctx: RequestContext): Promise<true> {
  if (ctx.req.method !== 'POST') return refuse(deps, ctx, { code: 'GATEWAY_BAD_REQUEST', message: 'POST a logout_token.' }, 'invalid');
  let body: string;
  try {
    body = await readSmallBody(ctx.req, MAX_LOGOUT_BODY);
  } catch {
    return refuse(deps, ctx, { code: 'GATEWAY_BAD_REQUEST', message: 'The logout request is too large.' }, 'invalid');
  }
  const logoutToken = new URLSearchParams(body).get('logout_token') ?? '';
  try {
    await deps.authn.backchannelLogout(ctx.route!.id, logoutToken);
  } catch (err) {
    if (err instanceof Unavailable) return unavailable(deps, ctx);
    if (!(err instanceof MicrosegError)) throw err;
    // §2.8: 400 with an OAuth error body (a refusal's message is public: it is below 500).
    ctx.res.writeHead(400, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    ctx.res.end(JSON.stringify({ error: 'invalid_request', error_description: err.message }));
    return true;
  }
  ctx.res.writeHead(200, { 'cache-control': 'no-store' });
  ctx.res.end();
  return true;
}

function readSmallBody(req: Readable, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new Error('too large'));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
