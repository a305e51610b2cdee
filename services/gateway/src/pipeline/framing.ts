// SPEC §3.2, first: framing that two parsers could read differently is refused before anything else, since
// parsers that disagree on where a request ends are how requests get smuggled. (Node's own parser already
// refuses duplicate or malformed Content-Length and obfuscated Transfer-Encoding: listeners.ts.)
import type { Stage } from './context.ts';
import { badRequest } from './outcome.ts';

export const rejectAmbiguousFraming: Stage = (deps, ctx) => {
  // Node's parser takes `GET /` (HTTP/0.9, which has no headers) with headers after it, and `HTTP/2.0` on an
  // HTTP/1 connection.
  if (ctx.req.httpVersion !== '1.1' && ctx.req.httpVersion !== '1.0') {
    ctx.res.setHeader('connection', 'close');
    return badRequest(deps, ctx, `HTTP/${ctx.req.httpVersion} is not served here; send HTTP/1.1.`);
  }
  const raw = ctx.req.rawHeaders;
  let hostCount = 0;
  let hasContentLength = false;
  let hasTransferEncoding = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (name === 'host') hostCount++;
    else if (name === 'content-length') hasContentLength = true;
    else if (name === 'transfer-encoding') hasTransferEncoding = true;
  }
  if (hostCount !== 1) return badRequest(deps, ctx, hostCount === 0 ? 'The Host header is missing.' : 'The Host header is sent more than once.');
  if (hasContentLength && hasTransferEncoding) return badRequest(deps, ctx, 'Content-Length and Transfer-Encoding are both present.');
  return false;
};
