// The signed identity assertion (SPEC §8.4): on every request forwarded with a user, a short-lived JWT that
// says who the user is, for which service, signed with a key published on every service host. Signing is on
// the hot path, so an assertion is kept per session lookup (the object the session cache hands out, which
// dies with its entry — a refresh, a logout, a revocation or a changed set of tags makes a new one) and
// reused until shortly before it expires, or until another key signs.
import type { ServiceRoute } from '@microseg/proto/policy';
import type { Session } from '../pipeline/context.ts';
import { AssertionKeySet } from './key-set.ts';
import { audienceOf, newJti, signAssertion } from './sign.ts';

export { AssertionKeySet } from './key-set.ts';
export { audienceOf } from './sign.ts';

interface Cached {
  serviceId: string;
  generation: number;
  kid: string;
  token: string;
  /** Reused until then (ms). */
  reuseUntilMs: number;
}

export class Assertions {
  readonly keys: AssertionKeySet;
  readonly #cache = new WeakMap<Session, Cached>();
  readonly #now: () => number;

  constructor(keys: AssertionKeySet, now: () => number = Date.now) {
    this.keys = keys;
    this.#now = now;
  }

  /**
   * The assertion for `session` at `route`: the one made before while it may still be used, else a new one.
   * undefined without a session (anonymous requests carry none) or without a key that can sign.
   */
  for(route: Pick<ServiceRoute, 'id' | 'namespace' | 'name'>, session: Session | undefined): string | undefined {
    if (!session) return undefined;
    const now = this.#now();
    const signer = this.keys.signer(now);
    if (!signer) return undefined;
    const generation = this.keys.generation;
    const cached = this.#cache.get(session);
    if (cached && cached.serviceId === route.id && cached.generation === generation && cached.kid === signer.kid && now < cached.reuseUntilMs) {
      return cached.token;
    }
    const ttl = this.keys.ttlSeconds;
    const iat = Math.floor(now / 1000);
    const email = valueOf(session.tags, 'email');
    const token = signAssertion(signer, {
      iss: this.keys.issuer,
      aud: audienceOf(route),
      sub: valueOf(session.tags, 'sub') ?? session.subject,
      ...(email === undefined ? {} : { email }),
      tags: session.tags,
      iat,
      exp: iat + ttl,
      jti: newJti(),
    });
    // Left to the application when it arrives: at least a quarter of its life, and 15 s when it lives 60 s or more.
    const margin = Math.min(Math.max(15_000, (ttl * 1000) / 4), (ttl * 1000) / 2);
    this.#cache.set(session, { serviceId: route.id, generation, kid: signer.kid, token, reuseUntilMs: (iat + ttl) * 1000 - margin });
    return token;
  }
}

/** The value of the first `key=value` tag. */
function valueOf(tags: readonly string[], key: string): string | undefined {
  const prefix = `${key}=`;
  return tags.find((t) => t.startsWith(prefix))?.slice(prefix.length);
}

/**
 * The assertion for a request the gateway decided to let through (its route and session), for any stage or
 * endpoint that hands a request to an application — forwarding, and whoever else answers for one.
 */
export function assertionFor(
  deps: { assertions: Pick<Assertions, 'for'> },
  ctx: { route: Pick<ServiceRoute, 'id' | 'namespace' | 'name'> | undefined; session: Session | undefined },
): string | undefined {
  return ctx.route ? deps.assertions.for(ctx.route, ctx.session) : undefined;
}
