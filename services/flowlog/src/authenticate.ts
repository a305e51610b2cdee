// Who is calling the API (SPEC §9.5, §9.6). First the identity assertion the gateway sends when the console is
// reached through it (`X-Microseg-Jwt-Assertion`, verified: signature, issuer, the console's audience,
// expiry): the user's roles come from the policy service. An assertion that does not verify — forged, expired,
// another service's, sent straight to flowlog's port — counts as none, and the API token decides
// (`Authorization: Bearer`). Nothing else is ever believed: no plain header names a user.
import type { IncomingHttpHeaders } from 'node:http';
import { BusRequestError } from '@microseg/bus';
import { headers as own } from '@microseg/contracts';
import { MicrosegError } from '@microseg/errors';
import type { AssertionVerifier } from './assertion.ts';
import { bearerOf, type TokenVerifier } from './auth.ts';
import type { ConsoleRoles } from './console-roles.ts';
import { ssoViewer, type Viewer } from './viewer.ts';

export interface Caller {
  viewer: Viewer;
  /** Who the caller is now: undefined once its token is revoked or its last grant removed; throws when policy cannot say. */
  recheck(): Promise<Viewer | undefined>;
  /** Signed in through the gateway: when the assertion expires (ms). A live stream ends then, and the page reconnects. */
  endsAtMs?: number;
}

export interface SingleSignOn {
  assertions: Pick<AssertionVerifier, 'verify'>;
  roles: Pick<ConsoleRoles, 'grants'>;
}

export interface AuthenticateDeps {
  verifier: Pick<TokenVerifier, 'verify'>;
  /** Absent: no single sign-on (FLOWLOG_CONSOLE_AUDIENCE empty); an assertion is then ignored. */
  sso?: SingleSignOn;
}

interface Log {
  warn(fields: object, message: string): void;
}

const unavailable = (log: Log, err: unknown, what: string) => {
  log.warn({ err: err instanceof BusRequestError ? err.kind : String(err) }, `${what} unavailable`);
  return new MicrosegError('FLOWLOG_AUTH_UNAVAILABLE');
};

export async function authenticate(deps: AuthenticateDeps, headers: IncomingHttpHeaders, log: Log): Promise<Caller> {
  let assertionUnchecked = false;
  const assertion = headers[own.assertion];
  if (deps.sso && typeof assertion === 'string' && assertion !== '') {
    try {
      const check = await deps.sso.assertions.verify(assertion);
      if (check.ok) return await signedIn(deps.sso, check.user, log);
      log.warn({ reason: check.reason }, 'identity assertion refused; the API token decides');
    } catch (err) {
      if (err instanceof MicrosegError) throw err;
      // The keys cannot be had: not "invalid". A token may still decide; without one, 503 rather than 401.
      log.warn({ err: err instanceof BusRequestError ? err.kind : String(err) }, 'identity assertion keys unavailable');
      assertionUnchecked = true;
    }
  }
  const token = bearerOf(headers.authorization);
  if (!token) throw new MicrosegError(assertionUnchecked ? 'FLOWLOG_AUTH_UNAVAILABLE' : 'FLOWLOG_UNAUTHENTICATED');
  let viewer: Viewer | undefined;
  try {
    viewer = await deps.verifier.verify(token);
  } catch (err) {
    throw unavailable(log, err, 'token verification');
  }
  if (!viewer) throw new MicrosegError('FLOWLOG_UNAUTHENTICATED', 'The token is unknown, revoked or malformed.');
  return { viewer, recheck: () => deps.verifier.verify(token) };
}

async function signedIn(sso: SingleSignOn, user: { subject: string; email?: string; tags: string[]; expiresAtMs: number }, log: Log): Promise<Caller> {
  const name = user.email ?? user.subject;
  const viewerNow = async () => ssoViewer(name, await sso.roles.grants(user.tags));
  let viewer: Viewer | undefined;
  try {
    viewer = await viewerNow();
  } catch (err) {
    throw unavailable(log, err, 'console roles');
  }
  if (!viewer) {
    throw new MicrosegError(
      'FLOWLOG_NO_ACCESS',
      `You are signed in as ${name}, but no API authorization policy gives you access to the console. Ask an editor of your namespace for one (an apiauthorizationpolicy whose subject matches you).`,
    );
  }
  return { viewer, recheck: viewerNow, endsAtMs: user.expiresAtMs };
}
