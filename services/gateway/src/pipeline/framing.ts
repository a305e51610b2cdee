// SPEC §3.2, first: framing that two parsers could read differently is refused before anything else, since
// parsers that disagree on where a request ends are how requests get smuggled. (Node's own parser already
// refuses duplicate or malformed Content-Length and obfuscated Transfer-Encoding: listeners.ts; for HTTP/2,
// nghttp2 resets a stream with connection-specific headers, a bad `:path` or a body longer than its
// Content-Length: exposed-server.ts.)
import { isHttp2Request } from '../http-exchange.ts';
import type { RequestContext, Stage } from './context.ts';
import { badRequest } from './outcome.ts';

export const rejectAmbiguousFraming: Stage = (deps, ctx) => {
  if (isHttp2Request(ctx.req)) return rejectAmbiguousHttp2(deps, ctx);
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

/** A field value HTTP/2 forbids (RFC 9113 §8.2.1): NUL, CR or LF anywhere, whitespace at either end. */
const MALFORMED_VALUE = /[\0\r\n]|^[ \t]|[ \t]$/;

/**
 * HTTP/2 (RFC 9113 §8.3.1): the authority is `:authority`, or `Host` when there is no `:authority`; a request
 * carrying both must name the same, or the service would be chosen by one and the application read the other.
 * A value with CR or LF, which nghttp2 lets through, would split the request when it is forwarded over HTTP/1.1.
 */
function rejectAmbiguousHttp2(deps: Parameters<Stage>[0], ctx: RequestContext): true | false {
  const raw = ctx.req.rawHeaders;
  let authority: string | undefined;
  let host: string | undefined;
  let hostCount = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    if (MALFORMED_VALUE.test(value)) return badRequest(deps, ctx, `The value of ${name.startsWith(':') ? name : 'a header'} is malformed.`);
    if (name === ':authority') authority = value;
    else if (name === 'host') {
      host = value;
      hostCount++;
    }
  }
  if (hostCount > 1) return badRequest(deps, ctx, 'The Host header is sent more than once.');
  if (authority === undefined && host === undefined) return badRequest(deps, ctx, 'The request names no authority (:authority or Host).');
  if (authority !== undefined && host !== undefined && authority.toLowerCase() !== host.toLowerCase())
    return badRequest(deps, ctx, 'The Host header and :authority name different hosts.');
  return false;
}
