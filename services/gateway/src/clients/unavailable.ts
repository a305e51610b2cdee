// What a request to authn or policy can end in, as the pipeline's stages see it: the answer; `Unavailable`
// (nothing usable came back — nobody answered, too late, a garbled reply — or the service answered that it
// failed itself, a 5xx), which every stage meets with one 503 that fails closed; or the service's refusal,
// the remote MicrosegError below 500, which the stage shows. A bus failure is wrapped once, here, keeping
// the cause; the stages never see a BusRequestError.
import { BusRequestError } from '@microseg/bus';
import { MicrosegError, type ErrorCode } from '@microseg/errors';

export type ServiceName = 'authn' | 'policy';

export class Unavailable extends Error {
  readonly service: ServiceName;
  /**
   * The service answered, with an error: it is there, but gave no answer to this question (policy that no
   * longer knows a service it was just told to remove). False when nothing usable came back at all.
   */
  readonly answered: boolean;

  constructor(service: ServiceName, answered: boolean, cause: unknown) {
    super(`${service} is unavailable: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'Unavailable';
    this.service = service;
    this.answered = answered;
  }
}

/**
 * 5xx answers that are answers all the same: they name a failure beyond the service asked that the user and
 * the administrator must be told of (the IdP cannot be reached; the application's client secret cannot be
 * decrypted), so the page says what failed rather than "retry".
 */
const NAMED_FAILURES: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['AUTHN_DISCOVERY_FAILED', 'POLICY_SECRET_UNREADABLE']);

/**
 * For a question whose every failed answer means "cannot tell" (is this credential valid, what is the
 * decision): Unavailable, whatever the service answered. Anything else thrown (a bug) is returned as it is.
 */
export function cannotTell(service: ServiceName, err: unknown): unknown {
  if (err instanceof BusRequestError) return new Unavailable(service, false, err);
  if (err instanceof MicrosegError) return new Unavailable(service, true, err);
  return err;
}

/** For a request the service may refuse (a login, a logout): its refusal as it is; no answer, or its own failure (5xx), is Unavailable. */
export function refusalOrUnavailable(service: ServiceName, err: unknown): unknown {
  if (err instanceof MicrosegError && (err.status < 500 || NAMED_FAILURES.has(err.code))) return err;
  return cannotTell(service, err);
}
