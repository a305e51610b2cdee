// The gateway's client of authn: one method per request the pipeline makes, each bounded in time. What a
// failure becomes is decided here once (unavailable.ts), so that a stage has one "unavailable" path.
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { Bus } from '@microseg/bus';
import { requests } from '@microseg/contracts';
import type {
  BearerVerifyResponse,
  LoginCallbackRequestSchema,
  LoginCallbackResponse,
  LoginStartRequestSchema,
  LoginStartResponse,
  LogoutRequestSchema,
  LogoutResponse,
  SessionLookupResponse,
} from '@microseg/proto/authn';
import { cannotTell, refusalOrUnavailable } from './unavailable.ts';

export interface AuthnClient {
  /** The session a ticket stands for (`found: false`: none). authn unable to tell (an error: Redis away) is Unavailable, never "no session". */
  lookupSession(serviceId: string, ticket: string, includeAccessToken?: boolean): Promise<SessionLookupResponse>;
  /** Whether a bearer token is good for the service (`valid: false`: it is not). A check authn cannot make (it cannot read revocations) is Unavailable, never "invalid". */
  verifyBearer(serviceId: string, token: string): Promise<BearerVerifyResponse>;
  /** Where to send a browser to sign in; a refusal (too many starts, an IdP that cannot be used) is the remote MicrosegError. */
  startLogin(request: MessageInitShape<typeof LoginStartRequestSchema>): Promise<LoginStartResponse>;
  /** The callback's code exchange: the new session's ticket; a refusal (state, binding, token) is the remote MicrosegError. */
  completeLogin(request: MessageInitShape<typeof LoginCallbackRequestSchema>): Promise<LoginCallbackResponse>;
  /** Ends the ticket's session; where the browser goes next. */
  logout(request: MessageInitShape<typeof LogoutRequestSchema>): Promise<LogoutResponse>;
  /** Ends the sessions an IdP's logout token names; a bad token is the remote MicrosegError. */
  backchannelLogout(serviceId: string, logoutToken: string): Promise<void>;
}

/** The part of the bus a client needs (a fake in tests). */
export type BusRequester = Pick<Bus, 'request'>;

const cannotTellAuthn = (err: unknown): never => {
  throw cannotTell('authn', err);
};
const refusalOrUnavailableAuthn = (err: unknown): never => {
  throw refusalOrUnavailable('authn', err);
};

/** `timeoutMs` bounds a lookup; a login may talk to the IdP (discovery, the code exchange) and a logout to Redis more than once, so they get more. */
export function busAuthnClient(bus: BusRequester, timeoutMs: number): AuthnClient {
  return {
    lookupSession: (serviceId, ticket, includeAccessToken = false) =>
      bus.request(requests.authnSessionLookup, { serviceId, ticket, includeAccessToken }, timeoutMs).catch(cannotTellAuthn),
    verifyBearer: (serviceId, token) => bus.request(requests.authnBearerVerify, { serviceId, token }, timeoutMs).catch(cannotTellAuthn),
    startLogin: (request) => bus.request(requests.authnLoginStart, request, timeoutMs * 20).catch(refusalOrUnavailableAuthn),
    completeLogin: (request) => bus.request(requests.authnLoginCallback, request, timeoutMs * 20).catch(refusalOrUnavailableAuthn),
    logout: (request) => bus.request(requests.authnLogout, request, timeoutMs * 5).catch(refusalOrUnavailableAuthn),
    backchannelLogout: (serviceId, logoutToken) =>
      bus.request(requests.authnBackchannelLogout, { serviceId, logoutToken }, timeoutMs * 5).then(() => undefined, refusalOrUnavailableAuthn),
  };
}
