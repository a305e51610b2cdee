// The one error handler of every HTTP surface (policy's object API, flowlog's API, the health ports):
// whatever is thrown becomes a MicrosegError and its `{code, message}` body (`errors` for a validation
// failure), with its headers. A 5xx body says what the registry says; its detail goes to the log.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { MicrosegError, toMicrosegError } from '@microseg/errors';

/** fastify's own errors (a body too large, one that does not parse) and anything else thrown, as a MicrosegError. */
export function asMicrosegError(err: unknown): MicrosegError {
  if (err instanceof MicrosegError) return err;
  const status = (err as FastifyError | undefined)?.statusCode;
  if (status === 413) return new MicrosegError('PAYLOAD_TOO_LARGE', undefined, { cause: err });
  if (status && status >= 400 && status < 500) return new MicrosegError('BAD_REQUEST', (err as Error).message, { cause: err });
  return toMicrosegError(err);
}

export function sendMicrosegError(reply: FastifyReply, error: MicrosegError): FastifyReply {
  return reply
    .code(error.status)
    .headers(error.headers ?? {})
    .send(error.toJSON());
}

/** Install the shared error and not-found handlers on `app` (or an encapsulated plugin scope). */
export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: unknown, req: FastifyRequest, reply: FastifyReply) => {
    const error = asMicrosegError(err);
    if (error.status >= 500) req.log.error({ err: error.cause ?? err, code: error.code }, 'request failed');
    return sendMicrosegError(reply, error);
  });
  app.setNotFoundHandler((req, reply) => sendMicrosegError(reply, new MicrosegError('NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`)));
}
