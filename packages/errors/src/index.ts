// One registry of error codes. Every error that crosses a service boundary or
// reaches a client carries one of these codes (docs/errors.md lists them, and a
// test keeps the two in step). At an edge the body is `{code, message}`: the
// message is public for 4xx; a 5xx shows the registry's message only, and its
// detail goes to logs and spans. `cause` never leaves the process.

interface ErrorSpec {
  readonly status: number;
  readonly message: string;
}

export const errorCodes = Object.freeze({
  // Requests at the gateway
  GATEWAY_BAD_REQUEST: { status: 400, message: 'The request is malformed or ambiguous.' },
  GATEWAY_UNKNOWN_HOST: { status: 404, message: 'No service is exposed at this host and port.' },
  GATEWAY_UNAUTHENTICATED: { status: 401, message: 'Authentication is required.' },
  GATEWAY_FORBIDDEN: { status: 403, message: 'You are not allowed to access this resource.' },
  GATEWAY_NETWORK_DENIED: { status: 403, message: 'A network policy does not allow connections from your address to this application.' },
  GATEWAY_CROSS_ORIGIN_REQUEST: { status: 403, message: 'This request did not come from a page of this application, so it was not carried out.' },
  GATEWAY_DECISION_UNAVAILABLE: { status: 503, message: 'Authorization is temporarily unavailable; please retry.' },
  GATEWAY_UPSTREAM_UNREACHABLE: { status: 502, message: 'The application could not be reached.' },
  GATEWAY_UPSTREAM_TIMEOUT: { status: 504, message: 'The application did not answer in time.' },
  GATEWAY_FORWARD_AUTH_UNTRUSTED: { status: 403, message: 'This address may not ask for forward-auth decisions.' },
  GATEWAY_WEBSOCKETS_PER_SESSION: { status: 429, message: 'This session has as many WebSockets open as it may; close one and retry.' },
  GATEWAY_WEBSOCKETS_FULL: { status: 503, message: 'The gateway carries as many WebSockets as it may; please retry later.' },
  // Login
  AUTHN_STATE_INVALID: { status: 400, message: 'This login link is unknown, expired or already used. Please start again.' },
  AUTHN_STATE_BINDING: { status: 400, message: 'This login was started in another browser. Please start again.' },
  AUTHN_IDP_ERROR: { status: 401, message: 'The identity provider refused the login.' },
  AUTHN_TOKEN_INVALID: { status: 401, message: 'The identity provider returned a token that failed validation.' },
  AUTHN_DISCOVERY_FAILED: { status: 502, message: 'The identity provider could not be reached or its discovery document is invalid.' },
  AUTHN_SERVICE_UNKNOWN: { status: 404, message: 'No service with OIDC authorization is configured here.' },
  AUTHN_NETWORK_DENIED: { status: 403, message: 'A network policy does not allow this application to reach its identity provider.' },
  AUTHN_IDP_ADDRESS_REFUSED: { status: 403, message: 'The identity provider, or one of its endpoints, is at an address microseg does not connect to.' },
  AUTHN_LOGIN_RATE_LIMITED: { status: 429, message: 'Too many sign-ins were started from your address. Please wait and try again.' },
  AUTHN_SESSION_NOT_FOUND: { status: 401, message: 'The session is unknown or has expired.' },
  // Policy
  POLICY_SERVICE_UNKNOWN: { status: 404, message: 'The service is unknown.' },
  POLICY_VALIDATION_FAILED: { status: 422, message: 'The object is invalid.' },
  POLICY_SECRET_UNREADABLE: {
    status: 503,
    message:
      "Sign-in to this application is unavailable: the enforcer cannot decrypt the application's client secret. An error event tells the administrator how to fix it.",
  },
  // Flows and events (flowlog)
  FLOWLOG_UNAUTHENTICATED: {
    status: 401,
    message: 'A valid API token is required: send Authorization: Bearer <token>, or sign in to the console through the gateway.',
  },
  FLOWLOG_FORBIDDEN: { status: 403, message: 'The token does not cover this namespace.' },
  FLOWLOG_NO_ACCESS: { status: 403, message: 'You are signed in, but no API authorization policy gives you access to the console.' },
  FLOWLOG_AUTH_UNAVAILABLE: { status: 503, message: 'Your token or sign-in cannot be checked right now (the policy service does not answer); please retry.' },
  // Generic: every HTTP API (policy's object API, flowlog's, health) answers with these
  BAD_REQUEST: { status: 400, message: 'The request is invalid.' },
  UNAUTHENTICATED: { status: 401, message: 'A valid API token is required: send Authorization: Bearer <token>.' },
  FORBIDDEN: { status: 403, message: 'The token may not do this here.' },
  NOT_FOUND: { status: 404, message: 'Not found.' },
  CONFLICT: { status: 409, message: 'An object with this name exists already.' },
  PRECONDITION_FAILED: { status: 412, message: 'The object changed since it was read; read it again and retry.' },
  PAYLOAD_TOO_LARGE: { status: 413, message: 'The request body is too large.' },
  RATE_LIMITED: { status: 429, message: 'Too many requests; retry later.' },
  INTERNAL: { status: 500, message: 'Internal error.' },
  UNAVAILABLE: { status: 503, message: 'A service microseg needs does not answer; please retry.' },
} satisfies Record<string, ErrorSpec>);

export type ErrorCode = keyof typeof errorCodes;

export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(errorCodes, code);
}

/** One bad attribute of a request body (422 lists them all). */
export interface AttributeError {
  attribute: string;
  message: string;
}

export interface MicrosegErrorOptions {
  cause?: unknown;
  /** Every bad attribute, for a validation failure: the body's `errors`. */
  errors?: readonly AttributeError[];
  /** Headers of the answer (`WWW-Authenticate`, …). */
  headers?: Readonly<Record<string, string>>;
  /** When the request may be tried again (rate limits): travels over the bus, and becomes `Retry-After`. */
  retryAfterSeconds?: number;
}

/** The JSON body of an error at an edge. */
export interface ErrorBody {
  code: ErrorCode;
  message: string;
  errors?: AttributeError[];
}

/** An error with a registered code. `message` is shown to clients for 4xx; `cause` is for logs only. */
export class MicrosegError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** Whether `message` may be shown to a client: only below 500. */
  readonly expose: boolean;
  readonly errors?: readonly AttributeError[];
  readonly headers?: Readonly<Record<string, string>>;
  readonly retryAfterSeconds?: number;

  constructor(code: ErrorCode, message?: string, options?: MicrosegErrorOptions) {
    super(message ?? errorCodes[code].message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MicrosegError';
    this.code = code;
    this.status = errorCodes[code].status;
    this.expose = this.status < 500;
    if (options?.errors) this.errors = options.errors;
    if (options?.headers || options?.retryAfterSeconds) {
      this.headers = { ...options.headers, ...(options.retryAfterSeconds ? { 'retry-after': String(options.retryAfterSeconds) } : {}) };
    }
    if (options?.retryAfterSeconds) this.retryAfterSeconds = options.retryAfterSeconds;
  }

  /** The JSON body at an edge: `{code, message}` (and `errors`). A 5xx never reveals more than the registry says. */
  toJSON(): ErrorBody {
    return { code: this.code, message: this.expose ? this.message : errorCodes[this.code].message, ...(this.errors ? { errors: [...this.errors] } : {}) };
  }

  /** Between microseg's own services (an authenticated bus): the whole message, for the caller's logs and its own decision. */
  toWire(): { code: ErrorCode; message: string; retryAfterSeconds: number } {
    return { code: this.code, message: this.message, retryAfterSeconds: this.retryAfterSeconds ?? 0 };
  }
}

/** Rebuild an error received over the bus (`{code, message}`), trusting only registered codes. */
export function fromWire(detail: { code: string; message: string; retryAfterSeconds?: number }): MicrosegError {
  const code: ErrorCode = isErrorCode(detail.code) ? detail.code : 'INTERNAL';
  return new MicrosegError(code, detail.message || undefined, detail.retryAfterSeconds ? { retryAfterSeconds: detail.retryAfterSeconds } : undefined);
}

/** Turn anything thrown into a MicrosegError, keeping the original as cause. */
export function toMicrosegError(err: unknown): MicrosegError {
  if (err instanceof MicrosegError) return err;
  return new MicrosegError('INTERNAL', undefined, { cause: err });
}
