// The identity assertion a gateway sends with every request it forwards for a user (SPEC §8.4), checked the way
// an application must: a compact JWS signed with ES256 by a key of microseg's key set (the one its `kid` names,
// never a key the token carries or points to), `typ` JWT, `iss` microseg's issuer, `aud` the console's service
// exactly, `exp` not passed, and the claims the gateway always sets. Anything else is "invalid", and the caller
// falls back to the API token; "unavailable" (the keys cannot be had) is not "invalid".
import { errors as joseErrors, jwtVerify, type JWTHeaderParameters } from 'jose';
import type { AssertionKeySource } from './assertion-keys.ts';

export interface AssertedUser {
  /** `sub`: the user at the provider. */
  subject: string;
  email?: string;
  /** The user's tags as rules see them (`email=alice@example.com`, `groups=sre`). */
  tags: string[];
  /** `exp`, in ms: the assertion says nothing after that. */
  expiresAtMs: number;
}

export type AssertionCheck = { ok: true; user: AssertedUser } | { ok: false; reason: string };

/** The gateway signs for 10 s to an hour (POLICY_ASSERTION_TTL_SECONDS); a token that claims longer is not one of its. */
const MAX_AGE_SECONDS = 3_600;
/** Clocks of the gateway and flowlog may differ a little. */
const CLOCK_TOLERANCE_SECONDS = 5;
/** A gateway's assertion is well under this (a user with very many tags included). */
const MAX_LENGTH = 64 * 1024;
const MAX_TAGS = 1_000;

class KeysUnavailable extends Error {}

export class AssertionVerifier {
  readonly #keys: Pick<AssertionKeySource, 'key'>;
  readonly #audience: string;
  readonly #now: () => number;

  constructor(keys: Pick<AssertionKeySource, 'key'>, audience: string, now: () => number = Date.now) {
    this.#keys = keys;
    this.#audience = audience;
    this.#now = now;
  }

  /** The user an assertion vouches for, or why not. Throws (not "invalid") when the keys cannot be had. */
  async verify(token: string): Promise<AssertionCheck> {
    if (token.length > MAX_LENGTH) return { ok: false, reason: 'too long' };
    let issuer = '';
    const keyFor = async (header: JWTHeaderParameters) => {
      if (header.alg !== 'ES256' || typeof header.kid !== 'string') throw new joseErrors.JOSEAlgNotAllowed('not ES256 with a kid');
      let found;
      try {
        found = await this.#keys.key(header.kid);
      } catch (err) {
        throw new KeysUnavailable('the assertion keys cannot be had', { cause: err });
      }
      issuer = found.issuer;
      if (!found.key) throw new joseErrors.JWKSNoMatchingKey();
      return found.key;
    };
    try {
      const { payload } = await jwtVerify(token, keyFor, {
        algorithms: ['ES256'],
        typ: 'JWT',
        audience: this.#audience,
        requiredClaims: ['iss', 'sub', 'iat', 'exp', 'jti'],
        maxTokenAge: MAX_AGE_SECONDS,
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        currentDate: new Date(this.#now()),
      });
      // The issuer is the one policy names with the keys (checked here: it is known only once a key was looked up).
      if (payload.iss !== issuer) return { ok: false, reason: 'unexpected "iss" claim value' };
      if (typeof payload.aud !== 'string') return { ok: false, reason: '"aud" must be the console alone' };
      const { tags, email } = payload as { tags?: unknown; email?: unknown };
      if (!Array.isArray(tags) || tags.length > MAX_TAGS || !tags.every((t) => typeof t === 'string'))
        return { ok: false, reason: '"tags" is not a list of tags' };
      if (email !== undefined && typeof email !== 'string') return { ok: false, reason: '"email" is not a string' };
      return {
        ok: true,
        user: { subject: payload.sub!, ...(email ? { email } : {}), tags, expiresAtMs: payload.exp! * 1000 },
      };
    } catch (err) {
      if (err instanceof KeysUnavailable) throw err.cause;
      return { ok: false, reason: err instanceof Error ? `${err.name}: ${err.message}` : String(err) };
    }
  }
}
